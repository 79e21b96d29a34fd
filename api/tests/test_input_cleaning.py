"""Every malformed request is answered with a code: one input-cleaning rule for every string
argument, names without invisible tricks, one operation per request, introspection limited,
no field suggestions with introspection off."""

import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.test import override_settings
from graphql import get_introspection_query

from api.tests.conftest import GRAPHQL_URL, GraphQL, errors
from reservation.models import TimeOff, User

TIME_OFF = """
mutation Off($start: DateTime!, $end: DateTime!, $reason: String!) {
  timeOffCreate(start: $start, end: $end, reason: $reason) {
    ... on OperationInfo { messages { code field } }
  }
}
"""
TIME_OFF_LITERAL = """
mutation { timeOffCreate(start: "2030-02-01T09:00:00Z", end: "2030-02-01T10:00:00Z",
  reason: "%s") { ... on OperationInfo { messages { code } } } }
"""
REGISTER = """
mutation Register($name: String!) {
  accountRegister(email: "new@example.com", password: "a long enough passphrase", name: $name) {
    ... on User { name }
    ... on OperationInfo { messages { code field } }
  }
}
"""
FREE_TIME = """
query Free($users: [String!]!) {
  freeTime(users: $users, start: "2030-02-01T00:00:00Z", end: "2030-02-02T00:00:00Z",
    durationMinutes: 30) { start }
}
"""
TIME_OFF_RANGE = {"start": "2030-02-01T09:00:00Z", "end": "2030-02-01T10:00:00Z"}


@pytest.mark.parametrize(
    "text",
    ["\x00", "before\x00after", "bell\x07", "\x1b[31m", "\x7f", "\x85", "\ud800", "\ufffe"],
)
def test_control_characters_in_any_string_variable_are_refused(
    gql: GraphQL, client_token: str, text: str
) -> None:
    response = gql(TIME_OFF, {**TIME_OFF_RANGE, "reason": text}, token=client_token)

    assert response.status_code == 200
    assert response.json()["data"] is None
    assert errors(response) == [{"path": None, "code": "INVALID_CHARACTERS"}]
    assert TimeOff.objects.count() == 0


def test_a_nul_escaped_in_a_string_literal_is_refused(gql: GraphQL, client_token: str) -> None:
    response = gql(TIME_OFF_LITERAL % "\\u0000", token=client_token)

    assert errors(response) == [{"path": None, "code": "INVALID_CHARACTERS"}]
    assert TimeOff.objects.count() == 0


def test_nul_in_a_list_of_ids_is_refused_not_a_500(gql: GraphQL, client_token: str) -> None:
    response = gql(
        FREE_TIME, {"users": ["cleo@example.com", "x\x00@example.com"]}, token=client_token
    )

    assert response.json()["data"] is None
    assert errors(response) == [{"path": None, "code": "INVALID_CHARACTERS"}]
    assert "$users[1]" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("text", ["line one\nline two", "tab\there", "cr\r\nlf", "Café ☕ 日本"])
def test_ordinary_text_passes_the_rule(gql: GraphQL, client_token: str, text: str) -> None:
    response = gql(TIME_OFF, {**TIME_OFF_RANGE, "reason": text}, token=client_token)

    assert "errors" not in response.json()
    assert TimeOff.objects.get().reason == text


def test_a_nul_over_get_is_refused_too(http: HttpClient) -> None:
    response = http.get(
        GRAPHQL_URL,
        {
            "query": "query ($n: String!) { __type(name: $n) { name } }",
            "variables": '{"n": "\\u0000"}',
        },
        HTTP_ACCEPT="application/json",
    )

    assert errors(response) == [{"path": None, "code": "INVALID_CHARACTERS"}]


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Ann\u202egpj.exe",  # right-to-left override
        "Ann\u2066Bob\u2069",  # isolates
        "\u200fAnn",  # right-to-left mark
        "Ann\u200bMarie",  # zero-width space
        "\ufeffAnn",  # byte-order mark
        "Ann\u2060",  # word joiner
        "\u200dAnn",  # a joiner with nothing to join
        "Ann \u200c Bob",  # ...or next to a space
    ],
)
def test_invisible_characters_are_refused_in_names(http: HttpClient, name: str) -> None:
    response = http.post(
        GRAPHQL_URL,
        json.dumps({"query": REGISTER, "variables": {"name": name}}),
        content_type="application/json",
    )

    assert response.json() == {
        "data": {"accountRegister": {"messages": [{"code": "INVALID_CHARACTERS", "field": "name"}]}}
    }
    assert not User.objects.filter(email="new@example.com").exists()


