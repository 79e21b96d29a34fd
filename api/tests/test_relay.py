"""Relay done right: keyset cursors that survive writes between pages, INVALID_CURSOR for
cursors a list did not hand out, sorting enums, and node/nodes with each type's permissions."""

import base64
import json
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from graphql import GraphQLObjectType

from api.nodes import MAX_NODES, RESOLVERS
from api.schema import schema
from api.tests.conftest import GraphQL, errors, gid, iso, token_of
from reservation.models import AuditEntry, Client, Event, Provider, Reservation
from reservation.services import events
from reservation.services.events import SlotInput
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    make_client,
    make_provider,
    make_reservation,
    make_user,
)

PAGE = """
query Page($first: Int, $after: String, $last: Int, $before: String, $order: ReservationOrder!) {
  reservations(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id start } }
  }
}
"""

TOKENS = "query T($after: String) { apiTokens(first: 1, after: $after) { edges { cursor } } }"

NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id ... on Reservation { start status } }
}
"""

NODES = """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) { __typename id }
}
"""


@pytest.fixture
def diary(provider: Provider, client_profile: Client) -> list[Reservation]:
    """Cleo's eight confirmed hours with Pat, one a day at 10:00 from Tuesday on."""
    return [
        make_reservation(provider=provider, client=client_profile, start=at(8 + day, 10))
        for day in range(8)
    ]


def page(gql: GraphQL, token: str, order: str = "START_ASC", **arguments: Any) -> dict[str, Any]:
    response = gql(PAGE, {"order": order, **arguments}, token=token)
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["reservations"]


def starts(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["start"] for edge in connection["edges"]]


# --- keyset cursors ---------------------------------------------------------------------------


def test_writes_between_pages_neither_repeat_nor_skip_a_row(
    gql: GraphQL,
    diary: list[Reservation],
    provider: Provider,
    client_profile: Client,
    client_token: str,
) -> None:
    # Given Cleo read her first page of three (Tue, Wed, Thu)
    first = page(gql, client_token, first=3)
    assert starts(first) == [iso(at(8 + day, 10)) for day in range(3)]

    # When, before she asks for the next page, two bookings are made before the cursor and
    # one after it, the row the cursor points at is deleted, and so is one on the next page
    for day in (8, 9):
        make_reservation(provider=provider, client=client_profile, start=at(day, 15))
    make_reservation(provider=provider, client=client_profile, start=at(12, 15))
    diary[2].delete()
    diary[4].delete()
    second = page(gql, client_token, first=3, after=first["pageInfo"]["endCursor"])
    third = page(gql, client_token, first=3, after=second["pageInfo"]["endCursor"])

    # Then the next pages go on right after Thursday 10:00: nothing she saw comes again, and
    # every row that existed throughout comes exactly once (the new one after the cursor too)
    assert starts(second) == [iso(at(11, 10)), iso(at(12, 15)), iso(at(13, 10))]
    assert starts(third) == [iso(at(14, 10)), iso(at(15, 10))]
    assert (second["pageInfo"]["hasNextPage"], third["pageInfo"]["hasNextPage"]) == (True, False)
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["totalCount"] == third["totalCount"] == 9


def test_paging_backwards_from_a_cursor(
    gql: GraphQL, diary: list[Reservation], client_token: str
) -> None:
    # Given the cursor of Saturday's booking
    everything = page(gql, client_token, first=8)
    saturday = everything["edges"][4]["cursor"]

    # When Cleo asks for the two before it
    before = page(gql, client_token, last=2, before=saturday)

    # Then she gets Thursday and Friday, in the list's order
    assert starts(before) == [iso(at(10, 10)), iso(at(11, 10))]
    assert before["pageInfo"]["hasPreviousPage"] is True
    assert before["pageInfo"]["hasNextPage"] is True
    assert before["pageInfo"]["startCursor"] == everything["edges"][2]["cursor"]


