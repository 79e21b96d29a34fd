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
from procrastinate.contrib.django.models import ProcrastinateJob

from api.ids import decode_id
from api.tests.conftest import GraphQL, csrf_token, gid, iso, token_of
from reservation.actors import Actor
from reservation.models import (
    ApiToken,
    AuditEntry,
    Client,
    Notification,
    Provider,
    Reservation,
    ReservationStatus,
)
from reservation.services import expiry
from reservation.services.audit import audit_record
from reservation.tests.factories import (
    NOW,
    at,
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
def test_slot_search_over_31_days_is_two_queries(
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

    # When anyone searches 31 days, it takes: the provider, then one statement for its policy,
    # working hours, windows, time off and the live reservations near the range
    with django_assert_num_queries(2):
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


CREATE = """
mutation Create($input: ReservationCreateInput!) {
  reservationCreate(input: $input) {
    ... on Reservation { id status start end expiresAt provider { name timeZone } }
    ... on OperationInfo { messages { code } }
  }
}
"""


# Committing for real (no test transaction around it): BEGIN and COMMIT are not statements a
# counter sees, but the SAVEPOINTs a wrapping test transaction adds would be.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("history", [0, 200])
def test_reservation_create_is_eight_statements_with_everything_it_guarantees(
    gql: GraphQL,
    django_assert_num_queries: QueryCounter,
    provider: Provider,
    client_profile: Client,
    client_token: str,
    history: int,
) -> None:
    # Given the client's and the provider's history, and lapsed holds of others in the way
    for i in range(history):
        make_reservation(
            provider=provider,
            client=client_profile,
            start=NOW - timedelta(days=1, hours=i),
            status=ReservationStatus.CONFIRMED,
        )
    others = [make_client(), make_client()]
    lapsed = [
        make_reservation(
            provider=provider,
            client=other,
            start=at(8, 9 + i),
            status=ReservationStatus.HELD,
            expires_at=NOW - timedelta(minutes=1),
        )
        for i, other in enumerate(others)
    ]
    fresh_tokens()
    expiry._pg_zones()  # read once per process, at its first expiry: not per booking
    variables = {
        "input": {
            "providerId": gid("Provider", provider.pk),
            "start": iso(at(8, 9)),
            "idempotencyKey": "k-1",
        }
    }

    # When the client holds the slot one of them had: the token; BEGIN; the provider's then
    # the client's lock; the slot data with the client's live holds and idempotency key; the
    # provider's lapsed holds expired (with audit, mails, their jobs); the hold with its audit
    # entry; COMMIT
    with django_assert_num_queries(8):
        response = gql(CREATE, variables, token=client_token)

    made = response.json()["data"]["reservationCreate"]
    assert (made["status"], made["start"], made["provider"]["name"]) == (
        "HELD",
        iso(at(8, 9)),
        "Pat's Practice",
    )
    assert {r.status for r in Reservation.objects.filter(pk__in=[r.pk for r in lapsed])} == {
        ReservationStatus.EXPIRED
    }
    mails = sorted(Notification.objects.filter(kind="RESERVATION_EXPIRED").values_list("pk"))
    assert len(mails) == 2
    # (Procrastinate's job table is not emptied between transactional tests: look for ours.)
    assert (
        sorted(
            ProcrastinateJob.objects.filter(
                task_name="reservation.send_notification",
                args__notification_id__in=[pk for (pk,) in mails],
            ).values_list("args__notification_id")
        )
        == mails
    )
    assert list(
        AuditEntry.objects.filter(action="reservation.create").values_list("subject_id", flat=True)
    ) == [decode_id(made["id"], "Reservation")]

    # And the same request again (idempotency key) is seven: the reservation read instead of
    # the expiry and the insert
    with django_assert_num_queries(7):
        again = gql(CREATE, variables, token=client_token)
    assert again.json()["data"]["reservationCreate"] == made


@pytest.mark.django_db(transaction=True)
def test_reservation_create_with_nothing_to_expire_is_seven_statements(
    gql: GraphQL,
    django_assert_num_queries: QueryCounter,
    provider: Provider,
    client_token: str,
) -> None:
    # Given a lapsed hold elsewhere in the provider's week (not in the new slot's way)
    make_reservation(
        provider=provider,
        client=make_client(),
        start=at(9, 14),
        status=ReservationStatus.HELD,
        expires_at=NOW - timedelta(minutes=1),
    )
    fresh_tokens()
    variables = {"input": {"providerId": gid("Provider", provider.pk), "start": iso(at(8, 9))}}

    # The token, BEGIN, two locks, the slot data, the hold with its audit entry, COMMIT
    with django_assert_num_queries(7):
        response = gql(CREATE, variables, token=client_token)

    assert response.json()["data"]["reservationCreate"]["status"] == "HELD"
