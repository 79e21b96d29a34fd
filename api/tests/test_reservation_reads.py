"""Reading reservations through the API: one by ID, and the paginated list."""

from typing import Any

import pytest

from api.tests.conftest import GraphQL, errors, gid, iso
from reservation.models import Client, Provider, Reservation, ReservationStatus
from reservation.tests.factories import at, make_client, make_provider, make_reservation

RESERVATION = """
query Reservation($id: ID!) {
  reservation(id: $id) { id start status }
}
"""

RESERVATIONS = """
query Reservations(
  $status: [ReservationStatus!], $providerId: ID, $start: DateTime, $end: DateTime,
  $first: Int, $after: String
) {
  reservations(
    status: $status, providerId: $providerId, start: $start, end: $end,
    first: $first, after: $after
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { start status provider { name } client { user { email } } } }
  }
}
"""

NODE = """
query Node($id: ID!) {
  node(id: $id) { ... on Reservation { client { user { email } } } }
}
"""


# --- reservation(id) -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["client", "provider", "staff"])
def test_the_people_involved_see_a_reservation(
    gql: GraphQL,
    hold: Reservation,
    client_token: str,
    provider_token: str,
    staff_token: str,
    who: str,
) -> None:
    token = {"client": client_token, "provider": provider_token, "staff": staff_token}[who]

    response = gql(RESERVATION, {"id": gid("Reservation", hold.pk)}, token=token)

    assert response.json() == {
        "data": {
            "reservation": {
                "id": gid("Reservation", hold.pk),
                "start": iso(at(8, 9)),
                "status": "HELD",
            }
        }
    }


def test_anyone_else_gets_the_same_not_found(
    gql: GraphQL, hold: Reservation, stranger_token: str
) -> None:
    reservation_ids = {
        "unknown": gid("Reservation", 987654321),
        "not theirs": gid("Reservation", hold.pk),
        "wrong type": gid("Provider", hold.pk),
        "malformed": "Reservation:1",
    }

    # When a stranger asks for each
    answers = {
        kind: gql(RESERVATION, {"id": reservation_id}, token=stranger_token).json()
        for kind, reservation_id in reservation_ids.items()
    }

    # Then someone else's reservation looks exactly like one that does not exist
    unknown = answers.pop("unknown")
    assert unknown["data"] is None
    assert [e["extensions"] for e in unknown["errors"]] == [{"code": "NOT_FOUND"}]
    assert answers == dict.fromkeys(answers, unknown)


def test_anonymous_cannot_read_a_reservation(gql: GraphQL, hold: Reservation) -> None:
    response = gql(RESERVATION, {"id": gid("Reservation", hold.pk)})

    assert errors(response) == [{"path": ["reservation"], "code": "UNAUTHENTICATED"}]


def test_node_hands_nothing_to_anyone_uninvolved(
    gql: GraphQL, hold: Reservation, stranger_token: str
) -> None:
    # strawberry's generic `node(id:)` would hand any reservation (and any user's e-mail) to
    # anyone, signed in or not; ours answers like an unknown ID.
    anonymous = gql(NODE, {"id": gid("Reservation", hold.pk)})
    stranger = gql(NODE, {"id": gid("Reservation", hold.pk)}, token=stranger_token)

    assert anonymous.json() == stranger.json() == {"data": {"node": None}}
    assert b"cleo@example.com" not in anonymous.content + stranger.content


# --- reservations ----------------------------------------------------------------------------


@pytest.fixture
def bookings(provider: Provider, client_profile: Client) -> dict[str, Reservation]:
    """Cleo's reservations with Pat and with Otto, and one of someone else with Pat."""
    otto = make_provider(email="otto@example.com")
    otto.display_name = "Otto"
    otto.save()
    other_client = make_client(email="olga@example.com")
    return {
        "pat-tue-10": make_reservation(provider=provider, client=client_profile, start=at(8, 10)),
        "otto-tue-09": make_reservation(provider=otto, client=client_profile, start=at(8, 9)),
        "pat-wed-09-cancelled": make_reservation(
            provider=provider,
            client=client_profile,
            start=at(9, 9),
            status=ReservationStatus.CANCELLED,
        ),
        "pat-thu-09-held": make_reservation(
            provider=provider,
            client=client_profile,
            start=at(10, 9),
            status=ReservationStatus.HELD,
        ),
        "pat-tue-11-olga": make_reservation(
            provider=provider, client=other_client, start=at(8, 11)
        ),
    }


def node(start: Any, status: str, provider: str, email: str) -> dict[str, Any]:
    return {
        "node": {
            "start": iso(start),
            "status": status,
            "provider": {"name": provider},
            "client": {"user": {"email": email}},
        }
    }


