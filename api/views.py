from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from strawberry.django.views import GraphQLView as BaseGraphQLView

from api.context import Context
from reservation.errors import ErrorCode


class GraphQLView(BaseGraphQLView):
    """The sync view (fastest under gunicorn's sync workers), with who-is-asking in context."""

    def get_context(self, request: HttpRequest, response: HttpResponse) -> Context:
        return Context(request=request, response=response, actor=request.actor)

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if getattr(request, "bearer_invalid", False):
            return JsonResponse(
                {
                    "errors": [
                        {
                            "message": "The Bearer token is unknown, revoked or expired.",
                            "extensions": {"code": ErrorCode.UNAUTHENTICATED.value},
                        }
                    ]
                },
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return super().dispatch(request, *args, **kwargs)


def graphql_view():
    from api.schema import schema

    return GraphQLView.as_view(
        schema=schema,
        graphql_ide="graphiql" if settings.GRAPHIQL_ENABLED else None,
    )