def test_the_order_enum_reverses_the_list_and_its_cursors(
    gql: GraphQL, diary: list[Reservation], client_token: str
) -> None:
    latest = page(gql, client_token, order="START_DESC", first=2)
    then = page(
        gql, client_token, order="START_DESC", first=2, after=latest["pageInfo"]["endCursor"]
    )

    assert starts(latest) + starts(then) == [iso(at(15 - day, 10)) for day in range(4)]


def _tampered(cursor: str) -> str:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    forged = raw.replace("2030", "2029")
    assert forged != raw
    return base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")


def test_a_cursor_the_list_did_not_hand_out_is_invalid_cursor(
    gql: GraphQL, diary: list[Reservation], client_token: str
) -> None:
    # Given a cursor of the list in start order, and one of another list
    own = page(gql, client_token, first=1)["pageInfo"]["endCursor"]
    token_cursor = gql(TOKENS, token=client_token).json()["data"]["apiTokens"]["edges"][0]["cursor"]
    attempts = {
        "garbage": "not a cursor",
        "bad padding": "abc",
        "empty base64": "",
        "an old offset cursor": "YXJyYXljb25uZWN0aW9uOjA=",
        "tampered": _tampered(own),
        "another list's": token_cursor,
        "this list in another order": own,
    }

    # When each is sent (the last with the list in the other order)
    answers = {
        name: gql(
            PAGE,
            {
                "first": 2,
                "after": cursor,
                "order": "START_DESC" if name == "this list in another order" else "START_ASC",
            },
            token=client_token,
        )
        for name, cursor in attempts.items()
    }

    # Then every one is INVALID_CURSOR, with no page (an empty cursor means none at all)
    empty = answers.pop("empty base64")
    assert starts(empty.json()["data"]["reservations"]) == [iso(at(8, 10)), iso(at(9, 10))]
    codes = {name: errors(response) for name, response in answers.items()}
    assert codes == {
        name: [{"path": ["reservations"], "code": "INVALID_CURSOR"}] for name in answers
    }
    assert all(response.json()["data"] is None for response in answers.values())


@pytest.mark.parametrize(("argument", "value"), [("first", 101), ("last", 101), ("first", -1)])
def test_page_sizes_outside_0_to_100_are_invalid_input(
    gql: GraphQL, client_token: str, argument: str, value: int
) -> None:
    response = gql(PAGE, {argument: value, "order": "START_ASC"}, token=client_token)

    assert errors(response) == [{"path": ["reservations"], "code": "INVALID_INPUT"}]


# --- sorting ----------------------------------------------------------------------------------

EVENTS = """
query Events($order: EventOrder!) { events(orderBy: $order) { edges { node { title } } } }
"""


def test_events_sort_by_start_with_proposed_ones_last(gql: GraphQL) -> None:
    # Given Olga's events: proposed A, scheduled B (later) and C (earlier)
    olga = make_user(email="olga@example.com")
    token = token_of(olga)
    party = make_user(email="pia@example.com").email
    for title, day in (("A", None), ("B", 12), ("C", 10)):
        event = events.event_propose(
            actor=actor_for(olga),
            parties=[party],
            slots=[SlotInput(start=at(day or 9, 9), duration_minutes=60)],
            title=title,
            now=NOW,
        )
        if day is not None:
            events.event_agree(
                actor=actor_for(olga),
                event_id=event.pk,
                slot_id=event.candidates.get().pk,
                expected_version=event.version,
                now=NOW,
            )

    def titles(order: str) -> list[str]:
        data = gql(EVENTS, {"order": order}, token=token).json()["data"]["events"]
        return [edge["node"]["title"] for edge in data["edges"]]

    assert titles("START_ASC") == ["C", "B", "A"]
    assert titles("START_DESC") == ["B", "C", "A"]
    assert titles("CREATED_DESC") == ["C", "B", "A"]
    assert titles("CREATED_ASC") == ["A", "B", "C"]

    # And paging one at a time crosses from the scheduled events to the proposed one (whose
    # start is null) in each order, forwards and backwards
    paged = """query P($order: EventOrder!, $after: String, $before: String, $first: Int,
        $last: Int) { events(orderBy: $order, after: $after, before: $before, first: $first,
        last: $last) { pageInfo { endCursor startCursor } edges { node { title } } } }"""
    for order in ("START_ASC", "START_DESC"):
        forwards, cursor = [], None
        for _ in range(3):
            data = gql(paged, {"order": order, "first": 1, "after": cursor}, token=token).json()
            connection = data["data"]["events"]
            forwards += [edge["node"]["title"] for edge in connection["edges"]]
            cursor = connection["pageInfo"]["endCursor"]
        backwards = []
        for _ in range(2):
            data = gql(paged, {"order": order, "last": 1, "before": cursor}, token=token).json()
            connection = data["data"]["events"]
            backwards = [edge["node"]["title"] for edge in connection["edges"]] + backwards
            cursor = connection["pageInfo"]["startCursor"]
        assert forwards == titles(order)
        assert backwards == titles(order)[:2]


