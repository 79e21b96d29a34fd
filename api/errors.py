"""Error codes on every GraphQL error, and no internals in any of them.

Expected failures carry `extensions.code` (the domain's stable codes). Anything unexpected
reaches the client as INTERNAL_ERROR with an `errorId` that is also in the server log next
to the traceback — never a stack trace or SQL.

The database being unreachable (restarted, failed over, connection cut) is not a bug but a
moment to wait: the answer is HTTP 503 with code DATABASE_UNAVAILABLE and `Retry-After`,
whether it is noticed by the middleware (who is asking) or inside a resolver. Retrying a
mutation is safe with an `idempotencyKey` (the first attempt may have committed).
"""

import enum
import logging
import os
import re
import uuid

import strawberry
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from api.metrics import record_graphql_error
from reservation.errors import ErrorCode

logger = logging.getLogger("api.errors")

# --- every code a client can meet ---------------------------------------------------------------
# The schema's `ErrorCode` enum is built from these two tables, so a generated client can switch
# over it exhaustively. A code raised anywhere must be in one of them: add yours to API_CODES
# with a one-line description, and to the README's table (api/tests/test_schema.py keeps the
# table and the enum equal).

DOMAIN_CODES: dict[ErrorCode, str] = {
    ErrorCode.UNAUTHENTICATED: "Not signed in (no session, no token, or an unknown one).",
    ErrorCode.PERMISSION_DENIED: "Signed in, but not allowed to do this.",
    ErrorCode.NOT_FOUND: "No such object, or one you may not see (the two look alike).",
    ErrorCode.INVALID_INPUT: "An argument is malformed or out of range (see `field`).",
    ErrorCode.INVALID_CREDENTIALS: "Wrong e-mail address or password.",
    ErrorCode.EMAIL_TAKEN: "An account with this e-mail address exists already.",
    ErrorCode.WEAK_PASSWORD: "The password is too short, too common or all digits.",
    ErrorCode.NAIVE_DATETIME: "A date-time without a UTC offset.",
    ErrorCode.INVALID_TIME_RANGE: "The end is not after the start.",
    ErrorCode.INVALID_TIME_ZONE: "Not an IANA time zone name.",
    ErrorCode.RANGE_TOO_LONG: "The range is longer than this operation allows.",
    ErrorCode.IN_THE_PAST: "The time lies in the past.",
    ErrorCode.TOO_MANY_WINDOWS: "Too many availability windows in one request.",
    ErrorCode.SLOT_UNAVAILABLE: "The slot is not (or no longer) bookable.",
    ErrorCode.NOTICE_TOO_SHORT: "The slot starts sooner than the provider's minimum notice.",
    ErrorCode.BEYOND_HORIZON: "The slot lies beyond the provider's booking horizon.",
    ErrorCode.HOLD_EXPIRED: "The hold lapsed before it was confirmed.",
    ErrorCode.HOLD_LIMIT_REACHED: "The client already has as many holds as allowed.",
    ErrorCode.RESERVATION_NOT_ACTIVE: "The reservation is cancelled or expired.",
    ErrorCode.IDEMPOTENCY_KEY_REUSED: "The idempotency key was used for a different request.",
    ErrorCode.STALE_VERSION: "The event changed since you read it: read it again.",
    ErrorCode.EVENT_NOT_PROPOSED: "The event is no longer looking for a time.",
    ErrorCode.EVENT_CANCELLED: "The event is cancelled.",
    ErrorCode.NOT_A_PARTY: "Only the parties of the event may do this.",
    ErrorCode.NOT_A_CANDIDATE: "The time is not one of the event's candidates.",
    ErrorCode.EVENT_NOT_SCHEDULED: "The event has no agreed time yet.",
    ErrorCode.NOT_RECURRING: "The event does not repeat.",
    ErrorCode.NOT_AN_OCCURRENCE: "The event has no occurrence at that time.",
    ErrorCode.OCCURRENCE_CANCELLED: "That occurrence is cancelled already.",
    ErrorCode.INVALID_CHARACTERS: "A control character in a string, or an invisible "
    "bidi/zero-width character in a name.",
    ErrorCode.INVALID_CURSOR: "A `before`/`after` cursor that this list did not hand out.",
    ErrorCode.START_NOT_IN_RULE: "The start is not one the recurrence rule produces (the "
    "message names the rule's first start; alignStart moves it there).",
    ErrorCode.CLIENT_NOT_ASSIGNED: "This provider takes bookings only from their assigned clients.",
    ErrorCode.SLUG_TAKEN: "Another provider uses (or used) that public slug.",
    ErrorCode.SERIES_INCOMPLETE: "Not every occurrence of a recurring booking was free; "
    "nothing was booked (all-or-nothing).",
    ErrorCode.WEBHOOK_DISABLED: "The webhook is switched off; turn it on before redelivering.",
    ErrorCode.CALENDAR_UNREACHABLE: "The calendar server refused the account or could not "
    "be reached.",
}

