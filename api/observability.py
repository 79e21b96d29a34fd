"""Request ids and structured logs: every log line written while a request is served says which
request, who (user, API token or event-link token ids — never a secret) and which GraphQL
operation it belongs to.

RequestIdMiddleware runs first, so the id covers everything after it, Django's own
`django.request` error lines included. Who is asking is read from `request.actor` when a line
is written (ActorMiddleware sets it later in the chain), so nothing is looked up for logging.
"""

import json
import logging
import re
import traceback
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a client or proxy (nginx's $request_id, a UUID, a trace id): short and
# made of characters that are safe in a header and a log line. Anything else is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")


@dataclass
class RequestContext:
    """What the log lines of one request share. Mutable: the GraphQL extension fills in the
    operation once the document is parsed."""

    request_id: str
    request: HttpRequest | None = None
    operation: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("rendezvous_request", default=None)


def current_request_context() -> RequestContext | None:
    return _current.get()


def set_operation(*, name: str | None) -> None:
    """Record the GraphQL operation being served (a no-op outside a request)."""
    context = _current.get()
    if context is not None:
        context.operation = name


def sane_request_id(value: str | None) -> str | None:
    return value if value and _SANE_REQUEST_ID.fullmatch(value) else None


class RequestIdMiddleware:
    """Takes the caller's X-Request-ID when it is sane, else makes one; puts it on
    `request.request_id`, on every log line of the request and on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _current.set(RequestContext(request_id=request_id, request=request))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def context_fields(record: logging.LogRecord | None = None) -> dict[str, Any] | None:
    """The request's fields for a log line, or None outside a request. Ids only: the actor's
    user, API token and event-link token primary keys.

    Django logs 4xx/5xx responses (`django.request`) after the middleware has returned, so
    outside the context; those records carry the request itself, which has the id."""
    context = _current.get()
    if context is None:
        request = getattr(record, "request", None)
        request_id = getattr(request, "request_id", None)
        if request_id is None:
            return None
        context = RequestContext(request_id=request_id, request=request)
    actor = getattr(context.request, "actor", None)
    user = getattr(actor, "user", None)
    api_token = getattr(actor, "api_token", None)
    access_token = getattr(actor, "access_token", None)
    return {
        "request_id": context.request_id,
        "user_id": getattr(user, "pk", None),
        "token_id": getattr(api_token, "pk", None),
        "link_token_id": getattr(access_token, "pk", None),
        "operation": context.operation,
    }


_CONTEXT_KEYS = ("request_id", "user_id", "token_id", "link_token_id", "operation")


class RequestContextFilter(logging.Filter):
    """Puts the request's fields on every record (None outside a request), so any format can
    use them, e.g. `%(request_id)s`. Attach it to handlers: a logger's filters do not see
    records propagated from child loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = context_fields(record) or dict.fromkeys(_CONTEXT_KEYS)
        for key, value in fields.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", *_CONTEXT_KEYS}
)
# `extra` values that are objects, not data: Django's request logger passes the request.
_SKIPPED_EXTRAS = frozenset({"request"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the request's fields when
    in a request, `extra=` values, and the traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = {key: getattr(record, key, None) for key in _CONTEXT_KEYS}
        if fields["request_id"] is None:  # no filter on this handler: read the context here
            fields = context_fields(record) or fields
        if fields["request_id"] is not None:
            line.update(fields)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in _SKIPPED_EXTRAS:
                line[key] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)
