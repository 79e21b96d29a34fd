from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
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

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        """GraphiQL sends the `csrftoken` cookie back as X-CSRFToken; set that cookie here, or
        nothing would and every mutation from GraphiQL (login first) would fail with 403."""
        get_token(request)
        return super().render_graphql_ide(request)


def graphql_view():
    from api.schema import schema

    return GraphQLView.as_view(
        schema=schema,
        graphql_ide="graphiql" if settings.GRAPHIQL_ENABLED else None,
    )


CSRF_HELP = (
    "CSRF check failed: a cookie-authenticated POST needs the csrftoken cookie echoed in the "
    "X-CSRFToken header. API clients send `Authorization: Bearer <token>` instead (no CSRF "
    "check), or use GET for queries."
)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF rejections in the API's own shape (JSON with a code), not Django's HTML page; the
    event-link pages, for people in a browser, get a page saying nothing was changed."""
    if request.path.startswith("/e/"):
        return render(request, "pages/csrf_failed.html", status=403)
    error = {"message": CSRF_HELP, "extensions": {"code": "CSRF_FAILED", "reason": reason}}
    return JsonResponse({"errors": [error]}, status=403)