@pytest.mark.parametrize(
    "name",
    [
        "می\u200cخواهم",  # Persian: the zero-width non-joiner is part of the spelling
        "क्\u200dष",  # Devanagari with a joiner
        "👩\u200d💻 Ada",  # an emoji sequence
        "Zoë O'Brien-Łukasz",
    ],
)
def test_joiners_inside_words_are_kept(http: HttpClient, name: str) -> None:
    response = http.post(
        GRAPHQL_URL,
        json.dumps({"query": REGISTER, "variables": {"name": name}}),
        content_type="application/json",
    )

    assert response.json() == {"data": {"accountRegister": {"name": name}}}


# --- one operation, by name ---------------------------------------------------------------------


def post(http: HttpClient, body: dict[str, Any]) -> Any:
    return http.post(GRAPHQL_URL, json.dumps(body), content_type="application/json")


def test_several_operations_need_an_operation_name(http: HttpClient) -> None:
    document = "query A { a: __typename } query B { b: __typename }"

    unnamed = post(http, {"query": document})
    named = post(http, {"query": document, "operationName": "B"})

    assert unnamed.status_code == 200
    assert unnamed.json()["data"] is None
    assert errors(unnamed) == [{"path": None, "code": "OPERATION_NAME_REQUIRED"}]
    assert named.json() == {"data": {"b": "Query"}}
    assert post(http, {"query": "query A { a: __typename }"}).json() == {"data": {"a": "Query"}}


# --- introspection: depth-limited, and no suggestions when it is off --------------------------


def test_the_standard_introspection_query_passes(http: HttpClient) -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )

    response = post(http, {"query": query})

    assert "errors" not in response.json()
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize(
    "query",
    [
        # fan-out: fields of types of fields of types...
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        # a plain chain deeper than GRAPHQL_MAX_INTROSPECTION_DEPTH
        '{ __type(name: "Query") ' + "{ ofType " * 16 + "{ name }" + " }" * 16 + " }",
        # ...also when hidden in fragments
        'query { __type(name: "Query") { ...T } } fragment T on __Type { '
        + "ofType { " * 16
        + "name"
        + " }" * 16
        + " }",
    ],
)
def test_deep_introspection_is_refused(http: HttpClient, query: str) -> None:
    response = post(http, {"query": query})

    assert response.json()["data"] is None
    assert {e["code"] for e in errors(response)} == {"QUERY_TOO_DEEP"}


def test_the_introspection_depth_is_a_setting(http: HttpClient) -> None:
    query = '{ __type(name: "Query") { ofType { ofType { name } } } }'  # 4 deep

    with override_settings(GRAPHQL_MAX_INTROSPECTION_DEPTH=4):
        allowed = post(http, {"query": query})
    with override_settings(GRAPHQL_MAX_INTROSPECTION_DEPTH=3):
        refused = post(http, {"query": query})

    assert allowed.json() == {"data": {"__type": {"ofType": None}}}
    assert errors(refused) == [{"path": None, "code": "QUERY_TOO_DEEP"}]
    assert refused.json()["errors"][0]["message"] == (
        "'anonymous' exceeds maximum introspection depth of 3"
    )


def test_no_field_suggestions_while_introspection_is_off(http: HttpClient) -> None:
    query = "{ me { emial } providers(frist: 1) { totalCount } }"

    on = post(http, {"query": query})
    with override_settings(GRAPHQL_INTROSPECTION=False):
        off = post(http, {"query": query})

    assert any("Did you mean" in e["message"] for e in on.json()["errors"])
    assert [e["message"] for e in off.json()["errors"]] == [
        "Cannot query field 'emial' on type 'User'.",
        "Unknown argument 'frist' on field 'Query.providers'.",
    ]
    assert {e["code"] for e in errors(off)} == {"GRAPHQL_VALIDATION_FAILED"}
    assert settings.GRAPHQL_INTROSPECTION
