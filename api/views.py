"""The /graphql endpoint: GraphQL over HTTP as the GraphQL-over-HTTP specification says.

- POST with `Content-Type: application/json` (a JSON object: query, variables,
  operationName, extensions), or GET with those as query parameters (queries only: a
  mutation over GET answers 405 with `Allow: POST`).
- The response's media type follows `Accept`: `application/graphql-response+json` when the
  client lists it (then a request that never reached execution answers 4xx and has no
  `data`), else `application/json` (every well-formed request answers 200, as before).
- Every refusal of the transport is a GraphQL error response with a stable
  `extensions.code` (TRANSPORT_CODES), never a plain-text or HTML page.
- Batching (a JSON array of operations) is refused with BATCHING_NOT_SUPPORTED.
"""

import json
import logging
from typing import Any

from cross_web import HTTPException, SyncHTTPRequestAdapter
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import parse_header_parameters
from strawberry.django.views import GraphQLView as BaseGraphQLView
from strawberry.django.views import TemporalHttpResponse
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult

from api import persisted
from api.context import Context
from api.errors import (
    DATABASE_UNAVAILABLE,
    DATABASE_UNAVAILABLE_ERRORS,
    DATABASE_UNAVAILABLE_MESSAGE,
    RETRY_AFTER_SECONDS,
)
from api.graphiql import render_graphiql
from reservation.errors import ErrorCode

logger = logging.getLogger("api.errors")

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"

# The codes of refusals made before a document is even looked at.
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
INVALID_JSON = "INVALID_JSON"
INVALID_REQUEST = "INVALID_REQUEST"
BATCHING_NOT_SUPPORTED = "BATCHING_NOT_SUPPORTED"
MISSING_QUERY = "MISSING_QUERY"
OPERATION_NOT_FOUND = "OPERATION_NOT_FOUND"
TRANSPORT_CODES = (
    METHOD_NOT_ALLOWED,
    NOT_ACCEPTABLE,
    UNSUPPORTED_MEDIA_TYPE,
    REQUEST_TOO_LARGE,
    INVALID_JSON,
    INVALID_REQUEST,
    BATCHING_NOT_SUPPORTED,
    MISSING_QUERY,
    OPERATION_NOT_FOUND,
)