def test_audit_entries_sort_by_time(gql: GraphQL) -> None:
    # Given Olga's event, proposed then extended
    olga = make_user(email="olga@example.com")
    event = events.event_propose(
        actor=actor_for(olga),
        parties=[make_user().email],
        slots=[SlotInput(start=at(9, 9), duration_minutes=60)],
        title="Plan",
        now=NOW,
    )
    events.event_extend(
        actor=actor_for(olga),
        event_id=event.pk,
        slots=[SlotInput(start=at(9, 11), duration_minutes=60)],
        expected_version=Event.objects.get(pk=event.pk).version,
        now=NOW + timedelta(minutes=5),
    )
    actions = list(
        AuditEntry.objects.filter(subject_type="event")
        .order_by("at", "id")
        .values_list("action", flat=True)
    )
    assert len(actions) >= 2

    # When she reads the event's log in both orders
    token = token_of(olga)
    log_query = """query L($id: ID!, $order: AuditOrder!) {
        eventLog(id: $id, orderBy: $order) { edges { node { action } } } }"""

    def log(order: str) -> list[str]:
        data = gql(log_query, {"id": gid("Event", event.pk), "order": order}, token=token)
        return [edge["node"]["action"] for edge in data.json()["data"]["eventLog"]["edges"]]

    # Then oldest first, or newest first
    assert log("AT_ASC") == actions
    assert log("AT_DESC") == actions[::-1]


# --- node and nodes ---------------------------------------------------------------------------


def test_node_answers_as_the_types_own_query(
    gql: GraphQL, hold: Reservation, client_token: str, provider_token: str
) -> None:
    own = {"id": gid("Reservation", hold.pk)}
    reservation = gql(
        "query R($id: ID!) { reservation(id: $id) { id start status } }", own, token=client_token
    ).json()["data"]["reservation"]

    for token in (client_token, provider_token):
        answer = gql(NODE, own, token=token).json()
        assert answer == {"data": {"node": {"__typename": "Reservation", **reservation}}}


def test_a_hidden_object_looks_like_an_unknown_id(
    gql: GraphQL, hold: Reservation, stranger_token: str, client_token: str
) -> None:
    # Given IDs that do not exist, are malformed, of a type that is no Node, or someone else's
    ids = [
        gid("Reservation", hold.pk),
        gid("Reservation", 987654321),
        gid("Nonsense", hold.pk),
        "Reservation:1",
        gid("Reservation", 0),
        gid("User", hold.client.user_id),
    ]

    # When a stranger asks for them, one by one and together
    one_by_one = [gql(NODE, {"id": i}, token=stranger_token).json() for i in ids]
    together = gql(NODES, {"ids": ids}, token=stranger_token).json()

    # Then every answer is null, and nothing is said about why
    assert one_by_one == [{"data": {"node": None}}] * len(ids)
    assert together == {"data": {"nodes": [None] * len(ids)}}


def test_nodes_keeps_the_order_given(
    gql: GraphQL, hold: Reservation, provider: Provider, client_token: str
) -> None:
    ids = [gid("Provider", provider.pk), gid("Reservation", 987654321), gid("Reservation", hold.pk)]

    answer = gql(NODES, {"ids": ids}, token=client_token).json()

    assert answer == {
        "data": {
            "nodes": [
                {"__typename": "Provider", "id": ids[0]},
                None,
                {"__typename": "Reservation", "id": ids[2]},
            ]
        }
    }


