"""The endpoint refuses abusive requests with a code, before they cost anything, and stays up."""

import json
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client as HttpClient
from django.test import override_settings
from psycopg import errors as pg_errors

from api import persisted
from api.persisted import document_hash
from api.tests.conftest import GRAPHQL_URL, GraphQL, errors
from reservation.models import PersistedQuery

ME = "query Me { me { email } }"
EVENTS = "query Deep { events(first: 1) { edges { node { organizer { email } } } } }"


def nested(depth: int) -> str:
    """A document `depth` fields deep: `me { a { a { ... } } }`."""
    return "query { me " + "{ a " * (depth - 1) + "{ email }" + " }" * (depth - 1) + " }"


def codes(response: object) -> set[str]:
    return {error["code"] for error in errors(response)}  # type: ignore[arg-type]


def assert_still_serving(gql: GraphQL, token: str) -> None:
    response = gql(ME, token=token)
    assert response.json() == {"data": {"me": {"email": "cleo@example.com"}}}


# --- document limits -------------------------------------------------------------------------


def test_a_depth_20_query_is_refused(gql: GraphQL, client_token: str) -> None:
    response = gql(nested(20), token=client_token)

    assert response.status_code == 200
    assert response.json()["data"] is None
    assert "QUERY_TOO_DEEP" in codes(response)
    assert_still_serving(gql, client_token)


def test_depth_is_a_setting(gql: GraphQL, client_token: str) -> None:
    # events > edges > node > organizer > email: four levels below the root field
    with override_settings(GRAPHQL_MAX_DEPTH=4):
        allowed = gql(EVENTS, token=client_token)
    with override_settings(GRAPHQL_MAX_DEPTH=3):
        refused = gql(EVENTS, token=client_token)

    assert allowed.json() == {"data": {"events": {"edges": []}}}
    assert refused.json()["data"] is None
    assert errors(refused) == [{"path": None, "code": "QUERY_TOO_DEEP"}]


def test_a_1000_alias_query_is_refused(gql: GraphQL, client_token: str) -> None:
    document = "query { " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }"

    # 3000 tokens: refused while parsing, by the token limit (2000), before anything else
    by_tokens = gql(document, token=client_token)
    with override_settings(GRAPHQL_MAX_TOKENS=10_000):
        by_aliases = gql(document, token=client_token)

    assert by_tokens.json()["data"] is None
    assert errors(by_tokens) == [{"path": None, "code": "TOO_MANY_TOKENS"}]
    assert by_aliases.json()["data"] is None
    assert errors(by_aliases) == [{"path": None, "code": "TOO_MANY_ALIASES"}]
    assert_still_serving(gql, client_token)


def test_the_limits_messages_are_the_ones_mapped(gql: GraphQL, client_token: str) -> None:
    """api.errors recognises the refusals by these messages: an upgrade that rewords them
    must fail here, not silently turn the codes into GRAPHQL_VALIDATION_FAILED."""
    with override_settings(GRAPHQL_MAX_DEPTH=2):
        deep = gql(EVENTS, token=client_token)
    with override_settings(GRAPHQL_MAX_ALIASES=1):
        aliases = gql("{ a: __typename b: __typename }", token=client_token)
    with override_settings(GRAPHQL_MAX_TOKENS=12):
        tokens = gql("{ " + "__typename " * 20 + "}", token=client_token)

    assert [e["message"] for e in deep.json()["errors"]] == [
        "'Deep' exceeds maximum operation depth of 2"
    ]
    assert [e["message"] for e in aliases.json()["errors"]] == ["2 aliases found. Allowed: 1"]
    assert [e["message"] for e in tokens.json()["errors"]] == [
        "Syntax Error: Document contains more than 12 tokens. Parsing aborted."
    ]


# --- request body ----------------------------------------------------------------------------


def test_a_2_mb_body_is_refused_with_413(http: HttpClient, gql: GraphQL, client_token: str) -> None:
    body = json.dumps({"query": ME, "variables": {"padding": "x" * 2_000_000}})

    response = http.post(
        GRAPHQL_URL,
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {client_token}",
    )

    assert response.status_code == 413
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "The request body is larger than 1048576 bytes.",
                "extensions": {"code": "REQUEST_TOO_LARGE"},
            }
        ],
    }
    assert_still_serving(gql, client_token)


def test_a_body_under_the_limit_is_served(http: HttpClient, client_token: str) -> None:
    body = json.dumps({"query": ME, "variables": {"padding": "x" * 1_000_000}})

    response = http.post(
        GRAPHQL_URL,
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {client_token}",
    )

    assert response.json() == {"data": {"me": {"email": "cleo@example.com"}}}


# --- introspection ---------------------------------------------------------------------------


INTROSPECT = "{ __schema { queryType { name } } }"