def listing(*nodes: dict[str, Any], has_next: bool = False, end_cursor: Any = None) -> dict:
    return {
        "data": {
            "reservations": {
                "totalCount": len(nodes),
                "pageInfo": {"hasNextPage": has_next, "endCursor": end_cursor},
                "edges": list(nodes),
            }
        }
    }


def test_a_client_lists_their_reservations_by_start(
    gql: GraphQL, bookings: dict[str, Reservation], client_token: str
) -> None:
    response = gql(RESERVATIONS, token=client_token)

    body = response.json()
    cleo = "cleo@example.com"
    assert body == listing(
        node(at(8, 9), "CONFIRMED", "Otto", cleo),
        node(at(8, 10), "CONFIRMED", "Pat's Practice", cleo),
        node(at(9, 9), "CANCELLED", "Pat's Practice", cleo),
        node(at(10, 9), "HELD", "Pat's Practice", cleo),
        end_cursor=body["data"]["reservations"]["pageInfo"]["endCursor"],
    )


def test_a_provider_lists_the_reservations_with_them(
    gql: GraphQL, bookings: dict[str, Reservation], provider_token: str
) -> None:
    response = gql(RESERVATIONS, {"status": ["CONFIRMED", "HELD"]}, token=provider_token)

    body = response.json()
    pat = "Pat's Practice"
    assert body == listing(
        node(at(8, 10), "CONFIRMED", pat, "cleo@example.com"),
        node(at(8, 11), "CONFIRMED", pat, "olga@example.com"),
        node(at(10, 9), "HELD", pat, "cleo@example.com"),
        end_cursor=body["data"]["reservations"]["pageInfo"]["endCursor"],
    )


def test_reservations_filter_by_provider_and_overlap(
    gql: GraphQL, provider: Provider, bookings: dict[str, Reservation], client_token: str
) -> None:
    # [Tue 10:30, Wed 09:00): the 10:00 booking overlaps it; Wednesday's starts at its end
    response = gql(
        RESERVATIONS,
        {
            "providerId": gid("Provider", provider.pk),
            "start": iso(at(8, 10, 30)),
            "end": iso(at(9, 9)),
        },
        token=client_token,
    )

    body = response.json()
    assert body == listing(
        node(at(8, 10), "CONFIRMED", "Pat's Practice", "cleo@example.com"),
        end_cursor=body["data"]["reservations"]["pageInfo"]["endCursor"],
    )


def test_reservations_page_with_cursors(
    gql: GraphQL, bookings: dict[str, Reservation], staff_token: str
) -> None:
    # Staff see all five; two at a time
    first = gql(RESERVATIONS, {"first": 2}, token=staff_token).json()["data"]["reservations"]
    second = gql(
        RESERVATIONS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=staff_token
    ).json()["data"]["reservations"]
    third = gql(
        RESERVATIONS, {"first": 2, "after": second["pageInfo"]["endCursor"]}, token=staff_token
    ).json()["data"]["reservations"]

    pages = [first, second, third]
    assert [page["totalCount"] for page in pages] == [5, 5, 5]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    assert [[edge["node"]["start"] for edge in page["edges"]] for page in pages] == [
        [iso(at(8, 9)), iso(at(8, 10))],
        [iso(at(8, 11)), iso(at(9, 9))],
        [iso(at(10, 9))],
    ]


def test_a_stranger_lists_nothing(
    gql: GraphQL, bookings: dict[str, Reservation], stranger_token: str
) -> None:
    response = gql(RESERVATIONS, token=stranger_token)

    assert response.json() == listing()


@pytest.mark.parametrize("bound", ["start", "end"])
def test_a_naive_bound_is_rejected_not_guessed(gql: GraphQL, client_token: str, bound: str) -> None:
    response = gql(RESERVATIONS, {bound: "2030-01-08T10:00:00"}, token=client_token)

    assert response.json()["data"] is None
    assert errors(response) == [{"path": ["reservations"], "code": "NAIVE_DATETIME"}]


@pytest.mark.parametrize("first", [101, 1000])
def test_more_than_100_per_page_is_invalid_input(
    gql: GraphQL, client_token: str, first: int
) -> None:
    response = gql(RESERVATIONS, {"first": first}, token=client_token)

    assert response.json()["data"] is None
    assert errors(response) == [{"path": ["reservations"], "code": "INVALID_INPUT"}]


def test_100_per_page_is_fine(gql: GraphQL, client_token: str) -> None:
    response = gql(RESERVATIONS, {"first": 100}, token=client_token)

    assert response.json() == listing()


def test_anonymous_cannot_list_reservations(gql: GraphQL) -> None:
    response = gql(RESERVATIONS)

    assert response.json()["data"] is None
    assert errors(response) == [{"path": ["reservations"], "code": "UNAUTHENTICATED"}]
