"""Event links: `Authorization: Bearer rdve_...` lets one person view, narrow, vote, notify and
read the log of one event, as themselves, whether or not they have an account. Anything else
with it is refused, and a dead link is HTTP 401."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from api.tests.conftest import GraphQL, errors, gid, iso
from reservation.models import AuditEntry, CandidateSlot, Event, EventAccessToken, User
from reservation.services.events import SlotInput, event_propose
from reservation.tests.factories import NOW, actor_for, at, json_time

Tables = Callable[[], dict[str, list[Any]]]
LinkFor = Callable[[Event, str], str]

MESSAGES = "... on OperationInfo { messages { code field } }"

EVENT = """
query Event($id: ID!) {
  event(id: $id) {
    title version status
    participants { user { email } role }
    candidates { start yes votes { participant { user { email } } answer } }
    accessTokens { user { email } }
  }
}
"""

EVENT_LOG = """
query EventLog($id: ID!) {
  eventLog(id: $id) {
    totalCount
    edges { node { action actorKind actorUser { email } changes } }
  }
}
"""

NARROW = f"""
mutation Narrow($id: ID!, $keep: [ID!]!, $version: Int!) {{
  eventNarrow(id: $id, keepSlotIds: $keep, expectedVersion: $version) {{
    ... on Event {{ version candidates {{ start }} }}
    {MESSAGES}
  }}
}}
"""

VOTE = f"""
mutation Vote($id: ID!, $votes: [VoteInput!]!) {{
  eventVote(id: $id, votes: $votes) {{
    ... on Event {{ candidates {{ yes votes {{ participant {{ user {{ email }} }} answer }} }} }}
    {MESSAGES}
  }}
}}
"""

NOTIFY = f"""
mutation Notify($id: ID!, $parties: [String!]!, $version: Int!) {{
  eventNotify(id: $id, parties: $parties, expectedVersion: $version) {{
    ... on EventNotifications {{
      notifications {{ recipient {{ email }} status accessToken {{ id }} }}
    }}
    {MESSAGES}
  }}
}}
"""

EXTEND = f"""
mutation Extend($id: ID!, $version: Int!) {{
  eventExtend(id: $id, slots: [{{start: "2030-01-10T09:00:00+00:00", durationMinutes: 60}}],
              expectedVersion: $version) {{
    ... on Event {{ version }}
    {MESSAGES}
  }}
}}
"""

AGREE = f"""
mutation Agree($id: ID!, $slotId: ID!, $version: Int!) {{
  eventAgree(id: $id, slotId: $slotId, expectedVersion: $version) {{
    ... on Event {{ status }}
    {MESSAGES}
  }}
}}
"""

CANCEL = f"""
mutation Cancel($id: ID!) {{
  eventCancel(id: $id) {{ ... on Event {{ status }} {MESSAGES} }}
}}
"""

DELETE = f"""
mutation Delete($id: ID!) {{
  eventDelete(id: $id) {{ ... on DeleteResult {{ deleted }} {MESSAGES} }}
}}
"""

REVOKE = f"""
mutation Revoke($id: ID!) {{
  eventAccessTokenRevoke(id: $id) {{
    ... on EventAccessToken {{ user {{ email }} expiresAt revokedAt }}
    {MESSAGES}
  }}
}}
"""

PROPOSE = f"""
mutation Propose {{
  eventPropose(input: {{parties: ["pia@example.com"],
                        slots: [{{start: "2030-01-10T09:00:00+00:00", durationMinutes: 60}}]}}) {{
    ... on Event {{ id }}
    {MESSAGES}
  }}
}}
"""

EVENTS = "query Events { events { totalCount } }"
RESERVATIONS = "query Reservations { reservations { totalCount } }"
API_TOKENS = "query ApiTokens { apiTokens { totalCount } }"
ME = "query Me { me { email } }"
API_TOKEN_CREATE = f"""
mutation ApiTokenCreate {{
  apiTokenCreate(name: "mine") {{ ... on ApiTokenCreated {{ secret }} {MESSAGES} }}
}}
"""


def messages(mutation: str, code: str, field: str | None = None) -> dict[str, Any]:
    return {"data": {mutation: {"messages": [{"code": code, "field": field}]}}}


def candidates_of(event: Event) -> list[CandidateSlot]:
    return list(CandidateSlot.objects.filter(event=event).order_by("start", "end", "id"))


def slot_list(*slots: tuple[Any, Any]) -> list[list[str]]:
    """A candidate list as the log stores it."""
    return [[json_time(start), json_time(end)] for start, end in slots]


PLANNING_SLOTS = slot_list(
    (at(8, 9), at(8, 10)), (at(8, 10), at(8, 11)), (at(9, 14), at(9, 14, 30))
)


@pytest.fixture
def slots(proposed: Event) -> list[CandidateSlot]:
    return candidates_of(proposed)


@pytest.fixture
def quinn_link(proposed: Event, link_for: LinkFor) -> str:
    """The link Olga e-mailed to quinn@example.com, who has no account."""
    return link_for(proposed, "quinn@example.com")


@pytest.fixture
def other(organizer: User, party: User) -> Event:
    """Another event of Olga's, to which Quinn is a party too (so only the link says no)."""
    return event_propose(
        actor=actor_for(organizer),
        parties=[party.email, "quinn@example.com"],
        slots=[
            SlotInput(start=at(10, 9), duration_minutes=60),
            SlotInput(start=at(10, 11), duration_minutes=60),
        ],
        title="Other",
    )


