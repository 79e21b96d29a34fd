"""The cost budget: estimated before execution, refused over the caller's budget with
QUERY_TOO_COSTLY, reported in `extensions` when asked, smaller for anonymous callers."""

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from graphql import parse

from api import cost
from api.schema import schema
from api.tests.conftest import GRAPHQL_URL, errors, gid
from reservation.models import Provider

SLOTS_61_DAYS = """
%s: availableSlots(providerId: $p, start: "2030-01-08T00:00:00Z", end: "2030-03-10T00:00:00Z") {
  start
}
"""
FREE_YEAR = """
%s: freeTime(users: ["cleo@example.com"], start: "2030-01-08T00:00:00Z",
  end: "2031-01-08T00:00:00Z", durationMinutes: 30) { start }
"""


def aliased(template: str, count: int, variables: str = "") -> str:
    fields = "\n".join(template % f"a{i}" for i in range(count))
    return f"query Many{variables} {{ {fields} }}"


def post(http: HttpClient, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return http.post(GRAPHQL_URL, json.dumps(body), content_type="application/json", **headers)


def estimate(document: str, variables: dict[str, Any] | None = None) -> int:
    return cost.estimate(schema._schema, parse(document).definitions, None, variables)


# --- the estimate -------------------------------------------------------------------------------


def test_the_estimate_follows_ranges_pages_and_aliases() -> None:
    one_day = "{ availableSlots(providerId: 1, start: $s, end: $e, first: 10) { start } }"
    days = lambda n: {"s": "2030-01-01T00:00:00Z", "e": f"2030-01-{1 + n:02d}T00:00:00Z"}  # noqa: E731

    # 2 per day of range, plus one per slot of the page
    assert estimate(one_day, days(1)) == 2 + 10
    assert estimate(one_day, days(30)) == 60 + 10
    # the argument's default page (1000) when `first` is not given
    assert estimate(one_day.replace(", first: 10", ""), days(1)) == 2 + 1000
    # freeTime: 500 a call, 4 per day and person; each interval one item
    free = (
        'query ($u: [String!]!) { freeTime(users: $u, start: "2030-01-01T00:00:00Z", '
        'end: "2030-01-11T00:00:00Z", durationMinutes: 30, limit: 5) { start } }'
    )
    assert estimate(free, {"u": ["a@example.com"]}) == 500 + 40 + 5
    assert (
        estimate(free, {"u": ["a@example.com", "b@example.com", "c@example.com"]}) == 500 + 120 + 5
    )
    # a connection: its page multiplies its edges; objects cost 1, scalars nothing
    assert estimate("{ providers(first: 7) { totalCount edges { node { id } } } }") == 1 + 7 * 2
    assert estimate("{ providers { edges { node { id } } } }") == 1 + 100 * 2  # the max page
    # aliases repeat the cost; __typename is free; introspection is flat
    assert estimate("{ a: me { id } b: me { id } __typename }") == 2
    assert estimate("{ __schema { types { name fields { name } } } }") == 100
    # fragments count where they are spread
    assert estimate("{ me { ...F } } fragment F on User { id }") == 1


def test_an_unreadable_range_costs_nothing_extra() -> None:
    # the resolver refuses it (NAIVE_DATETIME, INVALID_TIME_RANGE) without doing the work
    query = "{ availableSlots(providerId: 1, start: $s, end: $e, first: 1) { start } }"

    assert estimate(query, {"s": "nonsense", "e": "2030-01-02T00:00:00Z"}) == 1
    assert estimate(query, {"s": "2030-01-02T00:00:00", "e": "2030-01-03T00:00:00Z"}) == 1
    assert estimate(query, {"s": "2030-01-03T00:00:00Z", "e": "2030-01-02T00:00:00Z"}) == 1


# --- the budget ----------------------------------------------------------------------------------


def test_29_aliased_61_day_slot_queries_are_refused_before_any_work(
    http: HttpClient, provider: Provider
) -> None:
    document = aliased(SLOTS_61_DAYS, 29, "($p: ID!)")

    with CaptureQueriesContext(connection) as queries:
        response = post(http, {"query": document, "variables": {"p": gid("Provider", provider.pk)}})

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert errors(response) == [{"path": None, "code": "QUERY_TOO_COSTLY"}]
    assert body["errors"][0]["extensions"]["cost"] == {"estimated": 29 * 1122, "limit": 2000}
    assert len(queries) == 0  # anonymous: not even a lookup


def test_anonymous_callers_get_the_smaller_budget(
    http: HttpClient, provider: Provider, client_token: str
) -> None:
    document = aliased(SLOTS_61_DAYS, 2, "($p: ID!)")  # 2 * 1122
    body = {"query": document, "variables": {"p": gid("Provider", provider.pk)}}

    anonymous = post(http, body)
    signed_in = post(http, body, token=client_token)

    assert errors(anonymous) == [{"path": None, "code": "QUERY_TOO_COSTLY"}]
    assert "errors" not in signed_in.json()
    assert len(signed_in.json()["data"]["a0"]) > 0


def test_25_aliased_year_long_free_time_queries_are_refused(
    http: HttpClient, client_token: str
) -> None:
    response = post(http, {"query": aliased(FREE_YEAR, 25)}, token=client_token)

    assert errors(response) == [{"path": None, "code": "QUERY_TOO_COSTLY"}]
    assert response.json()["errors"][0]["extensions"]["cost"]["limit"] == 10_000


def test_the_budgets_are_settings(http: HttpClient, client_token: str) -> None:
    document = aliased(FREE_YEAR, 1)  # 500 + 4 * 365 + 10

    with override_settings(GRAPHQL_COST_LIMIT=1970):
        allowed = post(http, {"query": document, "extensions": {"cost": True}}, token=client_token)
    with override_settings(GRAPHQL_COST_LIMIT=1969):
        refused = post(http, {"query": document}, token=client_token)

    assert allowed.json()["extensions"] == {"cost": {"estimated": 1970, "limit": 1970}}
    assert "errors" not in allowed.json()
    assert errors(refused) == [{"path": None, "code": "QUERY_TOO_COSTLY"}]


def test_the_cost_is_reported_only_when_asked(http: HttpClient) -> None:
    asked = post(http, {"query": "{ me { id } }", "extensions": {"cost": True}})
    not_asked = post(http, {"query": "{ me { id } }"})

    assert asked.json() == {
        "data": {"me": None},
        "extensions": {"cost": {"estimated": 1, "limit": 2000}},
    }
    assert not_asked.json() == {"data": {"me": None}}


@pytest.mark.parametrize("accept", ["application/graphql-response+json"])
def test_a_refusal_is_a_request_error_under_graphql_response_json(
    http: HttpClient, accept: str
) -> None:
    response = http.post(
        GRAPHQL_URL,
        json.dumps({"query": aliased(FREE_YEAR, 25)}),
        content_type="application/json",
        HTTP_ACCEPT=accept,
    )

    assert response.status_code == 400
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