@pytest.mark.parametrize("count", [0, MAX_NODES + 1])
def test_nodes_takes_1_to_100_ids(gql: GraphQL, client_token: str, count: int) -> None:
    response = gql(NODES, {"ids": [gid("Provider", 1)] * count}, token=client_token)

    assert errors(response) == [{"path": ["nodes"], "code": "INVALID_INPUT"}]


def test_every_node_type_has_its_permission_rule() -> None:
    node_types = {
        name
        for name, gql_type in schema._schema.type_map.items()
        if isinstance(gql_type, GraphQLObjectType)
        and any(interface.name == "Node" for interface in gql_type.interfaces)
    }

    assert node_types == set(RESOLVERS)


def test_a_client_is_seen_by_themself_and_their_provider_only(
    gql: GraphQL, hold: Reservation, client_token: str, provider_token: str, stranger_token: str
) -> None:
    client_id = {"id": gid("Client", hold.client_id)}
    other = make_client(email="zoe@example.com")
    make_reservation(provider=make_provider(email="ned@example.com"), client=other, start=at(9, 9))

    answers = {
        who: gql(NODES, {"ids": [client_id["id"], gid("Client", other.pk)]}, token=token).json()
        for who, token in (
            ("client", client_token),
            ("provider", provider_token),
            ("stranger", stranger_token),
        )
    }

    seen = {"__typename": "Client", "id": client_id["id"]}
    assert answers == {
        "client": {"data": {"nodes": [seen, None]}},
        "provider": {"data": {"nodes": [seen, None]}},
        "stranger": {"data": {"nodes": [None, None]}},
    }


# --- a real client over HTTP ------------------------------------------------------------------


def _post(url: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the test's own loopback server
        url,
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


RESERVE = """
mutation Reserve($input: ReservationCreateInput!) {
  reservationCreate(input: $input) {
    ... on Reservation { start }
    ... on OperationInfo { messages { code } }
  }
}
"""


@pytest.mark.django_db(transaction=True)
def test_a_relay_client_pages_over_http_while_another_client_books(
    live_server: Any, provider: Provider, client_profile: Client
) -> None:
    # Given Pat's five confirmed bookings, Tuesday to Saturday at 10:00, and Pat paging through
    # them two at a time over HTTP, as a Relay client does
    url = f"{live_server.url}/graphql"
    for day in range(5):
        make_reservation(provider=provider, client=client_profile, start=at(8 + day, 10))
    pat = token_of(provider.user)
    # (one client per booking: a client may hold three at a time)
    writers = [token_of(make_client().user) for _ in range(4)]
    seen: list[str] = []
    after = None
    booked = []
    while True:
        body = _post(url, pat, PAGE, {"first": 2, "after": after, "order": "START_ASC"})
        connection = body["data"]["reservations"]
        seen += starts(connection)
        # When, after each page, another client books one hour before the cursor's row and
        # one the next morning (both are before the cursor or ahead of it)
        if len(booked) < 4:
            for start in (at(8 + len(booked) // 2, 9), at(9 + len(booked) // 2, 11)):
                answer = _post(
                    url,
                    writers[len(booked)],
                    RESERVE,
                    {"input": {"providerId": gid("Provider", provider.pk), "start": iso(start)}},
                )
                assert answer["data"]["reservationCreate"] == {"start": iso(start)}, answer
                booked.append(start)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    # Then every booking that existed from the start was seen exactly once, in order, and
    # nothing twice; those booked ahead of the cursor turn up in their place, those booked
    # behind it do not shift the pages
    assert seen == [
        iso(at(8, 10)),
        iso(at(9, 10)),
        iso(at(9, 11)),
        iso(at(10, 10)),
        iso(at(10, 11)),
        iso(at(11, 10)),
        iso(at(12, 10)),
    ]
