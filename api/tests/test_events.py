"""Events through the API, signed in: propose, read, list, narrow, extend, vote, agree, cancel,
delete and notify, and the query count of the list. Links (`rdve_` tokens):
test_event_tokens.py; the worked example of the issue: test_event_scenario.py."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient

from api.tests.conftest import EVENT_STARTS, GraphQL, errors, gid, iso
from reservation.models import (
    ApiToken,
    AuditEntry,
    CandidateSlot,
    Event,
    Notification,
    Participant,
    User,
)
from reservation.services.events import (
    SlotInput,
    event_agree,
    event_cancel,
    event_notify,
    event_propose,
    event_vote,
)
from reservation.tests.event_factories import deliver, delivered
from reservation.tests.factories import NOW, actor_for, at, make_user

Tables = Callable[[], dict[str, list[Any]]]
QueryCounter = Callable[..., Any]

EVENT_FIELDS = """
  id title description status version start end timeZone autoAgree cancelReason
  createdAt updatedAt
  organizer { email }
  participants { user { email } role rsvp }
  candidates {
    id start end durationMinutes yes ifNeedBe no
    votes { participant { user { email } } answer }
  }
"""

MESSAGES = "... on OperationInfo { messages { code field } }"

EVENT = f"""
query Event($id: ID!) {{
  event(id: $id) {{ {EVENT_FIELDS} }}
}}
"""

EVENTS = """
query Events($status: [EventStatus!], $start: DateTime, $end: DateTime) {
  events(status: $status, start: $start, end: $end) {
    totalCount
    edges { node { title status } }
  }
}
"""

PROPOSE = f"""
mutation Propose($input: EventProposeInput!) {{
  eventPropose(input: $input) {{ ... on Event {{ {EVENT_FIELDS} }} {MESSAGES} }}
}}
"""

NARROW = f"""
mutation Narrow($id: ID!, $keep: [ID!]!, $version: Int!) {{
  eventNarrow(id: $id, keepSlotIds: $keep, expectedVersion: $version) {{
    ... on Event {{ {EVENT_FIELDS} }}
    {MESSAGES}
  }}
}}
"""

EXTEND = f"""
mutation Extend($id: ID!, $slots: [CandidateSlotInput!]!, $version: Int!) {{
  eventExtend(id: $id, slots: $slots, expectedVersion: $version) {{
    ... on Event {{ version candidates {{ start end durationMinutes }} }}
    {MESSAGES}
  }}
}}
"""

VOTE = f"""
mutation Vote($id: ID!, $votes: [VoteInput!]!) {{
  eventVote(id: $id, votes: $votes) {{
    ... on Event {{ version candidates {{ start yes ifNeedBe no
      votes {{ participant {{ user {{ email }} }} answer }} }} }}
    {MESSAGES}
  }}
}}
"""

AGREE = f"""
mutation Agree($id: ID!, $slotId: ID!, $version: Int!) {{
  eventAgree(id: $id, slotId: $slotId, expectedVersion: $version) {{
    ... on Event {{ {EVENT_FIELDS} }}
    {MESSAGES}
  }}
}}
"""

CANCEL = f"""
mutation Cancel($id: ID!, $reason: String!) {{
  eventCancel(id: $id, reason: $reason) {{
    ... on Event {{ status version cancelReason }}
    {MESSAGES}
  }}
}}
"""

DELETE = f"""
mutation Delete($id: ID!) {{
  eventDelete(id: $id) {{ ... on DeleteResult {{ deleted }} {MESSAGES} }}
}}
"""

NOTIFY = f"""
mutation Notify($id: ID!, $parties: [String!]!, $version: Int!, $message: String!) {{
  eventNotify(id: $id, parties: $parties, expectedVersion: $version, message: $message) {{
    ... on EventNotifications {{
      notifications {{ recipient {{ email }} kind status createdAt accessToken {{ id }} }}
    }}
    {MESSAGES}
  }}
}}
"""

EVENT_LOG = """
query EventLog($id: ID!) {
  eventLog(id: $id) { totalCount edges { node { action actorKind actorUser { email } } } }
}
"""

EVENTS_PAGE = """
query Page {
  events(first: 50) {
    totalCount
    edges { node {
      id title status version
      organizer { email }
      participants { user { email } role rsvp }
      candidates { id start end durationMinutes yes ifNeedBe no
        votes { participant { user { email } } answer } }
    } }
  }
}
"""


# --- helpers ---------------------------------------------------------------------------------


def messages(mutation: str, code: str, field: str | None = None) -> dict[str, Any]:
    return {"data": {mutation: {"messages": [{"code": code, "field": field}]}}}


def candidates_of(event: Event) -> list[CandidateSlot]:
    return list(CandidateSlot.objects.filter(event=event).order_by("start", "end", "id"))


def candidate(
    slot: CandidateSlot,
    *,
    yes: int = 0,
    if_need_be: int = 0,
    no: int = 0,
    votes: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """What the API shows for a candidate; `votes` as (e-mail, answer) in participant order."""
    return {
        "id": gid("CandidateSlot", slot.pk),
        "start": iso(slot.start),
        "end": iso(slot.end),
        "durationMinutes": int((slot.end - slot.start).total_seconds() // 60),
        "yes": yes,
        "ifNeedBe": if_need_be,
        "no": no,
        "votes": [
            {"participant": {"user": {"email": email}}, "answer": answer} for email, answer in votes
        ],
    }


def people(*, organizer: str = "YES", parties: str = "UNDECIDED") -> list[dict[str, Any]]:
    """The participants of `proposed`: Olga (organizer), Pia and Quinn."""
    return [
        {"user": {"email": "olga@example.com"}, "role": "ORGANIZER", "rsvp": organizer},
        {"user": {"email": "pia@example.com"}, "role": "PARTY", "rsvp": parties},
        {"user": {"email": "quinn@example.com"}, "role": "PARTY", "rsvp": parties},
    ]


def planning(event: Event, candidates: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    """What the API shows for the `proposed` event, with `changes`."""
    return {
        "id": gid("Event", event.pk),
        "title": "Planning",
        "description": "Next quarter.",
        "status": "PROPOSED",
        "version": 1,
        "start": None,
        "end": None,
        "timeZone": "Europe/Berlin",
        "autoAgree": False,
        "cancelReason": "",
        "createdAt": iso(NOW),
        "updatedAt": iso(NOW),
        "organizer": {"email": "olga@example.com"},
        "participants": people(),
        "candidates": candidates,
        **changes,
    }


def slot_input(start: Any, minutes: int = 60) -> dict[str, Any]:
    return {
        "start": iso(start) if not isinstance(start, str) else start,
        "durationMinutes": minutes,
    }


def other_event(organizer: User, *, title: str = "Other", minutes_later: int = 0) -> Event:
    """Another event of `organizer`, proposed `minutes_later` than NOW, to pia@example.com."""
    return event_propose(
        actor=actor_for(organizer),
        parties=["pia@example.com"],
        slots=[SlotInput(start=at(10, 9), duration_minutes=60)],
        title=title,
        now=NOW + timedelta(minutes=minutes_later),
    )


def log_actions(event: Event) -> list[tuple[str, str, str | None]]:
    """The event's audit entries as (action, actor kind, actor e-mail), oldest first."""
    return [
        (entry.action, entry.actor_kind, entry.actor_user.email if entry.actor_user else None)
        for entry in AuditEntry.objects.filter(subject_type="event", subject_id=event.pk)
        .select_related("actor_user")
        .order_by("at", "id")
    ]


