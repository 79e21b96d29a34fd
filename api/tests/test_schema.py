"""The checked-in SDL is the schema, and every part of it is described."""

import enum
import re
from pathlib import Path

import strawberry
from django.conf import settings
from django.core.exceptions import PermissionDenied
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)
from strawberry.printer import print_schema

from api.errors import API_CODES
from api.payloads import OperationMessage
from api.schema import schema
from reservation.errors import ErrorCode

SDL_PATH = Path(settings.BASE_DIR) / "schema.graphql"

BUILT_IN_SCALARS = {"String", "Int", "Boolean", "ID"}


def test_checked_in_sdl_is_the_schema() -> None:
    # Given the schema as `manage.py export_schema api.schema:schema` prints it
    printed = print_schema(schema)

    # Then it is exactly the checked-in file
    assert printed == SDL_PATH.read_text(encoding="utf-8"), (
        "schema.graphql is out of date with api/: run `make schema` and commit the result"
    )


def _undescribed(of: strawberry.Schema = schema) -> list[str]:
    missing = []
    for name, gql_type in of._schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(gql_type, GraphQLScalarType) and name in BUILT_IN_SCALARS:
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
        if isinstance(gql_type, GraphQLEnumType):
            missing += [
                f"{name}.{value}" for value, v in gql_type.values.items() if not v.description
            ]
    return sorted(missing)


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    assert _undescribed() == []


def test_the_walk_finds_what_is_undescribed() -> None:
    # Given a type, a field, an argument and an enum value without descriptions
    @strawberry.enum
    class Colour(enum.Enum):
        RED = "red"

    @strawberry.type
    class Probe:
        @strawberry.field
        def paint(self, colour: Colour) -> str:
            return colour.value

    probe = strawberry.Schema(query=Probe)

    # Then each is reported
    assert _undescribed(probe) == [
        "Colour",
        "Colour.RED",
        "Probe",
        "Probe.paint",
        "Probe.paint(colour)",
    ]


def test_no_connection_argument_keeps_strawberrys_wrong_last_description() -> None:
    # strawberry describes `last` as "...come after the specified cursor"
    assert "after the specified cursor" not in SDL_PATH.read_text(encoding="utf-8")


def test_operation_messages_carry_the_error_code_enum() -> None:
    message = schema._schema.type_map["OperationMessage"]
    enum_type = schema._schema.type_map["ErrorCode"]

    assert str(message.fields["errorCode"].type) == "ErrorCode!"
    assert str(message.fields["code"].type) == "String"
    # every domain code and every code the API adds is a value of the enum
    assert set(enum_type.values) == {str(c) for c in ErrorCode} | set(API_CODES)


def test_datetime_is_rfc_3339_with_an_offset() -> None:
    date_time = schema._schema.type_map["DateTime"]

    assert date_time.specified_by_url == "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
    assert "WITH a UTC offset" in date_time.description


def test_every_mutation_returns_its_payload_or_operation_info() -> None:
    for name, field in schema._schema.mutation_type.fields.items():
        # Then each returns its own non-null union `<Mutation>Payload = Result | OperationInfo`
        union = field.type.of_type
        assert isinstance(union, GraphQLUnionType), name
        assert union.name == name[0].upper() + name[1:] + "Payload"
        assert [t.name for t in union.types][1:] == ["OperationInfo"], name


def test_each_request_gets_its_own_extension_instances() -> None:
    # Extensions keep per-request state (the execution context, counters); one instance
    # shared by concurrent requests in a threaded worker would mix them up.
    first = schema.get_extensions(sync=True)
    second = schema.get_extensions(sync=True)

    assert len(first) == len(second) >= 5
    assert {id(extension) for extension in first}.isdisjoint(id(e) for e in second)


def test_the_readme_error_table_is_the_error_code_enum() -> None:
    # Given the README's table of error codes
    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Error codes", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)`", table, flags=re.MULTILINE))
    documented |= {
        code
        for row in re.findall(r"^\| (`[A-Z_]+`(?:, `[A-Z_]+`)+) \|", table, flags=re.MULTILINE)
        for code in re.findall(r"`([A-Z_]+)`", row)
    }

    # Then it documents exactly the enum's values
    assert documented == set(schema._schema.type_map["ErrorCode"].values)


def test_a_message_without_a_known_code_gets_the_code_of_its_kind() -> None:
    # Given messages as strawberry-django builds them from Django's own errors
    kind = OperationMessage.Kind
    messages = {
        "a validator's code": OperationMessage(kind=kind.VALIDATION, message="m", code="invalid"),
        "a bare DoesNotExist": OperationMessage(kind=kind.ERROR, message="m", code=None),
        "a bare PermissionDenied": OperationMessage(kind=kind.PERMISSION, message="m"),
        "a known code": OperationMessage(kind=kind.VALIDATION, message="m", code="EMAIL_TAKEN"),
    }

    # Then each errorCode is a value of the enum
    assert {name: m.error_code().value for name, m in messages.items()} == {
        "a validator's code": "INVALID_INPUT",
        "a bare DoesNotExist": "NOT_FOUND",
        "a bare PermissionDenied": "PERMISSION_DENIED",
        "a known code": "EMAIL_TAKEN",
    }


def test_strawberry_django_builds_our_operation_info() -> None:
    # strawberry-django builds OperationInfo from the names in its mutation module; were an
    # upgrade to build it elsewhere, messages would lose `errorCode` at run time.
    import strawberry_django.mutations.fields as mutation_fields

    from api import payloads

    assert mutation_fields.OperationInfo is payloads.OperationInfo
    assert mutation_fields.OperationMessage is payloads.OperationMessage
    assert isinstance(
        mutation_fields._handle_exception(PermissionDenied("no")), payloads.OperationInfo
    )
