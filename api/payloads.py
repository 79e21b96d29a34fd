"""Mutation results: the payload or OperationInfo, as a named and described union."""

from typing import Annotated, Any

import strawberry
from strawberry_django.fields.types import OperationInfo


def payload(name: str, result: type, description: str) -> Any:
    """`result | OperationInfo` as the union `name`. strawberry-django would generate the same
    union for a mutation returning `result`, but without a description."""
    return Annotated[result | OperationInfo, strawberry.union(name, description=description)]
