"""Mutation results: the payload or OperationInfo, as a named and described union.

`OperationInfo` and `OperationMessage` are strawberry-django's, extended here: each message
gets `errorCode`, the `ErrorCode` enum (generated clients switch over it exhaustively), next to
the free `code` string kept for older clients; and every type, field and enum value is
described. strawberry-django builds its OperationInfo from the names in its mutation module,
so those names are pointed at the subclasses below: the union of every mutation then holds the
very class its resolver returns (api/tests/test_schema.py fails if an upgrade moves them).
"""

from typing import Annotated, Any

import strawberry
import strawberry_django.mutations.fields as mutation_fields
import strawberry_django.permissions as permissions
from strawberry_django.fields import types as upstream

from api.errors import GraphQLErrorCode, graphql_error_code
from reservation.errors import ErrorCode

Kind = upstream.OperationMessage.Kind

_KIND_DESCRIPTIONS = {
    "INFO": "For information; nothing went wrong.",
    "WARNING": "Done, with a warning.",
    "ERROR": "Not done: the object does not exist or may not be seen (NOT_FOUND).",
    "PERMISSION": "Not done: not signed in, or not allowed.",
    "VALIDATION": "Not done: the input or the state of things does not allow it.",
}
_kind_definition = Kind.__strawberry_definition__  # type: ignore[attr-defined]
_kind_definition.description = "How an operation's message is to be read."
for _value in _kind_definition.values:
    _value.description = _KIND_DESCRIPTIONS[_value.name]

# A message strawberry-django could not code itself (a Django validator's "invalid", a bare
# DoesNotExist) gets the code of its kind.
_FALLBACK = {
    Kind.PERMISSION: ErrorCode.PERMISSION_DENIED.value,
    Kind.VALIDATION: ErrorCode.INVALID_INPUT.value,
    Kind.ERROR: ErrorCode.NOT_FOUND.value,
}


@strawberry.type(
    name="OperationMessage",
    description="Why a mutation did not do what was asked: a message for people and a "
    "stable code for programs.",
)
class OperationMessage(upstream.OperationMessage):
    @strawberry.field(
        description="The stable error code, as an enum: switch over this one. (`code` is the "
        "same value as a string, kept for older clients.)"
    )
    def error_code(self) -> GraphQLErrorCode:  # type: ignore[valid-type]
        return graphql_error_code(
            self.code, fallback=_FALLBACK.get(self.kind, ErrorCode.INVALID_INPUT.value)
        )


@strawberry.type(
    name="OperationInfo",
    description="A mutation refused: nothing was changed. Its messages say why.",
)
class OperationInfo(upstream.OperationInfo):
    messages: list[OperationMessage] = strawberry.field(
        description="Why, one message per problem (at least one)."
    )


mutation_fields.OperationInfo = OperationInfo  # type: ignore[misc]
mutation_fields.OperationMessage = OperationMessage  # type: ignore[misc]
permissions.OperationInfo = OperationInfo  # type: ignore[misc]
permissions.OperationMessage = OperationMessage  # type: ignore[misc]


def refusal(code: str, message: str, *, kind: Any = Kind.PERMISSION) -> OperationInfo:
    """The OperationInfo of a refused mutation with one message."""
    return OperationInfo(messages=[OperationMessage(kind=kind, message=message, code=code)])


def payload(name: str, result: type, description: str) -> Any:
    """`result | OperationInfo` as the union `name`. strawberry-django would generate the same
    union for a mutation returning `result`, but without a description."""
    return Annotated[result | OperationInfo, strawberry.union(name, description=description)]