# --- what a link does ------------------------------------------------------------------------


def test_a_link_opens_its_event_and_the_view_is_logged(
    gql: GraphQL, proposed: Event, quinn_link: str, event_tables: Tables
) -> None:
    before = event_tables()

    response = gql(EVENT, {"id": gid("Event", proposed.pk)}, token=quinn_link)

    assert response.json() == {
        "data": {
            "event": {
                "title": "Planning",
                "version": 1,
                "status": "PROPOSED",
                "participants": [
                    {"user": {"email": "olga@example.com"}, "role": "ORGANIZER"},
                    {"user": {"email": "pia@example.com"}, "role": "PARTY"},
                    {"user": {"email": "quinn@example.com"}, "role": "PARTY"},
                ],
                "candidates": [
                    {"start": iso(at(8, 9)), "yes": 0, "votes": []},
                    {"start": iso(at(8, 10)), "yes": 0, "votes": []},
                    {"start": iso(at(9, 14)), "yes": 0, "votes": []},
                ],
                # Quinn's own link: the only one a party sees
                "accessTokens": [{"user": {"email": "quinn@example.com"}}],
            }
        }
    }
    # The view is logged as Quinn's, through the link, with what the list was
    entry = AuditEntry.objects.order_by("id").last()
    assert entry is not None
    assert (entry.action, entry.actor_kind, entry.actor_user.email) == (  # type: ignore[union-attr]
        "event.view",
        "TOKEN",
        "quinn@example.com",
    )
    assert entry.actor_access_token == EventAccessToken.objects.get(user__email="quinn@example.com")
    assert entry.changes == {"version": 1, "slots": PLANNING_SLOTS}
    # And nothing else was written or sent
    after = event_tables()
    assert after["audit"][:-1] == before["audit"]
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }


def test_a_link_votes_narrows_notifies_and_reads_the_log(
    gql: GraphQL, proposed: Event, slots: list[CandidateSlot], quinn_link: str
) -> None:
    event_id = gid("Event", proposed.pk)

    # Quinn, who has no account, votes...
    voted = gql(
        VOTE,
        {"id": event_id, "votes": [{"slotId": gid("CandidateSlot", slots[1].pk), "answer": "YES"}]},
        token=quinn_link,
    )
    assert voted.json() == {
        "data": {
            "eventVote": {
                "candidates": [
                    {"yes": 0, "votes": []},
                    {
                        "yes": 1,
                        "votes": [
                            {
                                "participant": {"user": {"email": "quinn@example.com"}},
                                "answer": "YES",
                            }
                        ],
                    },
                    {"yes": 0, "votes": []},
                ]
            }
        }
    }

    # ...narrows...
    narrowed = gql(
        NARROW,
        {
            "id": event_id,
            "keep": [gid("CandidateSlot", slots[1].pk), gid("CandidateSlot", slots[2].pk)],
            "version": 1,
        },
        token=quinn_link,
    )
    assert narrowed.json() == {
        "data": {
            "eventNarrow": {
                "version": 2,
                "candidates": [{"start": iso(at(8, 10))}, {"start": iso(at(9, 14))}],
            }
        }
    }

    # ...tells Pia...
    notified = gql(
        NOTIFY, {"id": event_id, "parties": ["pia@example.com"], "version": 2}, token=quinn_link
    )
    assert notified.json() == {
        "data": {
            "eventNotify": {
                # (Pia's new link is hers and Olga's to revoke, not Quinn's)
                "notifications": [
                    {
                        "recipient": {"email": "pia@example.com"},
                        "status": "PENDING",
                        "accessToken": None,
                    }
                ]
            }
        }
    }

    # ...and reads the log, where each step is Quinn's, through the link
    log = gql(EVENT_LOG, {"id": event_id}, token=quinn_link)
    actions = [
        (edge["node"]["action"], edge["node"]["actorKind"], edge["node"]["actorUser"]["email"])
        for edge in log.json()["data"]["eventLog"]["edges"]
    ]
    assert actions == [
        ("event.propose", "USER", "olga@example.com"),
        ("event.notify", "USER", "olga@example.com"),
        ("event.vote", "TOKEN", "quinn@example.com"),
        ("event.narrow", "TOKEN", "quinn@example.com"),
        ("event.notify", "TOKEN", "quinn@example.com"),
    ]


@pytest.mark.parametrize("mutation", ["eventExtend", "eventAgree", "eventCancel", "eventDelete"])
def test_even_the_organizers_link_cannot_decide(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    link_for: LinkFor,
    event_tables: Tables,
    mutation: str,
) -> None:
    # Given a link Olga sent herself
    own_link = link_for(proposed, "olga@example.com")
    before = event_tables()
    document, variables = {
        "eventExtend": (EXTEND, {"version": 2}),
        "eventAgree": (AGREE, {"slotId": gid("CandidateSlot", slots[0].pk), "version": 1}),
        "eventCancel": (CANCEL, {}),
        "eventDelete": (DELETE, {}),
    }[mutation]

    response = gql(document, {"id": gid("Event", proposed.pk), **variables}, token=own_link)

    assert response.json() == messages(mutation, "PERMISSION_DENIED")
    assert event_tables() == before


def test_a_link_cannot_revoke_links(
    gql: GraphQL, proposed: Event, quinn_link: str, event_tables: Tables
) -> None:
    token = EventAccessToken.objects.get(user__email="quinn@example.com")
    before = event_tables()

    response = gql(REVOKE, {"id": gid("EventAccessToken", token.pk)}, token=quinn_link)

    assert response.json() == messages("eventAccessTokenRevoke", "PERMISSION_DENIED")
    assert event_tables() == before


# --- what a link does not open ---------------------------------------------------------------


def on_event(operation: str, event: Event) -> tuple[str, dict[str, Any]]:
    """A document and variables doing `operation` on `event`."""
    slots = [gid("CandidateSlot", s.pk) for s in candidates_of(event)]
    event_id = gid("Event", event.pk)
    return {
        "event": (EVENT, {"id": event_id}),
        "eventLog": (EVENT_LOG, {"id": event_id}),
        "eventNarrow": (NARROW, {"id": event_id, "keep": slots[:1], "version": 1}),
        "eventVote": (
            VOTE,
            {"id": event_id, "votes": [{"slotId": s, "answer": "YES"} for s in slots]},
        ),
        "eventNotify": (NOTIFY, {"id": event_id, "parties": ["pia@example.com"], "version": 1}),
        "eventExtend": (EXTEND, {"id": event_id, "version": 1}),
        "eventAgree": (AGREE, {"id": event_id, "slotId": slots[0], "version": 1}),
        "eventCancel": (CANCEL, {"id": event_id}),
    }[operation]


def refused(response: Any, operation: str, code: str) -> None:
    """A query answers with a top-level error; a mutation with OperationInfo."""
    if operation in {"event", "eventLog"}:
        assert response.json()["data"] is None
        assert errors(response) == [{"path": [operation], "code": code}]
    else:
        assert response.json() == messages(operation, code)


