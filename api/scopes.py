"""Token scopes, enforced on every mutation: a READ_ONLY API token runs queries only.

The guard is a field extension put on every field of the Mutation root when the schema is
built (api/schema.py), so a mutation added later is guarded without anyone remembering to.
It answers like any other refusal of a mutation: OperationInfo with a stable code.
"""

from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.types.base import StrawberryObjectDefinition

from api.errors import READ_ONLY_TOKEN
from api.payloads import refusal
from reservation.models import TokenScope


def read_only(info: Any) -> bool:
    """Whether the request is authenticated by a READ_ONLY personal API token."""
    token = getattr(info.context.actor, "api_token", None)
    return token is not None and token.scope == TokenScope.READ_ONLY


class ReadOnlyTokenGuard(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        if read_only(info):
            return refusal(
                READ_ONLY_TOKEN,
                "This API token is READ_ONLY: it runs queries only. Use a FULL token to "
                "change things.",
            )
        return next_(source, info, **kwargs)


def guard_mutations(mutation_root: type) -> type:
    """Put the read-only guard on every field of `mutation_root` (a strawberry type already:
    apply this decorator above `@strawberry.type`)."""
    if "__strawberry_definition__" not in vars(mutation_root):
        raise TypeError("guard_mutations goes above @strawberry.type, not below it.")
    definition: StrawberryObjectDefinition = mutation_root.__strawberry_definition__  # type: ignore[attr-defined]
    for field in definition.fields:
        field.extensions = [ReadOnlyTokenGuard(), *field.extensions]
    return mutation_root
