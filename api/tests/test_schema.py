"""The checked-in SDL is the schema, and every part of it is described."""

from pathlib import Path

from django.conf import settings
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)
from strawberry.printer import print_schema

from api.schema import schema

SDL_PATH = Path(settings.BASE_DIR) / "schema.graphql"

# strawberry-django's own types: their fields are described, the types themselves are not.
UPSTREAM_TYPES = {"OperationInfo", "OperationMessage", "OperationMessageKind"}


def test_checked_in_sdl_is_the_schema() -> None:
    # Given the schema as `manage.py export_schema api.schema:schema` prints it
    printed = print_schema(schema)

    # Then it is exactly the checked-in file
    assert printed == SDL_PATH.read_text(encoding="utf-8"), (
        "schema.graphql is out of date with api/: run `make schema` and commit the result"
    )


def _undescribed() -> list[str]:
    missing = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in UPSTREAM_TYPES:
            continue
        if isinstance(gql_type, GraphQLScalarType) and name in {"String", "Int", "Boolean", "ID"}:
            continue  # GraphQL's built-in scalars
        if not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in gql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
    return sorted(missing)


def test_every_type_field_and_argument_has_a_description() -> None:
    # Enum values are not checked: each enum's description lists its values.
    assert _undescribed() == []


def test_every_mutation_returns_its_payload_or_operation_info() -> None:
    for name, field in schema._schema.mutation_type.fields.items():
        # Then each returns its own non-null union `<Mutation>Payload = Result | OperationInfo`
        union = field.type.of_type
        assert isinstance(union, GraphQLUnionType), name
        assert union.name == name[0].upper() + name[1:] + "Payload"
        assert [t.name for t in union.types][1:] == ["OperationInfo"], name


def test_upstream_types_exist_and_their_fields_are_described() -> None:
    # The exemption above must not hide a type of ours, nor a field without a description.
    for name in UPSTREAM_TYPES:
        gql_type = schema._schema.type_map[name]
        if isinstance(gql_type, GraphQLEnumType):
            continue
        assert all(field.description for field in gql_type.fields.values()), name


def test_each_request_gets_its_own_extension_instances() -> None:
    # Extensions keep per-request state (the execution context, counters); one instance
    # shared by concurrent requests in a threaded worker would mix them up.
    first = schema.get_extensions(sync=True)
    second = schema.get_extensions(sync=True)

    assert len(first) == len(second) >= 5
    assert {id(extension) for extension in first}.isdisjoint(id(e) for e in second)
