"""Enums of the schema, each value described (a client's docs show what it means)."""

import enum
from typing import Any

import strawberry


def described_enum(
    python_enum: type[enum.Enum], *, name: str, description: str, values: dict[str, str]
) -> Any:
    """`strawberry.enum(python_enum)` with a description on each value; `values` maps every
    member name to its description (a missing or unknown name fails at import)."""
    members = {member.name for member in python_enum}
    if set(values) != members:
        raise ValueError(f"{name}: describe exactly {sorted(members)}; got {sorted(values)}")
    wrapped = strawberry.enum(python_enum, name=name, description=description)
    for value in wrapped.__strawberry_definition__.values:
        value.description = values[value.name]
    return wrapped
