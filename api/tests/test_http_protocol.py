"""GraphQL over HTTP as the spec says: who needs a CSRF token, media types and status codes,
and a JSON error with a stable code for every refusal of the transport."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.test import RequestFactory

from api.schema import schema
from api.tests.conftest import GRAPHQL_URL, GraphQL, post_graphql
from api.views import GraphQLView
from reservation.actors import ANONYMOUS
from reservation.models import User
from reservation.tests.factories import PASSWORD

ME = "query Me { me { email } }"
INTROSPECTION = "query IntrospectionQuery { __schema { queryType { name } } }"
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { ... on User { email } }
}
"""
LOGOUT = "mutation Logout { logout { ... on LogoutResult { ok } } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def post(
    http: HttpClient,
    body: Any,
    *,
    content_type: str = "application/json",
    raw: bool = False,
    **headers: str,
) -> Any:
    return http.post(
        GRAPHQL_URL,
        data=body if raw else json.dumps(body),
        content_type=content_type,
        **headers,
    )


def refusal(response: Any) -> tuple[int, str]:
    """(status, code) of a refusal; its body is a GraphQL error response and nothing else."""
    body = json.loads(response.content)
    assert set(body) <= {"data", "errors"}
    assert body.get("data") is None
    [error] = body["errors"]
    assert set(error) == {"message", "extensions"}
    return response.status_code, error["extensions"]["code"]


# --- CSRF: only requests that carry the session cookie need the token ---------------------


def test_anonymous_introspection_needs_no_csrf_token(http: HttpClient) -> None:
    # Postman, Altair and graphql-codegen POST introspection with no cookie and no token
    response = post(http, {"query": INTROSPECTION})

    assert response.status_code == 200
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_login_without_a_session_needs_no_csrf_token(
    http: HttpClient, client_profile: object
) -> None:
    variables = {"email": "cleo@example.com", "password": PASSWORD}

    response = post(http, {"query": LOGIN, "variables": variables})

    assert response.json() == {"data": {"login": {"email": "cleo@example.com"}}}
    assert http.cookies[settings.SESSION_COOKIE_NAME].value


def test_bearer_requests_need_no_csrf_token(http: HttpClient, client_token: str) -> None:
    response = post(http, {"query": ME}, HTTP_AUTHORIZATION=f"Bearer {client_token}")

    assert response.json() == {"data": {"me": {"email": "cleo@example.com"}}}


def test_a_session_cookie_still_needs_the_csrf_token(
    gql: GraphQL, http: HttpClient, client_profile: object
) -> None:
    http.force_login(User.objects.get(email="cleo@example.com"))

    without = post(http, {"query": ME})
    with_token = gql(ME)

    assert refusal(without) == (403, "CSRF_FAILED")
    assert with_token.json() == {"data": {"me": {"email": "cleo@example.com"}}}


def test_a_bearer_request_is_never_authenticated_by_the_cookie(
    http: HttpClient, client_profile: object, stranger_token: str
) -> None:
    # A signed-in browser session, and a request that carries another user's token
    http.force_login(User.objects.get(email="cleo@example.com"))

    response = post(http, {"query": ME}, HTTP_AUTHORIZATION=f"Bearer {stranger_token}")

    assert response.json() == {"data": {"me": {"email": "sam@example.com"}}}
    # and the browser's own session is untouched
    assert post_graphql(http, ME).json() == {"data": {"me": {"email": "cleo@example.com"}}}


