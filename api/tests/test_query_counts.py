"""Every list and the slot search run a fixed number of SQL queries, however many rows.

Each test runs the same request over a small and a large data set and asserts the same exact
count for both: a per-row query (a field the optimizer does not know) would make the large
case fail.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient

from api.tests.conftest import GraphQL, csrf_token, gid, iso, token_of
from reservation.actors import Actor
from reservation.models import ApiToken, Provider, ReservationStatus
from reservation.services.audit import audit_record
from reservation.tests.factories import (
    NOW,
    make_client,
    make_provider,
    make_reservation,
    make_time_off,
    make_user,
    make_window,
)

QueryCounter = Callable[..., Any]

SLOTS = """
query Slots($providerId: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $providerId, start: $start, end: $end) { start end }
}
"""

RESERVATIONS_PAGE = """
query Page {
  reservations(first: 100) {
    edges { node { id start provider { name timeZone } client { user { email } } } }
    totalCount
  }
}
"""

PROVIDERS = """
query Providers {
  providers(first: 100) { totalCount edges { node { id name timeZone } } }
}
"""

MY_CALENDAR = """
query MyCalendar {
  availabilityWindows(first: 100) { totalCount edges { node { id start end } } }
  timeOff(first: 100) { totalCount edges { node { id start end reason } } }
  apiTokens(first: 100) { totalCount edges { node { id name prefix lastUsedAt revokedAt } } }
}
"""

AUDIT_LOG = """
query AuditLog($subjectId: ID!) {
  auditLog(subjectId: $subjectId, first: 100) {
    totalCount
    edges { node { id at action actorKind changes actorUser { email isProvider isClient } } }
  }
}
"""


def fresh_tokens() -> None:
    """Mark every token as just used, so authenticating one is a single SELECT (no UPDATE)."""
    ApiToken.objects.update(last_used_at=NOW)


@pytest.mark.parametrize("bookings", [5, 200])
def test_slot_search_over_31_days_is_six_queries(
    gql: GraphQL,
    http: HttpClient,
    django_assert_num_queries: QueryCounter,
    provider: Provider,
    bookings: int,
) -> None:
    # Given a provider with `bookings` confirmed hours, and as many windows and time off
    # periods as the size suggests
    client = make_client()
    for i in range(bookings):
        start = NOW + timedelta(days=1, hours=3 * i)
        make_reservation(provider=provider, client=client, start=start)
    for i in range(bookings // 5):
        window_start = NOW + timedelta(days=40, hours=2 * i)
        make_window(provider=provider, start=window_start, end=window_start + timedelta(hours=1))
        make_time_off(
            user=provider.user,
            start=window_start + timedelta(hours=1),
            end=window_start + timedelta(hours=2),
        )
    csrf_token(http)
    variables = {
        "providerId": gid("Provider", provider.pk),
        "start": iso(NOW),
        "end": iso(NOW + timedelta(days=31)),
    }

    # When anyone searches 31 days, it takes: the provider, its policy, its working hours, its
    # windows, its time off, and the live reservations near the range
    with django_assert_num_queries(6):
        response = gql(SLOTS, variables)

    assert len(response.json()["data"]["availableSlots"]) > 0


@pytest.mark.parametrize("rows", [10, 100])
def test_a_page_of_reservations_is_two_queries(
    gql: GraphQL, django_assert_num_queries: QueryCounter, rows: int
) -> None:
    # Given `rows` reservations, each with its own provider and client (nothing shared that a
    # cache could hide)
    for i in range(rows):
        make_reservation(
            provider=make_provider(hours=None),
            client=make_client(),
            start=NOW + timedelta(days=1, hours=i),
            status=ReservationStatus.CONFIRMED,
        )
    staff = token_of(make_user(is_staff=True))
    fresh_tokens()

    # When staff read a page of them with their providers and clients: the token, then the
    # page with its total and every related row in one joined SELECT
    with django_assert_num_queries(2):
        response = gql(RESERVATIONS_PAGE, token=staff)

    page = response.json()["data"]["reservations"]
    assert page["totalCount"] == rows
    assert len(page["edges"]) == rows
    assert len({edge["node"]["provider"]["name"] for edge in page["edges"]}) == rows


@pytest.mark.parametrize("rows", [3, 60])
def test_the_provider_list_is_one_query(
    gql: GraphQL, http: HttpClient, django_assert_num_queries: QueryCounter, rows: int
) -> None:
    for _ in range(rows):
        make_provider(hours=None)
    csrf_token(http)

    with django_assert_num_queries(1):
        response = gql(PROVIDERS)

    assert response.json()["data"]["providers"]["totalCount"] == rows


@pytest.mark.parametrize("rows", [3, 60])
def test_a_providers_own_lists_are_one_query_each(
    gql: GraphQL,
    django_assert_num_queries: QueryCounter,
    provider: Provider,
    rows: int,
) -> None:
    for i in range(rows):
        start = NOW + timedelta(days=2, hours=3 * i)
        make_window(provider=provider, start=start, end=start + timedelta(hours=1))
        make_time_off(user=provider.user, start=start, end=start + timedelta(hours=1))
        token_of(provider.user)
    secret = token_of(provider.user)
    fresh_tokens()

    # The token, then windows, time off and tokens
    with django_assert_num_queries(4):
        response = gql(MY_CALENDAR, token=secret)

    data = response.json()["data"]
    assert data["availabilityWindows"]["totalCount"] == rows
    assert data["timeOff"]["totalCount"] == rows
    assert data["apiTokens"]["totalCount"] == rows + 1


@pytest.mark.parametrize("rows", [3, 60])
def test_an_audit_log_page_is_three_queries(
    gql: GraphQL,
    django_assert_num_queries: QueryCounter,
    provider: Provider,
    provider_token: str,
    rows: int,
) -> None:
    # Given entries on the provider by as many different users (clients and providers)
    for i in range(rows):
        actor = make_client().user if i % 2 else make_provider(hours=None).user
        audit_record(actor=Actor(user=actor), action="test", subject=provider, changes={}, at=NOW)
    fresh_tokens()

    # The token, whether the asker is involved, then the page with the actors joined
    with django_assert_num_queries(3):
        response = gql(AUDIT_LOG, {"subjectId": gid("Provider", provider.pk)}, token=provider_token)

    log = response.json()["data"]["auditLog"]
    assert log["totalCount"] == rows
    assert {edge["node"]["actorUser"]["isProvider"] for edge in log["edges"]} == {True, False}
