"""Error codes on every GraphQL error, and no internals in any of them.

Expected failures carry `extensions.code` (the domain's stable codes). Anything unexpected
reaches the client as INTERNAL_ERROR with an `errorId` that is also in the server log next
to the traceback — never a stack trace or SQL.

The database being unreachable (restarted, failed over, connection cut) is not a bug but a
moment to wait: the answer is HTTP 503 with code DATABASE_UNAVAILABLE and `Retry-After`,
whether it is noticed by the middleware (who is asking) or inside a resolver. Retrying a
mutation is safe with an `idempotencyKey` (the first attempt may have committed).
"""

import logging
import os
import re
import uuid

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from api.metrics import record_graphql_error
from reservation.errors import ErrorCode

logger = logging.getLogger("api.errors")

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