def sent() -> list[tuple[str, str]]:
    """Every notification recorded, as (recipient, kind), in order."""
    return list(Notification.objects.order_by("id").values_list("recipient__email", "kind"))


@pytest.fixture
def slots(proposed: Event) -> list[CandidateSlot]:
    """The three candidates of `proposed`, earliest first."""
    return candidates_of(proposed)


# --- eventPropose ----------------------------------------------------------------------------


def test_propose_makes_the_event_and_tells_nobody(
    gql: GraphQL, organizer: User, organizer_token: str, party: User, event_tables: Tables
) -> None:
    before = event_tables()

    # When Olga proposes to Pia (spelled in capitals), herself and an unknown address, with
    # one candidate given twice (once at +01:00) and out of order
    response = gql(
        PROPOSE,
        {
            "input": {
                "title": "  Planning ",
                "description": "Next quarter.",
                "parties": ["Pia@Example.com", "olga@example.com", "quinn@example.com"],
                "slots": [
                    slot_input(at(9, 14), 30),
                    slot_input(at(8, 9)),
                    slot_input("2030-01-08T11:00:00+01:00"),
                    slot_input(at(8, 10)),
                ],
            }
        },
        token=organizer_token,
    )

    # Then the event is proposed to the two others, with three candidates
    event = Event.objects.get()
    assert response.json() == {
        "data": {
            "eventPropose": planning(event, [candidate(slot) for slot in candidates_of(event)])
        }
    }
    assert [(c.start, c.end) for c in candidates_of(event)] == [
        (at(8, 9), at(8, 10)),
        (at(8, 10), at(8, 11)),
        (at(9, 14), at(9, 14, 30)),
    ]
    # And the unknown address is now an inactive user, who can only act through links
    assert User.objects.get(email="quinn@example.com").is_active is False
    # And it is logged, but nobody is e-mailed yet
    after = event_tables()
    assert log_actions(event) == [("event.propose", "TOKEN", "olga@example.com")]
    assert (after["notifications"], after["jobs"]) == (before["notifications"], before["jobs"])


