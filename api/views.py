import logging
from typing import Any

from cross_web import HTTPException, SyncHTTPRequestAdapter
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from strawberry.django.views import GraphQLView as BaseGraphQLView
from strawberry.http import GraphQLRequestData

from api import persisted
from api.context import Context
from api.errors import (
    DATABASE_UNAVAILABLE,
    DATABASE_UNAVAILABLE_ERRORS,
    DATABASE_UNAVAILABLE_MESSAGE,
    RETRY_AFTER_SECONDS,
)
from reservation.errors import ErrorCode

logger = logging.getLogger("api.errors")


def error_response(code: str, message: str, status: int, **headers: str) -> JsonResponse:
    """A refusal before execution, in the shape of a GraphQL error response."""
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JsonResponse(body, status=status, headers=headers or None)


def database_unavailable_response() -> JsonResponse:
    """503 that a client retries after Retry-After seconds: the database could not be reached
    before execution (or outside it), so nothing was done."""
    return error_response(
        DATABASE_UNAVAILABLE,
        DATABASE_UNAVAILABLE_MESSAGE,
        503,
        **{"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class GraphQLView(BaseGraphQLView):
    """The sync view (fastest under gunicorn's sync workers), with who-is-asking in context."""

    def get_context(self, request: HttpRequest, response: HttpResponse) -> Context:
        return Context(request=request, response=response, actor=request.actor)

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            # Read (and size-check) the body first: Django refuses one over
            # DATA_UPLOAD_MAX_MEMORY_SIZE from its Content-Length, before reading it.
            request.body  # noqa: B018
        except RequestDataTooBig:
            return error_response(
                "REQUEST_TOO_LARGE",
                f"The request body is larger than {settings.GRAPHQL_MAX_BODY_BYTES} bytes.",
                413,
            )
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
        try:
            return super().dispatch(request, *args, **kwargs)
        except persisted.PersistedQueryError as exc:
            return error_response(exc.code, str(exc), exc.status)
        except DATABASE_UNAVAILABLE_ERRORS as exc:  # outside execution: persisted-query lookup
            logger.warning("database unavailable: %r", exc)
            return database_unavailable_response()

    def parse_http_body(
        self, request: SyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Fill in (or check) persisted operations: see api.persisted."""
        data = super().parse_http_body(request)
        if isinstance(data, list):  # batching is off: the parent refuses lists already
            raise HTTPException(400, "Batched requests are not supported.")
        raw: dict[str, Any] | None = None
        if data.query is None and not (data.extensions or {}).get("persistedQuery"):
            # A top-level `documentId` is not kept by the parent's parsing.
            raw = (
                dict(request.query_params)
                if request.method == "GET"
                else self.parse_json(request.body)
            )
        return persisted.resolve(data, raw if isinstance(raw, dict) else None)

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
    if request.path.startswith("/book/"):  # the booking pages (issue 11)
        context = {"title": "Please try again", "zone": "UTC", "notices": []}
        return render(request, "pages/booking/csrf_failed.html", context, status=403)
    error = {"message": CSRF_HELP, "extensions": {"code": "CSRF_FAILED", "reason": reason}}
    return JsonResponse({"errors": [error]}, status=403)