def test_the_admin_keeps_djangos_csrf_check(http: HttpClient) -> None:
    response = http.post("/admin/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403


# --- media types and status codes ---------------------------------------------------------


def test_application_json_is_unchanged(http: HttpClient) -> None:
    ok = post(http, {"query": "{ __typename }"}, HTTP_ACCEPT="application/json")
    invalid = post(http, {"query": "{ nope }"}, HTTP_ACCEPT="application/json")

    assert (ok.status_code, ok["Content-Type"]) == (200, "application/json")
    assert (invalid.status_code, invalid["Content-Type"]) == (200, "application/json")
    assert invalid.json()["data"] is None
    assert invalid.json()["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


def test_graphql_response_json_gets_the_spec_status_codes(
    http: HttpClient, client_profile: object
) -> None:
    accept = {"HTTP_ACCEPT": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}

    ok = post(http, {"query": "{ __typename }"}, **accept)
    syntax = post(http, {"query": "{"}, **accept)
    invalid = post(http, {"query": "{ nope }"}, **accept)
    coercion = post(
        http, {"query": "query ($n: Int!) { __typename }", "variables": {"n": "x"}}, **accept
    )
    # a field error is not a request error: 200, with data
    field_error = post(http, {"query": "{ me { email } }"}, **accept)

    assert (ok.status_code, ok["Content-Type"]) == (200, f"{GRAPHQL_RESPONSE}; charset=utf-8")
    assert ok.json() == {"data": {"__typename": "Query"}}
    for response in (syntax, invalid, coercion):
        assert response.status_code == 400
        assert response["Content-Type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
        assert "data" not in response.json()
    assert [e["extensions"]["code"] for e in invalid.json()["errors"]] == [
        "GRAPHQL_VALIDATION_FAILED"
    ]
    assert (field_error.status_code, field_error.json()) == (200, {"data": {"me": None}})


def test_accept_is_negotiated(http: HttpClient) -> None:
    def content_type(accept: str | None) -> tuple[int, str]:
        headers = {} if accept is None else {"HTTP_ACCEPT": accept}
        response = post(http, {"query": "{ __typename }"}, **headers)
        return response.status_code, response["Content-Type"]

    graphql_response = (200, f"{GRAPHQL_RESPONSE}; charset=utf-8")
    assert content_type(None) == (200, "application/json")
    assert content_type("*/*") == (200, "application/json")
    assert content_type(f"application/json, {GRAPHQL_RESPONSE}") == (200, "application/json")
    assert content_type(f"application/json;q=0.5, {GRAPHQL_RESPONSE}") == graphql_response
    assert content_type(f"{GRAPHQL_RESPONSE};q=0, application/json") == (200, "application/json")
    assert content_type("text/html") == (406, "application/json")
    assert refusal(post(http, {"query": "{ __typename }"}, HTTP_ACCEPT="image/png")) == (
        406,
        "NOT_ACCEPTABLE",
    )


# --- refusals of the transport: JSON, with a code ----------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('"hello"', (400, "INVALID_REQUEST")),
        ("123", (400, "INVALID_REQUEST")),
        ("null", (400, "INVALID_REQUEST")),
        ("true", (400, "INVALID_REQUEST")),
        (" ", (400, "INVALID_JSON")),
        ('{"query": "{ __typename }"', (400, "INVALID_JSON")),
        ("[" * 100_000, (400, "INVALID_JSON")),
        ('[{"query": "{ __typename }"}]', (400, "BATCHING_NOT_SUPPORTED")),
        ("[]", (400, "BATCHING_NOT_SUPPORTED")),
        ("{}", (400, "MISSING_QUERY")),
        ('{"query": 1}', (400, "INVALID_REQUEST")),
        ('{"query": "{ __typename }", "variables": "x"}', (400, "INVALID_REQUEST")),
        ('{"query": "{ __typename }", "operationName": []}', (400, "INVALID_REQUEST")),
        ('{"query": "{ __typename }", "extensions": 1}', (400, "INVALID_REQUEST")),
        ('{"query": "query A { __typename }", "operationName": "B"}', (400, "OPERATION_NOT_FOUND")),
    ],
)
def test_malformed_bodies_are_refused_with_a_code(
    http: HttpClient, body: str, expected: tuple[int, str]
) -> None:
    assert refusal(post(http, body, raw=True)) == expected


def test_bytes_that_are_not_utf8_are_bad_json(http: HttpClient) -> None:
    response = post(http, b'{"query": "\xff"}', raw=True)

    assert refusal(response) == (400, "INVALID_JSON")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/graphql",
        "application/json; charset=latin-1",
    ],
)
def test_other_media_types_are_refused(http: HttpClient, content_type: str) -> None:
    response = post(http, {"query": "{ __typename }"}, content_type=content_type)

    assert refusal(response) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_mutation_over_get_is_405_with_allow_post(http: HttpClient) -> None:
    response = http.get(GRAPHQL_URL, {"query": LOGOUT}, HTTP_ACCEPT="application/json")

    assert refusal(response) == (405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "POST"


def test_queries_over_get_work(http: HttpClient) -> None:
    response = http.get(
        GRAPHQL_URL,
        {
            "query": "query ($n: String!) { __type(name: $n) { name } }",
            "variables": '{"n": "Query"}',
        },
        HTTP_ACCEPT="application/json",
    )
    bad_variables = http.get(
        GRAPHQL_URL, {"query": "{ __typename }", "variables": "{"}, HTTP_ACCEPT="application/json"
    )

    assert response.json() == {"data": {"__type": {"name": "Query"}}}
    assert refusal(bad_variables) == (400, "INVALID_JSON")


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405(http: HttpClient, method: str) -> None:
    response = getattr(http, method)(GRAPHQL_URL)

    assert refusal(response) == (405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "GET, POST"


def test_the_ide_switched_off_is_a_json_404(rf: RequestFactory) -> None:
    view = GraphQLView.as_view(schema=schema, graphql_ide=None)  # GRAPHIQL_ENABLED=0
    request = rf.get(GRAPHQL_URL, HTTP_ACCEPT="text/html")
    request.actor = ANONYMOUS

    assert refusal(view(request)) == (404, "NOT_FOUND")


# --- a real client: graphql-http's audit suite against a live server ----------------------

AUDIT = Path(settings.BASE_DIR) / "devops" / "http-audit"


@pytest.mark.django_db(transaction=True)
def test_graphql_http_audit_passes(live_server: Any) -> None:
    """Every MUST and SHOULD audit of graphql-http (the spec's reference implementation)."""
    node = shutil.which("node")
    if node is None or not (AUDIT / "node_modules" / "graphql-http").is_dir():
        if os.environ.get("CI"):
            pytest.fail("node or devops/http-audit/node_modules missing: .ci/run installs them")
        pytest.skip("node or devops/http-audit/node_modules missing (npm ci --prefix it)")

    result = subprocess.run(  # noqa: S603 - node on the suite's own script
        [node, "audit.mjs", f"{live_server.url}{GRAPHQL_URL}"],
        cwd=AUDIT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"ok": 61, "warn": 0, "error": 0, "failed": []}, result.stdout
    assert result.returncode == 0