OPERATIONS = [
    "event",
    "eventLog",
    "eventNarrow",
    "eventVote",
    "eventNotify",
    "eventExtend",
    "eventAgree",
    "eventCancel",
]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_link_does_not_open_another_event(
    gql: GraphQL, other: Event, quinn_link: str, event_tables: Tables, operation: str
) -> None:
    # Given Quinn is on `other` too: only the link is wrong for it
    document, variables = on_event(operation, other)
    before = event_tables()

    response = gql(document, variables, token=quinn_link)

    refused(response, operation, "PERMISSION_DENIED")
    assert event_tables() == before


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_link_answers_an_unknown_event_like_another_one(
    gql: GraphQL,
    proposed: Event,
    other: Event,
    quinn_link: str,
    event_tables: Tables,
    operation: str,
) -> None:
    # Given an ID of no event (the other event's, once it is gone)
    document, variables = on_event(operation, other)
    other.delete()
    before = event_tables()

    response = gql(document, variables, token=quinn_link)

    refused(response, operation, "PERMISSION_DENIED")
    assert event_tables() == before


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (EVENTS, "events"),
        (RESERVATIONS, "reservations"),
        (API_TOKENS, "apiTokens"),
    ],
)
def test_a_link_lists_nothing(
    gql: GraphQL, quinn_link: str, link_for: LinkFor, proposed: Event, document: str, path: str
) -> None:
    # (Pia has an account, and her link still lists nothing)
    pia_link = link_for(proposed, "pia@example.com")

    for link in (quinn_link, pia_link):
        response = gql(document, token=link)

        assert errors(response) == [{"path": [path], "code": "PERMISSION_DENIED"}]


@pytest.mark.parametrize(
    ("document", "mutation"),
    [(PROPOSE, "eventPropose"), (API_TOKEN_CREATE, "apiTokenCreate")],
)
def test_a_link_creates_nothing_elsewhere(
    gql: GraphQL,
    proposed: Event,
    link_for: LinkFor,
    event_tables: Tables,
    document: str,
    mutation: str,
) -> None:
    pia_link = link_for(proposed, "pia@example.com")
    before = event_tables()

    response = gql(document, token=pia_link)

    assert response.json() == messages(mutation, "PERMISSION_DENIED")
    assert event_tables() == before


def test_a_link_holder_is_not_signed_in(gql: GraphQL, proposed: Event, link_for: LinkFor) -> None:
    pia_link = link_for(proposed, "pia@example.com")

    response = gql(ME, token=pia_link)

    assert response.json() == {"data": {"me": None}}


# --- dead links ------------------------------------------------------------------------------


def test_a_link_works_until_it_expires(
    gql: GraphQL, proposed: Event, slots: list[CandidateSlot], quinn_link: str
) -> None:
    token = EventAccessToken.objects.get(user__email="quinn@example.com")
    assert token.expires_at == NOW + timedelta(days=5)
    EventAccessToken.objects.filter(pk=token.pk).update(expires_at=NOW + timedelta(seconds=1))

    response = gql(EVENT, {"id": gid("Event", proposed.pk)}, token=quinn_link)

    assert response.json()["data"]["event"]["title"] == "Planning"