def test_introspection_can_be_switched_off(gql: GraphQL, client_token: str) -> None:
    on = gql(INTROSPECT, token=client_token)
    with override_settings(GRAPHQL_INTROSPECTION=False):
        off = gql(INTROSPECT, token=client_token)
        typename = gql("{ __typename }", token=client_token)

    assert on.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    assert off.json()["data"] is None
    assert codes(off) == {"INTROSPECTION_DISABLED"}
    assert typename.json() == {"data": {"__typename": "Query"}}


# --- statement timeout -----------------------------------------------------------------------


def test_connections_carry_the_statement_timeout(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("5s",)


def test_a_runaway_statement_is_cancelled(db: None) -> None:
    # A fresh connection with the app's parameters, but 100 ms instead of 5 s
    params = {**connection.get_connection_params(), "options": "-c statement_timeout=100"}
    with psycopg.connect(**params, autocommit=True) as fresh:
        with pytest.raises(pg_errors.QueryCanceled, match="statement timeout"):
            fresh.execute("SELECT pg_sleep(2)")
        # ...and the connection still serves the next statement
        assert fresh.execute("SELECT 1").fetchone() == (1,)


# --- security headers and CORS ---------------------------------------------------------------


def test_responses_carry_the_security_headers(gql: GraphQL, client_token: str) -> None:
    response = gql(ME, token=client_token)

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
def test_cors_allows_only_the_listed_origins(http: HttpClient) -> None:
    def preflight(origin: str) -> object:
        return http.options(
            GRAPHQL_URL,
            HTTP_ORIGIN=origin,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
        )

    allowed = preflight("https://app.example.com")
    other = preflight("https://evil.example.net")

    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "authorization" in allowed["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in allowed
    assert "Access-Control-Allow-Origin" not in other


# --- persisted operations --------------------------------------------------------------------


@pytest.fixture
def registered(db: None, tmp_path: Path) -> str:
    """ME registered through the management command; returns its hash."""
    persisted.clear_cache()
    manifest = tmp_path / "operations.json"
    manifest.write_text(json.dumps({document_hash(ME): ME}))
    call_command("persisted_queries_load", str(manifest), stdout=None)
    return document_hash(ME)


def post(http: HttpClient, body: dict[str, object], token: str) -> object:
    return http.post(
        GRAPHQL_URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def by_hash(sha256: str) -> dict[str, object]:
    return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}}}


def test_the_command_registers_operations_by_hash(registered: str) -> None:
    row = PersistedQuery.objects.get()
    assert (row.sha256, row.document, row.name) == (registered, ME, "Me")


def test_the_command_refuses_a_wrong_hash_and_loads_nothing(db: None, tmp_path: Path) -> None:
    manifest = tmp_path / "operations.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    {"id": document_hash(ME), "name": "Me", "type": "query", "body": ME},
                    {"id": "0" * 64, "name": "Other", "type": "query", "body": "{ me { id } }"},
                ],
            }
        )
    )

    with pytest.raises(CommandError, match="is not the SHA-256 of its document"):
        call_command("persisted_queries_load", str(manifest))

    assert PersistedQuery.objects.count() == 0


def test_a_registered_hash_runs_its_document(
    http: HttpClient, registered: str, client_token: str
) -> None:
    response = post(http, by_hash(registered), client_token)
    document_id = post(http, {"documentId": f"sha256:{registered}"}, client_token)

    assert response.json() == {"data": {"me": {"email": "cleo@example.com"}}}
    assert document_id.json() == {"data": {"me": {"email": "cleo@example.com"}}}


def test_an_unknown_hash_is_not_found(http: HttpClient, registered: str, client_token: str) -> None:
    response = post(http, by_hash("f" * 64), client_token)

    assert response.status_code == 200  # Apollo clients then retry with the document
    assert errors(response) == [{"path": None, "code": "PERSISTED_QUERY_NOT_FOUND"}]


def test_a_hash_that_is_not_the_documents_is_refused(
    http: HttpClient, registered: str, client_token: str
) -> None:
    response = post(http, {"query": "{ me { id } }", **by_hash(registered)}, client_token)

    assert response.status_code == 400
    assert errors(response) == [{"path": None, "code": "PERSISTED_QUERY_HASH_MISMATCH"}]


@override_settings(GRAPHQL_PERSISTED_ONLY=True)
def test_allowlist_mode_runs_registered_operations_only(
    http: HttpClient, registered: str, client_token: str
) -> None:
    unregistered = post(http, {"query": "{ me { id email } }"}, client_token)
    full_text = post(http, {"query": ME}, client_token)
    hash_only = post(http, by_hash(registered), client_token)

    assert unregistered.status_code == 400
    assert errors(unregistered) == [{"path": None, "code": "PERSISTED_QUERY_NOT_ALLOWED"}]
    assert full_text.json() == {"data": {"me": {"email": "cleo@example.com"}}}
    assert hash_only.json() == {"data": {"me": {"email": "cleo@example.com"}}}