def test_propose_without_a_title_gets_a_generated_one(
    gql: GraphQL, organizer_token: str, party: User
) -> None:
    response = gql(
        PROPOSE,
        {"input": {"parties": ["pia@example.com"], "slots": [slot_input(at(8, 9))]}},
        token=organizer_token,
    )

    title = response.json()["data"]["eventPropose"]["title"]
    assert re.fullmatch(r"[A-Z][a-z]{3} [A-Z][a-z]{5}", title), title


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"parties": ["olga@example.com"]}, "INVALID_INPUT", "parties"),
        ({"parties": []}, "INVALID_INPUT", "parties"),
        ({"slots": []}, "INVALID_INPUT", "slots"),
        ({"slots": [slot_input("2030-01-08T09:00:00")]}, "NAIVE_DATETIME", "slots"),
        ({"slots": [slot_input(NOW - timedelta(minutes=1))]}, "IN_THE_PAST", "slots"),
        ({"slots": [slot_input(at(8, 9), 0)]}, "INVALID_TIME_RANGE", "slots"),
        ({"slots": [slot_input(at(8, 9), 7 * 24 * 60 + 1)]}, "INVALID_TIME_RANGE", "slots"),
        ({"title": "x" * 201}, "INVALID_INPUT", "title"),
        ({"description": "x" * 5001}, "INVALID_INPUT", "description"),
    ],
    ids=[
        "only oneself",
        "no parties",
        "no slots",
        "naive start",
        "in the past",
        "zero minutes",
        "over a week",
        "long title",
        "long description",
    ],
)
def test_propose_rejects_bad_input(
    gql: GraphQL,
    organizer_token: str,
    party: User,
    event_tables: Tables,
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    before = event_tables()
    variables = {
        "input": {"parties": ["pia@example.com"], "slots": [slot_input(at(8, 9))], **changes}
    }

    response = gql(PROPOSE, variables, token=organizer_token)

    assert response.json() == messages("eventPropose", code, field)
    assert event_tables() == before


def test_an_invalid_address_is_blamed_on_parties(
    gql: GraphQL, organizer_token: str, event_tables: Tables
) -> None:
    before = event_tables()
    variables = {"input": {"parties": ["not an address"], "slots": [slot_input(at(8, 9))]}}

    response = gql(PROPOSE, variables, token=organizer_token)

    assert event_tables() == before
    assert response.json() == messages("eventPropose", "INVALID_INPUT", "parties")


def test_propose_needs_a_signed_in_user(gql: GraphQL, event_tables: Tables) -> None:
    before = event_tables()
    variables = {"input": {"parties": ["pia@example.com"], "slots": [slot_input(at(8, 9))]}}

    response = gql(PROPOSE, variables)

    assert response.json() == messages("eventPropose", "UNAUTHENTICATED")
    assert event_tables() == before


# --- event -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["organizer", "party"])
def test_the_people_on_an_event_see_it_and_who_voted_what(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    organizer: User,
    party: User,
    organizer_token: str,
    party_token: str,
    who: str,
) -> None:
    # Given Pia and Olga voted
    event_vote(actor=actor_for(party), event_id=proposed.pk, votes=[(slots[0].pk, "YES")])
    event_vote(
        actor=actor_for(organizer),
        event_id=proposed.pk,
        votes=[(slots[0].pk, "IF_NEED_BE"), (slots[1].pk, "NO")],
    )
    entries = AuditEntry.objects.count()
    token = {"organizer": organizer_token, "party": party_token}[who]

    response = gql(EVENT, {"id": gid("Event", proposed.pk)}, token=token)

    assert response.json() == {
        "data": {
            "event": planning(
                proposed,
                [
                    candidate(
                        slots[0],
                        yes=1,
                        if_need_be=1,
                        votes=(("olga@example.com", "IF_NEED_BE"), ("pia@example.com", "YES")),
                    ),
                    candidate(slots[1], no=1, votes=(("olga@example.com", "NO"),)),
                    candidate(slots[2]),
                ],
            )
        }
    }
    # Only views through a link are logged
    assert AuditEntry.objects.count() == entries


def test_staff_see_an_event_and_its_tallies_but_not_who_voted(
    gql: GraphQL, proposed: Event, slots: list[CandidateSlot], party: User, staff_token: str
) -> None:
    event_vote(actor=actor_for(party), event_id=proposed.pk, votes=[(slots[0].pk, "YES")])

    response = gql(EVENT, {"id": gid("Event", proposed.pk)}, token=staff_token)

    assert response.json() == {
        "data": {
            "event": planning(
                proposed, [candidate(slots[0], yes=1), candidate(slots[1]), candidate(slots[2])]
            )
        }
    }


@pytest.mark.parametrize("kind", ["a stranger's view", "unknown", "wrong type", "malformed"])
def test_an_event_one_is_not_on_is_not_found(
    gql: GraphQL, proposed: Event, stranger_token: str, event_tables: Tables, kind: str
) -> None:
    event_id = {
        "a stranger's view": gid("Event", proposed.pk),
        "unknown": gid("Event", proposed.pk + 1000),
        "wrong type": gid("CandidateSlot", proposed.pk),
        "malformed": "!!",
    }[kind]
    before = event_tables()

    response = gql(EVENT, {"id": event_id}, token=stranger_token)

    assert response.json()["data"] is None
    assert errors(response) == [{"path": ["event"], "code": "NOT_FOUND"}]
    assert event_tables() == before


def test_anonymous_sees_no_event(gql: GraphQL, proposed: Event) -> None:
    response = gql(EVENT, {"id": gid("Event", proposed.pk)})

    assert errors(response) == [{"path": ["event"], "code": "UNAUTHENTICATED"}]


# --- events ----------------------------------------------------------------------------------


@pytest.fixture
def calendar(proposed: Event, organizer: User, party: User, stranger: User) -> None:
    """Besides `proposed` (Tuesday and Wednesday): Olga's "Scheduled" (Thursday 09:00) and
    "Cancelled", proposed after it; Pia's "Pia's", to which Olga is a party; and an event of
    strangers."""
    scheduled = other_event(organizer, title="Scheduled", minutes_later=1)
    event_agree(
        actor=actor_for(organizer),
        event_id=scheduled.pk,
        slot_id=candidates_of(scheduled)[0].pk,
        expected_version=1,
    )
    cancelled = other_event(organizer, title="Cancelled", minutes_later=2)
    event_cancel(actor=actor_for(organizer), event_id=cancelled.pk)
    event_propose(
        actor=actor_for(party),
        parties=["olga@example.com"],
        slots=[SlotInput(start=at(11, 9), duration_minutes=60)],
        title="Pia's",
        now=NOW + timedelta(minutes=3),
    )
    event_propose(
        actor=actor_for(stranger),
        parties=["someone@example.com"],
        slots=[SlotInput(start=at(8, 9), duration_minutes=60)],
        title="Strangers'",
    )


@pytest.mark.parametrize(
    ("variables", "titles"),
    [
        ({}, ["Pia's", "Cancelled", "Scheduled", "Planning"]),
        ({"status": ["PROPOSED"]}, ["Pia's", "Planning"]),
        ({"status": ["SCHEDULED", "CANCELLED"]}, ["Cancelled", "Scheduled"]),
        # Tuesday: Planning's candidates
        ({"start": iso(at(8, 0)), "end": iso(at(9, 0))}, ["Planning"]),
        # Thursday 09:30–10:00: the scheduled time, and the cancelled event's candidate
        ({"start": iso(at(10, 9, 30)), "end": iso(at(10, 10))}, ["Cancelled", "Scheduled"]),
        # A candidate ending at 10:00 does not overlap a range starting then
        ({"start": iso(at(10, 10)), "end": iso(at(10, 12))}, []),
        ({"start": iso(at(11, 0))}, ["Pia's"]),
    ],
    ids=["all", "proposed", "decided", "tuesday", "thursday", "adjacent", "from friday"],
)
def test_events_lists_mine_newest_first(
    gql: GraphQL,
    calendar: None,
    organizer_token: str,
    variables: dict[str, Any],
    titles: list[str],
) -> None:
    response = gql(EVENTS, variables, token=organizer_token)

    statuses = {
        "Pia's": "PROPOSED",
        "Cancelled": "CANCELLED",
        "Scheduled": "SCHEDULED",
        "Planning": "PROPOSED",
    }
    assert response.json() == {
        "data": {
            "events": {
                "totalCount": len(titles),
                "edges": [{"node": {"title": t, "status": statuses[t]}} for t in titles],
            }
        }
    }


def test_events_of_a_party(gql: GraphQL, calendar: None, party_token: str) -> None:
    response = gql(EVENTS, token=party_token)

    titles = [edge["node"]["title"] for edge in response.json()["data"]["events"]["edges"]]
    assert titles == ["Pia's", "Cancelled", "Scheduled", "Planning"]


def test_events_of_someone_on_none(gql: GraphQL, calendar: None, staff_token: str) -> None:
    # Staff see any event by its ID, but their list is their own
    response = gql(EVENTS, token=staff_token)

    assert response.json() == {"data": {"events": {"totalCount": 0, "edges": []}}}


@pytest.mark.parametrize(
    ("variables", "code"),
    [({}, "UNAUTHENTICATED"), ({"start": "2030-01-08T09:00:00"}, "NAIVE_DATETIME")],
    ids=["anonymous", "naive start"],
)
def test_events_refuses(
    gql: GraphQL,
    proposed: Event,
    organizer_token: str,
    variables: dict[str, Any],
    code: str,
) -> None:
    token = organizer_token if variables else None

    response = gql(EVENTS, variables, token=token)

    assert errors(response) == [{"path": ["events"], "code": code}]


def test_a_page_of_events_is_five_queries_however_many(
    gql: GraphQL,
    django_assert_num_queries: QueryCounter,
    organizer: User,
    organizer_token: str,
) -> None:
    def propose(numbers: range) -> None:
        for i in numbers:
            invited = make_user()  # nobody shared that a cache could hide
            event = event_propose(
                actor=actor_for(organizer),
                parties=[invited.email, f"new{i}@example.com"],
                slots=[
                    SlotInput(start=at(8, 9) + timedelta(days=i), duration_minutes=60),
                    SlotInput(start=at(8, 12) + timedelta(days=i), duration_minutes=30),
                    SlotInput(start=at(8, 15) + timedelta(days=i), duration_minutes=90),
                ],
                title=f"Event {i}",
            )
            first, second, _ = candidates_of(event)
            event_vote(
                actor=actor_for(invited),
                event_id=event.pk,
                votes=[(first.pk, "YES"), (second.pk, "IF_NEED_BE")],
            )
            event_vote(actor=actor_for(organizer), event_id=event.pk, votes=[(first.pk, "NO")])

    def page(expected_queries: int) -> dict[str, Any]:
        ApiToken.objects.update(last_used_at=NOW)  # authenticating is one SELECT, no UPDATE
        with django_assert_num_queries(expected_queries):
            response = gql(EVENTS_PAGE, token=organizer_token)
        return response.json()["data"]["events"]

    # The token, the page with its total, then participants, candidates with their tallies,
    # and votes: one query each for the whole page
    propose(range(5))
    small = page(5)
    propose(range(5, 50))
    large = page(5)

    assert (small["totalCount"], len(small["edges"])) == (5, 5)
    assert (large["totalCount"], len(large["edges"])) == (50, 50)
    node = large["edges"][-1]["node"]
    assert [c["yes"] for c in node["candidates"]] == [1, 0, 0]
    assert [c["ifNeedBe"] for c in node["candidates"]] == [0, 1, 0]
    assert [c["no"] for c in node["candidates"]] == [1, 0, 0]
    assert [len(c["votes"]) for c in node["candidates"]] == [2, 1, 0]
    assert len({e["node"]["participants"][1]["user"]["email"] for e in large["edges"]}) == 50


@pytest.mark.parametrize("count", [3, 60])
def test_one_event_is_seven_queries_however_many_candidates(
    gql: GraphQL,
    django_assert_num_queries: QueryCounter,
    organizer: User,
    party: User,
    organizer_token: str,
    count: int,
) -> None:
    event = event_propose(
        actor=actor_for(organizer),
        parties=[party.email, "quinn@example.com"],
        slots=[
            SlotInput(start=at(8, 9) + timedelta(hours=i), duration_minutes=60)
            for i in range(count)
        ],
    )
    event_vote(
        actor=actor_for(party),
        event_id=event.pk,
        votes=[(c.pk, "YES") for c in candidates_of(event)],
    )
    ApiToken.objects.update(last_used_at=NOW)

    # The token; the event and whether Olga is on it (the service); then the event with its
    # organizer, its participants, its candidates with their tallies, and the votes
    with django_assert_num_queries(7):
        response = gql(EVENT, {"id": gid("Event", event.pk)}, token=organizer_token)

    candidates = response.json()["data"]["event"]["candidates"]
    assert [c["yes"] for c in candidates] == [1] * count
    assert {len(c["votes"]) for c in candidates} == {1}


# --- eventNarrow -----------------------------------------------------------------------------


def narrow_variables(event: Event, keep: list[CandidateSlot], version: int = 1) -> dict[str, Any]:
    return {
        "id": gid("Event", event.pk),
        "keep": [gid("CandidateSlot", slot.pk) for slot in keep],
        "version": version,
    }


def test_a_party_narrows_the_candidates(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    party: User,
    party_token: str,
    event_tables: Tables,
) -> None:
    # Given Pia voted on the candidate that will go
    event_vote(
        actor=actor_for(party),
        event_id=proposed.pk,
        votes=[(slots[0].pk, "YES"), (slots[1].pk, "NO")],
    )
    before = event_tables()

    # When she keeps the first and the last
    response = gql(NARROW, narrow_variables(proposed, [slots[0], slots[2]]), token=party_token)

    # Then the middle one is gone with its vote, and the version moved on
    assert response.json() == {
        "data": {
            "eventNarrow": planning(
                proposed,
                [
                    candidate(slots[0], yes=1, votes=(("pia@example.com", "YES"),)),
                    candidate(slots[2]),
                ],
                version=2,
            )
        }
    }
    assert log_actions(proposed)[-1] == ("event.narrow", "TOKEN", "pia@example.com")
    # And nobody was e-mailed
    after = event_tables()
    assert (after["notifications"], after["jobs"]) == (before["notifications"], before["jobs"])


@pytest.mark.parametrize(
    "case",
    [
        "stale version",
        "slot of another event",
        "keep nothing",
        "malformed slot id",
        "stranger",
        "staff",
        "scheduled",
        "cancelled",
    ],
)
def test_narrow_refuses_and_writes_nothing(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    organizer: User,
    party_token: str,
    stranger_token: str,
    staff_token: str,
    event_tables: Tables,
    case: str,
) -> None:
    variables = narrow_variables(proposed, slots[:2])
    token = party_token
    if case == "stale version":
        variables["version"] = 0
    elif case == "slot of another event":
        variables["keep"].append(gid("CandidateSlot", candidates_of(other_event(organizer))[0].pk))
    elif case == "keep nothing":
        variables["keep"] = []
    elif case == "malformed slot id":
        variables["keep"].append("nope")
    elif case == "stranger":
        token = stranger_token
    elif case == "staff":
        token = staff_token
    elif case == "scheduled":
        event_agree(
            actor=actor_for(organizer),
            event_id=proposed.pk,
            slot_id=slots[0].pk,
            expected_version=1,
        )
        variables["version"] = 2
    elif case == "cancelled":
        event_cancel(actor=actor_for(organizer), event_id=proposed.pk)
        variables["version"] = 2
    before = event_tables()

    response = gql(NARROW, variables, token=token)

    expected = {
        "stale version": ("STALE_VERSION", "expectedVersion"),
        "slot of another event": ("NOT_A_CANDIDATE", "keepSlotIds"),
        "keep nothing": ("INVALID_INPUT", "keepSlotIds"),
        "malformed slot id": ("NOT_FOUND", None),
        "stranger": ("NOT_FOUND", None),
        "staff": ("PERMISSION_DENIED", None),
        "scheduled": ("EVENT_NOT_PROPOSED", None),
        "cancelled": ("EVENT_CANCELLED", None),
    }[case]
    assert response.json() == messages("eventNarrow", *expected)
    assert event_tables() == before


def test_narrowing_to_one_schedules_an_auto_agree_event(
    gql: GraphQL,
    organizer: User,
    party: User,
    party_token: str,
    event_tables: Tables,
) -> None:
    # Given an event that schedules itself when one candidate is left
    event = event_propose(
        actor=actor_for(organizer),
        parties=[party.email, "quinn@example.com"],
        slots=[SlotInput(start=s, duration_minutes=60) for s in EVENT_STARTS],
        title="Planning",
        description="Next quarter.",
        auto_agree=True,
    )
    slots = candidates_of(event)
    before = event_tables()

    # When Pia keeps one
    response = gql(NARROW, narrow_variables(event, [slots[1]]), token=party_token)

    # Then it is scheduled then: Pia narrowed, the system agreed (two versions on)
    assert response.json() == {
        "data": {
            "eventNarrow": planning(
                event,
                [candidate(slots[1])],
                status="SCHEDULED",
                version=3,
                start=iso(at(8, 10)),
                end=iso(at(8, 11)),
                autoAgree=True,
            )
        }
    }
    assert log_actions(event)[1:] == [
        ("event.narrow", "TOKEN", "pia@example.com"),
        ("event.agree", "SYSTEM", None),
        ("event.notify", "SYSTEM", None),
        ("event.notify", "SYSTEM", None),
    ]
    # And both parties are told (not the organizer)
    after = event_tables()
    assert sent() == [
        ("pia@example.com", "EVENT_SCHEDULED"),
        ("quinn@example.com", "EVENT_SCHEDULED"),
    ]
    assert len(after["jobs"]) == len(before["jobs"]) + 2


@pytest.mark.parametrize("auto_agree", [False, True], ids=["one left, no auto-agree", "two left"])
def test_a_narrow_that_leaves_it_open_does_not_schedule(
    gql: GraphQL, organizer: User, party: User, party_token: str, auto_agree: bool
) -> None:
    event = event_propose(
        actor=actor_for(organizer),
        parties=[party.email],
        slots=[SlotInput(start=s, duration_minutes=60) for s in EVENT_STARTS],
        auto_agree=auto_agree,
    )
    slots = candidates_of(event)
    keep = slots[:2] if auto_agree else slots[:1]

    response = gql(NARROW, narrow_variables(event, keep), token=party_token)

    event_json = response.json()["data"]["eventNarrow"]
    assert (event_json["status"], event_json["version"]) == ("PROPOSED", 2)
    assert len(event_json["candidates"]) == len(keep)
    assert sent() == []


# --- eventExtend -----------------------------------------------------------------------------


def test_the_organizer_adds_candidates(gql: GraphQL, proposed: Event, organizer_token: str) -> None:
    # When Olga adds Thursday 09:00 and Tuesday 09:00 again
    response = gql(
        EXTEND,
        {
            "id": gid("Event", proposed.pk),
            "slots": [slot_input(at(10, 9), 45), slot_input(at(8, 9))],
            "version": 1,
        },
        token=organizer_token,
    )

    # Then only Thursday is new
    assert response.json() == {
        "data": {
            "eventExtend": {
                "version": 2,
                "candidates": [
                    {"start": iso(at(8, 9)), "end": iso(at(8, 10)), "durationMinutes": 60},
                    {"start": iso(at(8, 10)), "end": iso(at(8, 11)), "durationMinutes": 60},
                    {"start": iso(at(9, 14)), "end": iso(at(9, 14, 30)), "durationMinutes": 30},
                    {"start": iso(at(10, 9)), "end": iso(at(10, 9, 45)), "durationMinutes": 45},
                ],
            }
        }
    }
    assert log_actions(proposed)[-1] == ("event.extend", "TOKEN", "olga@example.com")


@pytest.mark.parametrize(
    ("who", "version", "code", "field"),
    [
        ("party", 1, "PERMISSION_DENIED", None),
        ("organizer", 0, "STALE_VERSION", "expectedVersion"),
        ("stranger", 1, "NOT_FOUND", None),
    ],
)
def test_extend_refuses_and_writes_nothing(
    gql: GraphQL,
    proposed: Event,
    organizer_token: str,
    party_token: str,
    stranger_token: str,
    event_tables: Tables,
    who: str,
    version: int,
    code: str,
    field: str | None,
) -> None:
    token = {"party": party_token, "organizer": organizer_token, "stranger": stranger_token}[who]
    before = event_tables()

    response = gql(
        EXTEND,
        {"id": gid("Event", proposed.pk), "slots": [slot_input(at(10, 9))], "version": version},
        token=token,
    )

    assert response.json() == messages("eventExtend", code, field)
    assert event_tables() == before


# --- eventVote -------------------------------------------------------------------------------


def vote_variables(event: Event, *votes: tuple[CandidateSlot, str]) -> dict[str, Any]:
    return {
        "id": gid("Event", event.pk),
        "votes": [{"slotId": gid("CandidateSlot", s.pk), "answer": a} for s, a in votes],
    }


def test_votes_replace_earlier_ones_and_make_the_tallies(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    organizer_token: str,
    party_token: str,
    event_tables: Tables,
) -> None:
    # Given Olga and Pia voted
    gql(VOTE, vote_variables(proposed, (slots[0], "IF_NEED_BE")), token=organizer_token)
    gql(
        VOTE,
        vote_variables(proposed, (slots[0], "YES"), (slots[1], "NO")),
        token=party_token,
    )
    before = event_tables()

    # When Pia votes again, on other candidates
    response = gql(
        VOTE,
        vote_variables(proposed, (slots[1], "YES"), (slots[2], "IF_NEED_BE")),
        token=party_token,
    )

    # Then her earlier votes are gone, Olga's stay, and the version is unchanged
    assert response.json() == {
        "data": {
            "eventVote": {
                "version": 1,
                "candidates": [
                    {
                        "start": iso(at(8, 9)),
                        "yes": 0,
                        "ifNeedBe": 1,
                        "no": 0,
                        "votes": [
                            {
                                "participant": {"user": {"email": "olga@example.com"}},
                                "answer": "IF_NEED_BE",
                            }
                        ],
                    },
                    {
                        "start": iso(at(8, 10)),
                        "yes": 1,
                        "ifNeedBe": 0,
                        "no": 0,
                        "votes": [
                            {"participant": {"user": {"email": "pia@example.com"}}, "answer": "YES"}
                        ],
                    },
                    {
                        "start": iso(at(9, 14)),
                        "yes": 0,
                        "ifNeedBe": 1,
                        "no": 0,
                        "votes": [
                            {
                                "participant": {"user": {"email": "pia@example.com"}},
                                "answer": "IF_NEED_BE",
                            }
                        ],
                    },
                ],
            }
        }
    }
    after = event_tables()
    assert len(after["votes"]) == 3
    assert [row[1:3] for row in after["events"]] == [row[1:3] for row in before["events"]]
    assert log_actions(proposed)[-1] == ("event.vote", "TOKEN", "pia@example.com")
    assert (after["notifications"], after["jobs"]) == (before["notifications"], before["jobs"])


def test_an_empty_vote_withdraws_ones_answers(
    gql: GraphQL, proposed: Event, slots: list[CandidateSlot], party_token: str
) -> None:
    gql(VOTE, vote_variables(proposed, (slots[0], "YES")), token=party_token)

    response = gql(VOTE, vote_variables(proposed), token=party_token)

    tallies = [c["yes"] for c in response.json()["data"]["eventVote"]["candidates"]]
    assert tallies == [0, 0, 0]


@pytest.mark.parametrize(
    "case", ["slot of another event", "same slot twice", "stranger", "staff", "scheduled"]
)
def test_vote_refuses_and_writes_nothing(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    organizer: User,
    party: User,
    party_token: str,
    stranger_token: str,
    staff_token: str,
    event_tables: Tables,
    case: str,
) -> None:
    # Given Pia's earlier vote, which a refused vote must not touch
    event_vote(actor=actor_for(party), event_id=proposed.pk, votes=[(slots[2].pk, "NO")])
    votes: list[tuple[CandidateSlot, str]] = [(slots[0], "YES")]
    token = party_token
    if case == "slot of another event":
        votes.append((candidates_of(other_event(organizer))[0], "NO"))
    elif case == "same slot twice":
        votes.append((slots[0], "NO"))
    elif case == "stranger":
        token = stranger_token
    elif case == "staff":
        token = staff_token
    elif case == "scheduled":
        event_agree(
            actor=actor_for(organizer),
            event_id=proposed.pk,
            slot_id=slots[0].pk,
            expected_version=1,
        )
    before = event_tables()

    response = gql(VOTE, vote_variables(proposed, *votes), token=token)

    expected = {
        "slot of another event": ("NOT_A_CANDIDATE", "votes"),
        "same slot twice": ("INVALID_INPUT", "votes"),
        "stranger": ("NOT_FOUND", None),
        "staff": ("PERMISSION_DENIED", None),
        "scheduled": ("EVENT_NOT_PROPOSED", None),
    }[case]
    assert response.json() == messages("eventVote", *expected)
    assert event_tables() == before


# --- eventAgree ------------------------------------------------------------------------------


def test_agreeing_schedules_the_event_and_tells_the_parties(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    party: User,
    organizer_token: str,
    event_tables: Tables,
) -> None:
    # Given Pia had said NO to the candidate that is chosen
    event_vote(actor=actor_for(party), event_id=proposed.pk, votes=[(slots[2].pk, "NO")])
    before = event_tables()

    # When Olga agrees on Wednesday 14:00
    response = gql(
        AGREE,
        {
            "id": gid("Event", proposed.pk),
            "slotId": gid("CandidateSlot", slots[2].pk),
            "version": 1,
        },
        token=organizer_token,
    )

    # Then it is scheduled; the parties are participants who have not answered yet, the
    # organizer attends; the candidates and votes stay as they were
    assert response.json() == {
        "data": {
            "eventAgree": planning(
                proposed,
                [
                    candidate(slots[0]),
                    candidate(slots[1]),
                    candidate(slots[2], no=1, votes=(("pia@example.com", "NO"),)),
                ],
                status="SCHEDULED",
                version=2,
                start=iso(at(9, 14)),
                end=iso(at(9, 14, 30)),
                participants=people(organizer="YES", parties="UNDECIDED"),
            )
        }
    }
    # And each party (not the organizer) gets an e-mail, through the job queue
    after = event_tables()
    assert sent() == [
        ("pia@example.com", "EVENT_SCHEDULED"),
        ("quinn@example.com", "EVENT_SCHEDULED"),
    ]
    assert len(after["jobs"]) == len(before["jobs"]) + 2
    assert log_actions(proposed)[-3:] == [
        ("event.agree", "TOKEN", "olga@example.com"),
        ("event.notify", "SYSTEM", None),
        ("event.notify", "SYSTEM", None),
    ]


def test_agreeing_resets_earlier_answers(
    gql: GraphQL, proposed: Event, slots: list[CandidateSlot], organizer_token: str
) -> None:
    # Given answers left over (the service is the only writer; set them as a later RSVP would)
    Participant.objects.filter(event=proposed).update(rsvp=Participant.Rsvp.NO)

    response = gql(
        AGREE,
        {
            "id": gid("Event", proposed.pk),
            "slotId": gid("CandidateSlot", slots[0].pk),
            "version": 1,
        },
        token=organizer_token,
    )

    assert response.json()["data"]["eventAgree"]["participants"] == people()


@pytest.mark.parametrize(
    "case", ["party", "stale version", "slot of another event", "twice", "cancelled", "stranger"]
)
def test_agree_refuses_and_writes_nothing(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    organizer: User,
    organizer_token: str,
    party_token: str,
    stranger_token: str,
    event_tables: Tables,
    case: str,
) -> None:
    variables = {
        "id": gid("Event", proposed.pk),
        "slotId": gid("CandidateSlot", slots[0].pk),
        "version": 1,
    }
    token = organizer_token
    if case == "party":
        token = party_token
    elif case == "stale version":
        variables["version"] = 2
    elif case == "slot of another event":
        variables["slotId"] = gid("CandidateSlot", candidates_of(other_event(organizer))[0].pk)
    elif case == "twice":
        gql(AGREE, variables, token=organizer_token)
        variables["version"] = 2
    elif case == "cancelled":
        event_cancel(actor=actor_for(organizer), event_id=proposed.pk)
        variables["version"] = 2
    elif case == "stranger":
        token = stranger_token
    before = event_tables()

    response = gql(AGREE, variables, token=token)

    expected = {
        "party": ("PERMISSION_DENIED", None),
        "stale version": ("STALE_VERSION", "expectedVersion"),
        "slot of another event": ("NOT_A_CANDIDATE", "slotId"),
        "twice": ("EVENT_NOT_PROPOSED", None),
        "cancelled": ("EVENT_CANCELLED", None),
        "stranger": ("NOT_FOUND", None),
    }[case]
    assert response.json() == messages("eventAgree", *expected)
    assert event_tables() == before


# --- eventCancel -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheduled", [False, True], ids=["proposed", "scheduled"])
def test_the_organizer_cancels(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    organizer: User,
    organizer_token: str,
    scheduled: bool,
) -> None:
    if scheduled:
        event_agree(
            actor=actor_for(organizer),
            event_id=proposed.pk,
            slot_id=slots[0].pk,
            expected_version=1,
        )
    Notification.objects.all().delete()  # only the cancellation's e-mails are of interest
    version = 3 if scheduled else 2

    response = gql(
        CANCEL, {"id": gid("Event", proposed.pk), "reason": " Budget cut. "}, token=organizer_token
    )

    assert response.json() == {
        "data": {
            "eventCancel": {
                "status": "CANCELLED",
                "version": version,
                "cancelReason": "Budget cut.",
            }
        }
    }
    assert sent() == [
        ("pia@example.com", "EVENT_CANCELLED"),
        ("quinn@example.com", "EVENT_CANCELLED"),
    ]


def test_cancelling_twice_changes_nothing_and_sends_nothing(
    gql: GraphQL, proposed: Event, organizer_token: str, event_tables: Tables
) -> None:
    variables = {"id": gid("Event", proposed.pk), "reason": "Budget cut."}
    gql(CANCEL, variables, token=organizer_token)
    before = event_tables()

    response = gql(CANCEL, {**variables, "reason": "Another reason."}, token=organizer_token)

    assert response.json() == {
        "data": {
            "eventCancel": {"status": "CANCELLED", "version": 2, "cancelReason": "Budget cut."}
        }
    }
    assert event_tables() == before


@pytest.mark.parametrize(
    ("who", "reason", "code", "field"),
    [
        ("party", "", "PERMISSION_DENIED", None),
        ("stranger", "", "NOT_FOUND", None),
        ("staff", "", "PERMISSION_DENIED", None),
        ("organizer", "x" * 501, "INVALID_INPUT", "reason"),
    ],
)
def test_cancel_refuses_and_writes_nothing(
    gql: GraphQL,
    proposed: Event,
    organizer_token: str,
    party_token: str,
    stranger_token: str,
    staff_token: str,
    event_tables: Tables,
    who: str,
    reason: str,
    code: str,
    field: str | None,
) -> None:
    token = {
        "party": party_token,
        "stranger": stranger_token,
        "staff": staff_token,
        "organizer": organizer_token,
    }[who]
    before = event_tables()

    response = gql(CANCEL, {"id": gid("Event", proposed.pk), "reason": reason}, token=token)

    assert response.json() == messages("eventCancel", code, field)
    assert event_tables() == before


# --- eventDelete -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["organizer", "party", "anonymous"])
def test_only_staff_delete_events(
    gql: GraphQL,
    proposed: Event,
    organizer_token: str,
    party_token: str,
    event_tables: Tables,
    who: str,
) -> None:
    token = {"organizer": organizer_token, "party": party_token, "anonymous": None}[who]
    before = event_tables()

    response = gql(DELETE, {"id": gid("Event", proposed.pk)}, token=token)

    code = "UNAUTHENTICATED" if who == "anonymous" else "PERMISSION_DENIED"
    assert response.json() == messages("eventDelete", code)
    assert event_tables() == before


def test_staff_delete_an_event_and_its_log_stays(
    gql: GraphQL,
    proposed: Event,
    slots: list[CandidateSlot],
    party: User,
    organizer_token: str,
    staff_token: str,
) -> None:
    # Given Pia voted and a link to her is waiting in the outbox
    event_vote(actor=actor_for(party), event_id=proposed.pk, votes=[(slots[0].pk, "YES")])
    event_notify(
        actor=actor_for(proposed.organizer),
        event_id=proposed.pk,
        parties=[party.email],
        expected_version=proposed.version,
    )
    event_id = gid("Event", proposed.pk)

    response = gql(DELETE, {"id": event_id}, token=staff_token)

    assert response.json() == {"data": {"eventDelete": {"deleted": 1}}}
    assert not Event.objects.filter(pk=proposed.pk).exists()
    # And the e-mail not yet sent is dropped: its link would lead nowhere
    assert list(Notification.objects.values_list("event", "recipient__email")) == []
    # And staff can still read the whole log, ending with the deletion by staff
    log = gql(EVENT_LOG, {"id": event_id}, token=staff_token)
    assert log.json() == {
        "data": {
            "eventLog": {
                "totalCount": 4,
                "edges": [
                    {"node": {"action": a, "actorKind": k, "actorUser": u}}
                    for a, k, u in [
                        ("event.propose", "USER", {"email": "olga@example.com"}),
                        ("event.vote", "USER", {"email": "pia@example.com"}),
                        ("event.notify", "USER", {"email": "olga@example.com"}),
                        ("event.delete", "TOKEN", {"email": "root@example.com"}),
                    ]
                ],
            }
        }
    }
    # But the organizer no longer can, and the event is gone for everyone
    assert errors(gql(EVENT_LOG, {"id": event_id}, token=organizer_token)) == [
        {"path": ["eventLog"], "code": "NOT_FOUND"}
    ]
    assert errors(gql(EVENT, {"id": event_id}, token=staff_token)) == [
        {"path": ["event"], "code": "NOT_FOUND"}
    ]
    assert gql(DELETE, {"id": event_id}, token=staff_token).json() == messages(
        "eventDelete", "NOT_FOUND"
    )


# --- eventNotify -----------------------------------------------------------------------------


def test_notify_records_one_email_per_party_and_shows_no_secret(
    gql: GraphQL, proposed: Event, organizer_token: str, event_tables: Tables
) -> None:
    before = event_tables()

    response = gql(
        NOTIFY,
        {
            "id": gid("Event", proposed.pk),
            "parties": ["QUINN@example.com", "pia@example.com"],
            "version": 1,
            "message": "Please pick one.",
        },
        token=organizer_token,
    )

    # Then each party gets an e-mail with a fresh link, recorded and queued
    tokens = {t.user.email: t for t in proposed.access_tokens.select_related("user")}
    assert response.json() == {
        "data": {
            "eventNotify": {
                "notifications": [
                    {
                        "recipient": {"email": email},
                        "kind": "EVENT_INVITATION",
                        "status": "PENDING",
                        "createdAt": iso(NOW),
                        "accessToken": {"id": gid("EventAccessToken", tokens[email].pk)},
                    }
                    for email in ["pia@example.com", "quinn@example.com"]
                ]
            }
        }
    }
    after = event_tables()
    assert sent() == [
        ("pia@example.com", "EVENT_INVITATION"),
        ("quinn@example.com", "EVENT_INVITATION"),
    ]
    assert len(after["jobs"]) == len(before["jobs"]) + 2
    # But the links (their secrets) are only in the e-mails: not in the outbox, before the
    # mails go or after, nor in the response
    assert "rdve_" not in repr(list(Notification.objects.values_list()))
    notifications = list(Notification.objects.order_by("id"))
    secrets = [deliver(notification) for notification in notifications]
    for notification, secret in zip(notifications, secrets, strict=True):
        assert secret.startswith("rdve_")
        assert f"/e/{proposed.pk}/?token={secret}\n" in delivered(notification).body
    assert "rdve_" not in repr(list(Notification.objects.values_list()))
    assert "rdve_" not in response.content.decode()
    assert "token=" not in response.content.decode()


@pytest.mark.parametrize(
    "case", ["not a party", "no one", "stale version", "cancelled", "stranger", "staff"]
)
def test_notify_refuses_and_sends_nothing(
    gql: GraphQL,
    proposed: Event,
    organizer: User,
    organizer_token: str,
    stranger_token: str,
    staff_token: str,
    event_tables: Tables,
    case: str,
) -> None:
    variables = {
        "id": gid("Event", proposed.pk),
        "parties": ["pia@example.com"],
        "version": 1,
        "message": "",
    }
    token = organizer_token
    if case == "not a party":
        variables["parties"] = ["pia@example.com", "sam@example.com"]  # Sam exists
    elif case == "no one":
        variables["parties"] = []
    elif case == "stale version":
        variables["version"] = 2
    elif case == "cancelled":
        event_cancel(actor=actor_for(organizer), event_id=proposed.pk)
        variables["version"] = 2
    elif case == "stranger":
        token = stranger_token
    elif case == "staff":
        token = staff_token
    before = event_tables()

    response = gql(NOTIFY, variables, token=token)

    expected = {
        "not a party": ("NOT_A_PARTY", "parties"),
        "no one": ("INVALID_INPUT", "parties"),
        "stale version": ("STALE_VERSION", "expectedVersion"),
        "cancelled": ("EVENT_CANCELLED", None),
        "stranger": ("NOT_FOUND", None),
        "staff": ("PERMISSION_DENIED", None),
    }[case]
    assert response.json() == messages("eventNotify", *expected)
    assert event_tables() == before


def test_a_scheduled_event_can_still_be_shared(
    gql: GraphQL, proposed: Event, slots: list[CandidateSlot], organizer: User, party_token: str
) -> None:
    event_agree(
        actor=actor_for(organizer), event_id=proposed.pk, slot_id=slots[0].pk, expected_version=1
    )

    response = gql(
        NOTIFY,
        {
            "id": gid("Event", proposed.pk),
            "parties": ["quinn@example.com"],
            "version": 2,
            "message": "",
        },
        token=party_token,
    )

    [notification] = response.json()["data"]["eventNotify"]["notifications"]
    assert notification["recipient"] == {"email": "quinn@example.com"}


# --- eventLog --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "code"),
    [("stranger", "NOT_FOUND"), ("anonymous", "UNAUTHENTICATED")],
)
def test_the_log_is_for_the_people_on_the_event(
    gql: GraphQL, proposed: Event, stranger_token: str, who: str, code: str
) -> None:
    token = stranger_token if who == "stranger" else None

    response = gql(EVENT_LOG, {"id": gid("Event", proposed.pk)}, token=token)

    assert errors(response) == [{"path": ["eventLog"], "code": code}]


@pytest.mark.parametrize("who", ["party", "staff"])
def test_parties_and_staff_read_the_log(
    gql: GraphQL, proposed: Event, party_token: str, staff_token: str, who: str
) -> None:
    token = party_token if who == "party" else staff_token

    response = gql(EVENT_LOG, {"id": gid("Event", proposed.pk)}, token=token)

    assert response.json() == {
        "data": {
            "eventLog": {
                "totalCount": 1,
                "edges": [
                    {
                        "node": {
                            "action": "event.propose",
                            "actorKind": "USER",
                            "actorUser": {"email": "olga@example.com"},
                        }
                    }
                ],
            }
        }
    }


def test_signed_in_in_a_browser_works_too(
    gql: GraphQL, http: HttpClient, proposed: Event, slots: list[CandidateSlot], party: User
) -> None:
    # Given Pia signed in with a session (cookie and CSRF token, no Bearer)
    http.force_login(party)

    response = gql(VOTE, vote_variables(proposed, (slots[0], "YES")))

    assert response.json()["data"]["eventVote"]["candidates"][0]["yes"] == 1
    assert log_actions(proposed)[-1] == ("event.vote", "USER", "pia@example.com")