@pytest.mark.parametrize("how", ["expired", "revoked", "superseded", "unknown"])
def test_a_dead_link_is_401_and_changes_nothing(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    organizer_token: str,
    quinn_link: str,
    link_for: LinkFor,
    event_tables: Tables,
    how: str,
) -> None:
    secret = quinn_link
    token = EventAccessToken.objects.get(user__email="quinn@example.com")
    if how == "expired":
        EventAccessToken.objects.filter(pk=token.pk).update(
            created_at=NOW - timedelta(days=5), expires_at=NOW
        )
    elif how == "revoked":
        revoked = gql(REVOKE, {"id": gid("EventAccessToken", token.pk)}, token=organizer_token)
        assert revoked.json()["data"]["eventAccessTokenRevoke"]["revokedAt"] == iso(NOW)
    elif how == "superseded":
        newer = link_for(proposed, "quinn@example.com")  # only the newest link works
        assert newer != quinn_link
        assert gql(EVENT, {"id": gid("Event", proposed.pk)}, token=newer).status_code == 200
    elif how == "unknown":
        secret = "rdve_" + "x" * 43
    before = event_tables()

    response = gql(
        NARROW,
        {
            "id": gid("Event", proposed.pk),
            "keep": [gid("CandidateSlot", slots[0].pk)],
            "version": 1,
        },
        token=secret,
    )

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json() == {
        "errors": [
            {
                "message": "The Bearer token is unknown, revoked or expired.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    assert event_tables() == before


# --- eventAccessTokenRevoke ------------------------------------------------------------------


@pytest.fixture
def two_links(proposed: Event, link_for: LinkFor) -> dict[str, EventAccessToken]:
    """Olga sent links to Pia and Quinn; their tokens by e-mail."""
    link_for(proposed, "pia@example.com")
    link_for(proposed, "quinn@example.com")
    return {t.user.email: t for t in EventAccessToken.objects.select_related("user")}


def test_the_organizer_sees_and_revokes_every_link(
    gql: GraphQL,
    proposed: Event,
    organizer_token: str,
    two_links: dict[str, EventAccessToken],
    event_tables: Tables,
) -> None:
    seen = gql(EVENT, {"id": gid("Event", proposed.pk)}, token=organizer_token)
    assert seen.json()["data"]["event"]["accessTokens"] == [
        {"user": {"email": "pia@example.com"}},
        {"user": {"email": "quinn@example.com"}},
    ]
    before = event_tables()

    response = gql(
        REVOKE,
        {"id": gid("EventAccessToken", two_links["quinn@example.com"].pk)},
        token=organizer_token,
    )

    assert response.json() == {
        "data": {
            "eventAccessTokenRevoke": {
                "user": {"email": "quinn@example.com"},
                "expiresAt": iso(NOW + timedelta(days=5)),
                "revokedAt": iso(NOW),
            }
        }
    }
    after = event_tables()
    assert [row[-1] for row in after["tokens"]] == [None, NOW]
    assert len(after["audit"]) == len(before["audit"]) + 1
    assert (after["notifications"], after["jobs"]) == (before["notifications"], before["jobs"])
    # And a revoked link is no longer listed
    seen = gql(EVENT, {"id": gid("Event", proposed.pk)}, token=organizer_token)
    assert seen.json()["data"]["event"]["accessTokens"] == [{"user": {"email": "pia@example.com"}}]


def test_a_party_signed_in_sees_and_revokes_their_own_link(
    gql: GraphQL, proposed: Event, party_token: str, two_links: dict[str, EventAccessToken]
) -> None:
    seen = gql(EVENT, {"id": gid("Event", proposed.pk)}, token=party_token)
    assert seen.json()["data"]["event"]["accessTokens"] == [{"user": {"email": "pia@example.com"}}]

    response = gql(
        REVOKE, {"id": gid("EventAccessToken", two_links["pia@example.com"].pk)}, token=party_token
    )

    assert response.json()["data"]["eventAccessTokenRevoke"]["revokedAt"] == iso(NOW)


def test_revoking_twice_changes_nothing(
    gql: GraphQL,
    organizer_token: str,
    two_links: dict[str, EventAccessToken],
    event_tables: Tables,
) -> None:
    variables = {"id": gid("EventAccessToken", two_links["pia@example.com"].pk)}
    gql(REVOKE, variables, token=organizer_token)
    before = event_tables()

    response = gql(REVOKE, variables, token=organizer_token)

    assert response.json()["data"]["eventAccessTokenRevoke"]["revokedAt"] == iso(NOW)
    assert event_tables() == before


@pytest.mark.parametrize("who", ["another party", "stranger", "anonymous", "malformed id"])
def test_nobody_else_revokes_a_link(
    gql: GraphQL,
    party_token: str,
    stranger_token: str,
    organizer_token: str,
    two_links: dict[str, EventAccessToken],
    event_tables: Tables,
    who: str,
) -> None:
    token_id = gid("EventAccessToken", two_links["quinn@example.com"].pk)
    token = {
        "another party": party_token,
        "stranger": stranger_token,
        "anonymous": None,
        "malformed id": organizer_token,
    }[who]
    if who == "malformed id":
        token_id = "EventAccessToken"
    before = event_tables()

    response = gql(REVOKE, {"id": token_id}, token=token)

    code = "UNAUTHENTICATED" if who == "anonymous" else "NOT_FOUND"
    assert response.json() == messages("eventAccessTokenRevoke", code)
    assert event_tables() == before