class TransportError(Exception):
    """A request refused by the HTTP layer: nothing was executed."""

    def __init__(self, status: int, code: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(
    code: str,
    message: str,
    status: int,
    *,
    media_type: str = JSON,
    with_data: bool | None = None,
    **headers: str,
) -> HttpResponse:
    """A refusal before execution, in the shape of a GraphQL error response. Under
    application/json it keeps `"data": null` (as it always did); under
    application/graphql-response+json there is no `data`, as the spec says of request errors."""
    body: dict[str, Any] = {"errors": [{"message": message, "extensions": {"code": code}}]}
    if with_data if with_data is not None else media_type == JSON:
        body = {"data": None, **body}
    return HttpResponse(
        json.dumps(body), status=status, content_type=media_type, headers=headers or None
    )


def database_unavailable_response(media_type: str = JSON) -> HttpResponse:
    """503 that a client retries after Retry-After seconds: the database could not be reached
    before execution (or outside it), so nothing was done."""
    return error_response(
        DATABASE_UNAVAILABLE,
        DATABASE_UNAVAILABLE_MESSAGE,
        503,
        media_type=media_type,
        **{"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _accepted(header: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their q-values, best first (stable)."""
    ranges = []
    for index, part in enumerate(header.split(",")):
        if not part.strip():
            continue
        media, params = parse_header_parameters(part)
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        ranges.append((media.lower(), quality, index))
    ranges.sort(key=lambda item: (-item[1], item[2]))
    return [(media, quality) for media, quality, _ in ranges if quality > 0]


def response_media_type(request: HttpRequest) -> str | None:
    """The media type to answer in, from Accept; None when none we can produce is acceptable.
    No Accept header at all means application/json (the spec's advice for legacy clients)."""
    header = request.headers.get("Accept", "").strip()
    if not header:
        return JSON
    for media, _ in _accepted(header):
        if media == GRAPHQL_RESPONSE_JSON:
            return GRAPHQL_RESPONSE_JSON
        if media in (JSON, "application/*", "*/*"):
            return JSON
    return None


def _request_error(result: ExecutionResult) -> bool:
    """Whether the operation never reached execution (no data, no error at a field): a
    malformed or invalid document, or a refusal by a limit before anything ran."""
    return result.data is None and all(error.path is None for error in result.errors or ())


class GraphQLView(BaseGraphQLView):
    """The sync view (fastest under gunicorn's sync workers), with who-is-asking in context."""

    def get_context(self, request: HttpRequest, response: HttpResponse) -> Context:
        return Context(request=request, response=response, actor=request.actor)

    def get_sub_response(self, request: HttpRequest) -> TemporalHttpResponse:
        response = super().get_sub_response(request)
        response.media_type = request.graphql_media_type  # type: ignore[attr-defined]
        return response

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        media_type = response_media_type(request)
        request.graphql_media_type = media_type or JSON  # type: ignore[attr-defined]
        try:
            return self._dispatch(request, media_type)
        except TransportError as exc:
            return error_response(
                exc.code,
                exc.message,
                exc.status,
                media_type=request.graphql_media_type,  # type: ignore[attr-defined]
                **exc.headers,
            )
        except HTTPException as exc:  # anything strawberry still refuses on its own
            return error_response(
                ErrorCode.NOT_FOUND.value if exc.status_code == 404 else INVALID_REQUEST,
                exc.reason,
                exc.status_code,
                media_type=request.graphql_media_type,  # type: ignore[attr-defined]
            )
        except persisted.PersistedQueryError as exc:
            return error_response(
                exc.code,
                str(exc),
                exc.status,
                media_type=request.graphql_media_type,  # type: ignore[attr-defined]
            )
        except DATABASE_UNAVAILABLE_ERRORS as exc:  # outside execution: persisted-query lookup
            logger.warning("database unavailable: %r", exc)
            return database_unavailable_response(request.graphql_media_type)  # type: ignore[attr-defined]

    def _dispatch(self, request: HttpRequest, media_type: str | None) -> HttpResponse:
        if request.method not in ("GET", "POST"):
            raise TransportError(
                405,
                METHOD_NOT_ALLOWED,
                "GraphQL is served over GET (queries) and POST.",
                Allow="GET, POST",
            )
        adapter = self.request_adapter_class(request)
        if self.should_render_graphql_ide(adapter):
            return self.run(request=request)
        if media_type is None:
            raise TransportError(
                406,
                NOT_ACCEPTABLE,
                f"Accept {GRAPHQL_RESPONSE_JSON} or {JSON}; this server answers in those only.",
            )
        try:
            # Read (and size-check) the body first: Django refuses one over
            # DATA_UPLOAD_MAX_MEMORY_SIZE from its Content-Length, before reading it.
            request.body  # noqa: B018
        except RequestDataTooBig:
            raise TransportError(
                413,
                REQUEST_TOO_LARGE,
                f"The request body is larger than {settings.GRAPHQL_MAX_BODY_BYTES} bytes.",
            ) from None
        if getattr(request, "bearer_invalid", False):
            return error_response(
                ErrorCode.UNAUTHENTICATED.value,
                "The Bearer token is unknown, revoked or expired.",
                401,
                media_type=media_type,
                with_data=False,
                **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return self.run(request=request)

    # --- the request ------------------------------------------------------------------------

    def parse_http_body(self, request: SyncHTTPRequestAdapter) -> GraphQLRequestData:
        """The one operation of the request, or a TransportError with its code; persisted
        operations filled in (or checked): see api.persisted."""
        if request.method == "GET":
            raw: Any = dict(request.query_params)
            for name in ("variables", "extensions"):
                if isinstance(raw.get(name), str):
                    raw[name] = self.parse_json(raw[name]) if raw[name] else None
        else:
            django_request = request.request
            content_type = django_request.content_type or ""
            charset = django_request.content_params.get("charset", "utf-8").lower()
            if content_type.lower() != JSON or charset not in ("utf-8", "utf8"):
                raise TransportError(
                    415,
                    UNSUPPORTED_MEDIA_TYPE,
                    "Send the operation as JSON: Content-Type: application/json "
                    "(UTF-8); other media types are not accepted.",
                )
            raw = self.parse_json(django_request.body)  # bytes: bad UTF-8 is bad JSON
        if isinstance(raw, list):
            raise TransportError(
                400,
                BATCHING_NOT_SUPPORTED,
                "Batching is not supported: send one operation per request (HTTP/1.1 "
                "keep-alive or HTTP/2 make separate requests cheap).",
            )
        if not isinstance(raw, dict):
            raise TransportError(
                400,
                INVALID_REQUEST,
                "The body must be a JSON object: "
                '{"query": "...", "variables": {...}, "operationName": "..."}.',
            )
        expected = {
            "query": str,
            "operationName": str,
            "variables": dict,
            "extensions": dict,
        }
        for name, kind in expected.items():
            if raw.get(name) is not None and not isinstance(raw[name], kind):
                article = "a string" if kind is str else "an object"
                raise TransportError(
                    400, INVALID_REQUEST, f"`{name}` must be {article} or null when given."
                )
        data = GraphQLRequestData(
            query=raw.get("query"),
            variables=raw.get("variables"),
            operation_name=raw.get("operationName"),
            extensions=raw.get("extensions"),
        )
        return persisted.resolve(data, raw)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise TransportError(
                400, INVALID_JSON, "The request is not valid JSON (UTF-8)."
            ) from None
        except RecursionError:
            raise TransportError(400, INVALID_JSON, "The JSON is nested too deeply.") from None

    def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """strawberry's, with its refusals (HTTPException with the cause) given codes."""
        try:
            return super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            cause = exc.__cause__
            if isinstance(cause, MissingQueryError):
                raise TransportError(400, MISSING_QUERY, "The request has no `query`.") from None
            if isinstance(cause, InvalidOperationTypeError):
                raise TransportError(
                    405,
                    METHOD_NOT_ALLOWED,
                    "Mutations are sent with POST; GET runs queries only.",
                    Allow="POST",
                ) from None
            if isinstance(cause, CannotGetOperationTypeError):
                raise TransportError(400, OPERATION_NOT_FOUND, exc.reason) from None
            raise

    # --- the response -----------------------------------------------------------------------

    def process_result(self, request: HttpRequest, result: ExecutionResult) -> GraphQLHTTPResponse:
        data = process_result(result)
        if (
            request.graphql_media_type == GRAPHQL_RESPONSE_JSON  # type: ignore[attr-defined]
            and _request_error(result)
        ):
            # The spec: a request error has no `data` entry, and answers 4xx.
            data.pop("data", None)
        return data

    def create_response(
        self, response_data: GraphQLHTTPResponse, sub_response: TemporalHttpResponse
    ) -> HttpResponse:
        response = super().create_response(response_data, sub_response)
        media_type = getattr(sub_response, "media_type", JSON)
        response["Content-Type"] = (
            f"{media_type}; charset=utf-8" if media_type == GRAPHQL_RESPONSE_JSON else media_type
        )
        if (
            media_type == GRAPHQL_RESPONSE_JSON
            and "data" not in response_data
            and not sub_response.status_code
        ):
            response.status_code = 400
        return response

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        return render_graphiql(request)  # self-hosted, no CDN: see api/graphiql.py


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
