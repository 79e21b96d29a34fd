"""Request ids and structured logs: every log line written while a request is served says which
request, who (user, API token or event-link token ids — never a secret) and which GraphQL
operation it belongs to.

RequestIdMiddleware runs first, so the id covers everything after it, Django's own
`django.request` error lines included. Who is asking is read from `request.actor` when a line
is written (ActorMiddleware sets it later in the chain), so nothing is looked up for logging.
"""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

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
    link_token_id: int | None = None


_current: ContextVar[RequestContext | None] = ContextVar("rendezvous_request", default=None)


def current_request_context() -> RequestContext | None:
    return _current.get()


def set_operation(*, name: str | None) -> None:
    """Record the GraphQL operation being served (a no-op outside a request)."""
    context = _current.get()
    if context is not None:
        context.operation = name


def set_link_token(*, token_id: int) -> None:
    """Record the e-mailed link's token that a page authenticated from its URL (a no-op
    outside a request): the request's actor (API, middleware) does not know it there."""
    context = _current.get()
    if context is not None:
        context.link_token_id = token_id
        if context.request is not None:  # for Django's response line, written after us
            context.request.link_token_id = token_id  # type: ignore[attr-defined]


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
        context = RequestContext(
            request_id=request_id,
            request=request,
            link_token_id=getattr(request, "link_token_id", None),
        )
    actor = getattr(context.request, "actor", None)
    user = getattr(actor, "user", None)
    api_token = getattr(actor, "api_token", None)
    access_token = getattr(actor, "access_token", None)
    return {
        "request_id": context.request_id,
        "user_id": getattr(user, "pk", None),
        "token_id": getattr(api_token, "pk", None),
        "link_token_id": getattr(access_token, "pk", None) or context.link_token_id,
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


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object per line (python-json-logger): `time` (ISO 8601, UTC, milliseconds),
    `level`, `logger`, `message`, the request's fields when in a request, `extra=` values, and
    the traceback as one string in `exception`. Used by Django's LOGGING, gunicorn's
    (devops/gunicorn.conf.py) and the worker's, so every line of every process has one shape."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("json_ensure_ascii", False)
        kwargs.setdefault("json_default", str)
        kwargs.setdefault("rename_fields", {"exc_info": "exception", "stack_info": "stack"})
        kwargs.setdefault(
            "reserved_attrs", [*RESERVED_ATTRS, "taskName", *_CONTEXT_KEYS, *_SKIPPED_EXTRAS]
        )
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        # Set by RequestContextFilter (all of them), or by the caller's `extra` (some).
        fields = {key: getattr(record, key) for key in _CONTEXT_KEYS if hasattr(record, key)}
        if fields.get("request_id") is None:  # no filter on this handler: read the context
            fields = context_fields(record) or {}
        if fields.get("request_id") is not None:
            log_data.update(fields)
        super().add_fields(log_data, record, message_dict)
        if isinstance(log_data.get("exception"), str):
            log_data["exception"] = log_data["exception"].rstrip()


class DisallowedHostFilter(logging.Filter):
    """A request with a Host we do not serve is the client's mistake (or a scanner's), not
    ours: one WARNING line naming the host, without a traceback (Django logs it at ERROR
    with one). For the `django.security.DisallowedHost` logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


# `extra` values that are objects, not data: Django's request logger passes the request.
_SKIPPED_EXTRAS = ("request", "server_time")