RATE_LIMITED = "RATE_LIMITED"
INVALID_CURSOR = ErrorCode.INVALID_CURSOR.value
READ_ONLY_TOKEN = "READ_ONLY_TOKEN"

API_CODES: dict[str, str] = {
    RATE_LIMITED: "Too many requests of this kind: nothing was done; retry later.",
    READ_ONLY_TOKEN: "A READ_ONLY API token cannot run mutations.",
    "GRAPHQL_VALIDATION_FAILED": "The document or its variables do not fit the schema.",
    "QUERY_TOO_DEEP": "The document nests deeper than allowed.",
    "TOO_MANY_ALIASES": "The document uses more aliases than allowed.",
    "TOO_MANY_TOKENS": "The document is longer than allowed.",
    "INTROSPECTION_DISABLED": "Introspection is turned off on this server.",
    "PERSISTED_QUERY_NOT_FOUND": "No operation is registered under that hash.",
    "PERSISTED_QUERY_HASH_MISMATCH": "The hash is not the hash of the document sent.",
    "PERSISTED_QUERY_NOT_ALLOWED": "This server only runs registered operations.",
    "CSRF_FAILED": "A request with the session cookie lacked the CSRF token.",
    "REQUEST_TOO_LARGE": "The request body is larger than the server accepts.",
    "DATABASE_UNAVAILABLE": "The database is unavailable for a moment; retry shortly.",
    "INTERNAL_ERROR": "A bug: reported with an errorId that is also in the server log.",
    "QUERY_TOO_COSTLY": "The operation's estimated cost is over your budget; nothing ran.",
    "OPERATION_NAME_REQUIRED": "Several operations in the document and no operationName.",
    "METHOD_NOT_ALLOWED": "HTTP 405: a mutation over GET (use POST).",
    "NOT_ACCEPTABLE": "HTTP 406: the Accept header names no media type the server answers in.",
    "UNSUPPORTED_MEDIA_TYPE": "HTTP 415: the body is not application/json.",
    "INVALID_JSON": "The body is not valid JSON.",
    "INVALID_REQUEST": "The JSON body is not a GraphQL request object.",
    "BATCHING_NOT_SUPPORTED": "A JSON array of operations: send one operation per request.",
    "MISSING_QUERY": "The request has no query.",
    "OPERATION_NOT_FOUND": "operationName names no operation of the document.",
    "SUBSCRIPTIONS_ONLY": "A query or mutation over the WebSocket: send it over HTTP.",
    "WEBSOCKET_REQUIRED": "A subscription over HTTP: open a WebSocket (graphql-transport-ws).",
    "SUBSCRIPTION_LIMIT_REACHED": "Too many open subscriptions (per connection or per user): "
    "complete one first.",
}

# Every domain code is a value even before it is described here (the schema test then fails on
# the missing description, while clients already get the right errorCode).
_ErrorCodeValues = enum.Enum(  # type: ignore[misc]
    "ErrorCodeValues", {code: code for code in [*map(str, ErrorCode), *API_CODES]}
)
_DESCRIPTIONS = {str(code): text for code, text in DOMAIN_CODES.items()} | API_CODES

GraphQLErrorCode = strawberry.enum(
    _ErrorCodeValues,
    name="ErrorCode",
    description="Every stable error code: in OperationMessage.errorCode and in a top-level "
    "error's extensions.code. Messages are for people and may change; codes do not.",
)
for _value in GraphQLErrorCode.__strawberry_definition__.values:
    _value.description = _DESCRIPTIONS.get(_value.value)


def graphql_error_code(code: str | None, *, fallback: str) -> enum.Enum:
    """The enum member of `code`; `fallback` for a code outside the table (Django's own
    validators, e.g. "invalid", say nothing stable)."""
    try:
        return GraphQLErrorCode(code)
    except ValueError:
        return GraphQLErrorCode(fallback)


DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable for a moment; retry shortly."
RETRY_AFTER_SECONDS = 2
# Django's wrappers of psycopg's connection-level failures (server gone, connection refused or
# reset, statement cancelled): retryable, unlike IntegrityError or ProgrammingError.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)

_PAGINATION_MESSAGES = ("Argument 'first'", "Argument 'last'", "Argument 'offset'")

# Refusals by the document limits (api.limits), recognised by strawberry's and graphql-core's
# messages (pinned by api/tests/test_hardening.py, so an upgrade that rewords them fails there).
_LIMIT_CODES = (
    (re.compile(r"exceeds maximum operation depth"), "QUERY_TOO_DEEP"),
    (re.compile(r"Maximum introspection depth exceeded"), "QUERY_TOO_DEEP"),
    (re.compile(r"aliases found\. Allowed"), "TOO_MANY_ALIASES"),
    (re.compile(r"Document contains more than \d+ tokens"), "TOO_MANY_TOKENS"),
    (re.compile(r"introspection has been disabled"), "INTROSPECTION_DISABLED"),
)


def _validation_code(message: str) -> str:
    for pattern, code in _LIMIT_CODES:
        if pattern.search(message):
            return code
    return "GRAPHQL_VALIDATION_FAILED"


def _bad_global_id(exc: BaseException) -> bool:
    """A ValueError raised by strawberry's relay decoding (a malformed `before`/`after` cursor
    or ID): bad input, not a bug. Recognised by where it was raised."""
    if not isinstance(exc, ValueError):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.endswith(
        os.path.join("strawberry", "relay", "utils.py")
    )


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached (or dropped the connection)."""
    return isinstance(exc, DATABASE_UNAVAILABLE_ERRORS)


def _code_for(original: BaseException) -> str | None:
    code = getattr(original, "code", None)
    if database_unavailable(original):
        return None
    if isinstance(original, ValidationError):
        return str(code or ErrorCode.INVALID_INPUT)
    if isinstance(original, PermissionDenied):
        return str(code or ErrorCode.PERMISSION_DENIED)
    if isinstance(original, ObjectDoesNotExist):
        return ErrorCode.NOT_FOUND.value
    if isinstance(original, ValueError) and str(original).startswith(_PAGINATION_MESSAGES):
        return ErrorCode.INVALID_INPUT.value
    if _bad_global_id(original):
        return ErrorCode.INVALID_INPUT.value
    return None


class ErrorCodes(SchemaExtension):
    def _answer_unavailable(self) -> None:
        """503 + Retry-After on the HTTP response (strawberry copies them from this one)."""
        response = getattr(self.execution_context.context, "response", None)
        if response is not None:
            response.status_code = 503
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)

    def on_operation(self):
        yield
        result = self.execution_context.result
        if not result or not result.errors:
            return
        processed = []
        for error in result.errors:
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):
                # A malformed document or variables: the message is about the query itself.
                error.extensions = {
                    "code": _validation_code(error.message),
                    **(error.extensions or {}),
                }
                processed.append(error)
                continue
            if database_unavailable(original):
                logger.warning("database unavailable in %s: %r", error.path, original)
                processed.append(
                    GraphQLError(
                        DATABASE_UNAVAILABLE_MESSAGE,
                        nodes=error.nodes,
                        path=error.path,
                        extensions={
                            "code": DATABASE_UNAVAILABLE,
                            "retryAfter": RETRY_AFTER_SECONDS,
                        },
                    )
                )
                self._answer_unavailable()
                continue
            code = _code_for(original)
            if code is not None:
                message = (
                    " ".join(original.messages)
                    if isinstance(original, ValidationError)
                    else str(original)
                )
                processed.append(
                    GraphQLError(
                        message, nodes=error.nodes, path=error.path, extensions={"code": code}
                    )
                )
                continue
            error_id = uuid.uuid4().hex
            logger.error(
                "unexpected error %s in %s",
                error_id,
                error.path,
                exc_info=(type(original), original, original.__traceback__),
            )
            processed.append(
                GraphQLError(
                    "Internal server error.",
                    nodes=error.nodes,
                    path=error.path,
                    extensions={"code": "INTERNAL_ERROR", "errorId": error_id},
                )
            )
        result.errors = processed
        for error in processed:
            record_graphql_error((error.extensions or {}).get("code"))
