"""The API honours seed 002's rules (issue 11): a coach who takes bookings only from their
own clients (availableSlots, reservationCreate, providers), how far back a client lists their
past (reservations), and recurring series as one mutation."""

from datetime import timedelta

import pytest

from api.tests.conftest import GraphQL, gid, iso, token_of
from reservation.models import CoachAssignment, Reservation
from reservation.tests.factories import (
    NOW,
    at,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
)

pytestmark = pytest.mark.django_db

SLOTS = """
query Q($p: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $p, start: $start, end: $end) { start }
}"""
CREATE = """
mutation M($p: ID!, $start: DateTime!) {
  reservationCreate(input: {providerId: $p, start: $start}) {
    __typename ... on OperationInfo { messages { code } }
  }
}"""
PROVIDERS = "{ providers { edges { node { name } } } }"
RESERVATIONS = "{ reservations { edges { node { start } } } }"
SERIES = """
mutation M($p: ID!, $start: DateTime!, $all: Boolean!) {
  reservationSeriesCreate(input: {providerId: $p, start: $start, everyWeeks: 1, count: 3,
                                  allOrNothing: $all}) {
    __typename
    ... on ReservationSeriesResult { booked { start status } missed { start code } }
    ... on OperationInfo { messages { code } }
  }
}"""


@pytest.fixture
def restricted():
    coach = make_provider(email="anna@example.com")
    coach.display_name = "Anna"
    coach.save(update_fields=["display_name"])
    make_policy(provider=coach, restrict_to_assigned_clients=True)
    return coach


def test_a_restricted_coach_is_hidden_and_closed_to_clients_not_theirs(
    gql: GraphQL, restricted
) -> None:
    mine, stranger = make_client(), make_client()
    CoachAssignment.objects.create(provider=restricted, client=mine, created_at=NOW)
    open_coach = make_provider()
    open_coach.display_name = "Bob"
    open_coach.save(update_fields=["display_name"])
    window = {"p": gid("Provider", restricted.pk), "start": iso(at(8, 0)), "end": iso(at(9, 0))}
    mine_token, stranger_token = token_of(mine.user), token_of(stranger.user)

    names = lambda token: [  # noqa: E731
        e["node"]["name"] for e in gql(PROVIDERS, token=token).json()["data"]["providers"]["edges"]
    ]
    assert names(mine_token) == ["Anna", "Bob"]
    assert names(stranger_token) == ["Bob"]
    assert names(token_of(restricted.user)) == ["Anna", "Bob"]  # the coach sees themselves

    slots = gql(SLOTS, window, token=stranger_token).json()
    assert slots["data"] is None
    assert [e["extensions"]["code"] for e in slots["errors"]] == ["CLIENT_NOT_ASSIGNED"]
    anonymous = gql(SLOTS, window).json()
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["CLIENT_NOT_ASSIGNED"]
    assert len(gql(SLOTS, window, token=mine_token).json()["data"]["availableSlots"]) == 8

    start = {"p": gid("Provider", restricted.pk), "start": iso(at(8, 9))}
    refused = gql(CREATE, start, token=stranger_token).json()["data"]["reservationCreate"]
    assert refused == {"__typename": "OperationInfo", "messages": [{"code": "CLIENT_NOT_ASSIGNED"}]}
    assert Reservation.objects.count() == 0
    made = gql(CREATE, start, token=mine_token).json()["data"]["reservationCreate"]
    assert made == {"__typename": "Reservation"}
    assert Reservation.objects.get().client == mine


def test_a_client_lists_their_past_only_back_to_the_policy_limit(gql: GraphQL) -> None:
    coach, client = make_provider(), make_client()
    make_policy(provider=coach, past_weeks_visible=4)
    for weeks in (5, 3):
        make_reservation(provider=coach, client=client, start=NOW - timedelta(weeks=weeks))
    make_reservation(provider=coach, client=client, start=at(9, 9))

    def starts(token: str) -> list[str]:
        data = gql(RESERVATIONS, token=token).json()["data"]["reservations"]
        return [edge["node"]["start"] for edge in data["edges"]]

    assert starts(token_of(client.user)) == [
        iso(NOW - timedelta(weeks=3)),
        iso(at(9, 9)),
    ]
    # The provider (and staff) keep the whole history.
    assert len(starts(token_of(coach.user))) == 3


def test_a_series_through_the_api_all_or_nothing_or_the_free_ones(gql: GraphQL) -> None:
    coach, client = make_provider(), make_client()
    make_reservation(provider=coach, client=make_client(), start=at(15, 9))
    token = token_of(client.user)
    variables = {"p": gid("Provider", coach.pk), "start": iso(at(8, 9)), "all": True}

    whole = gql(SERIES, variables, token=token).json()["data"]["reservationSeriesCreate"]
    assert whole == {"__typename": "OperationInfo", "messages": [{"code": "SERIES_INCOMPLETE"}]}
    assert Reservation.objects.filter(client=client).count() == 0

    partial = gql(SERIES, {**variables, "all": False}, token=token).json()
    assert partial["data"]["reservationSeriesCreate"] == {
        "__typename": "ReservationSeriesResult",
        "booked": [
            {"start": iso(at(8, 9)), "status": "CONFIRMED"},
            {"start": iso(at(22, 9)), "status": "CONFIRMED"},
        ],
        "missed": [{"start": iso(at(15, 9)), "code": "SLOT_UNAVAILABLE"}],
    }
