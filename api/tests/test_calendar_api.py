"""The calendar through the API: eventCreate (recurring), occurrences, eventUpdate in one
occurrence, occurrenceCancel, eventRespond, freeTime with local times, workingHoursSetRanges,
error codes, and bounded query counts."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.tests.conftest import GraphQL, errors, gid, token_of
from reservation.models import AuditEntry, Event, OccurrenceChange, User, WorkingHours
from reservation.services.calendar import event_create, recurrence_spec
from reservation.tests.factories import NOW, actor_for, make_user

QueryCounter = Callable[..., Any]
MESSAGES = "... on OperationInfo { messages { code field } }"

CREATE = f"""
mutation Create($input: EventCreateInput!) {{
  eventCreate(input: $input) {{
    ... on Event {{ title status version start end timeZone
      participants {{ user {{ email }} role rsvp }} }}
    {MESSAGES}
  }}
}}
"""

OCCURRENCES = """
query Occurrences($start: DateTime!, $end: DateTime!, $users: [String!]) {
  occurrences(start: $start, end: $end, users: $users) {
    hasMore
    items { title start end originalStart recurring timeZone organizer { email } }
  }
}
"""

OCCURRENCES_1000 = OCCURRENCES.replace("users: $users)", "users: $users, first: 1000)")

MOVE = f"""
mutation Move($id: ID!, $at: DateTime!, $start: DateTime!, $v: Int!) {{
  eventUpdate(id: $id, scope: THIS_OCCURRENCE, occurrenceStart: $at,
              input: {{start: $start}}, expectedVersion: $v) {{
    ... on Event {{ version }}
    {MESSAGES}
  }}
}}
"""

CANCEL_ONE = f"""
mutation CancelOne($id: ID!, $at: DateTime!, $v: Int!) {{
  occurrenceCancel(id: $id, occurrenceStart: $at, expectedVersion: $v) {{
    ... on Event {{ version }}
    {MESSAGES}
  }}
}}
"""

RESPOND = f"""
mutation Respond($id: ID!, $decision: Rsvp!) {{
  eventRespond(id: $id, decision: $decision) {{
    ... on Event {{ participants {{ user {{ email }} rsvp }} }}
    {MESSAGES}
  }}
}}
"""

FREE = """
query Free($users: [String!]!, $start: DateTime!, $end: DateTime!, $minutes: Int!, $limit: Int!) {
  freeTime(users: $users, start: $start, end: $end, durationMinutes: $minutes, limit: $limit) {
    start end local { user { email } timeZone start end }
  }
}
"""

RANGES = f"""
mutation Ranges($ranges: [WorkingHoursRangeInput!]!, $tz: String) {{
  workingHoursSetRanges(ranges: $ranges, timeZone: $tz) {{
    ... on WorkingHoursResult {{ timeZone hours {{ weekday start end }} }}
    {MESSAGES}
  }}
}}
"""

WEEKLY_INPUT = {
    "title": "Standup",
    "start": "2030-03-19T09:00:00+01:00",
    "end": "2030-03-19T10:00:00+01:00",
    "timeZone": "Europe/Berlin",
    "participants": ["pia@example.com"],
    "recurrence": {"kind": "WEEKLY", "weekdays": ["TUESDAY"]},
    "reminders": [{"offsetMinutes": 10, "channel": "EMAIL"}],
}


@pytest.fixture
def olga(db: None) -> User:
    return make_user(email="olga@example.com", name="Olga", time_zone="Europe/Berlin")


@pytest.fixture
def pia(db: None) -> User:
    return make_user(email="pia@example.com", name="Pia", time_zone="America/New_York")


def test_create_move_cancel_and_list_occurrences(gql: GraphQL, olga: User, pia: User) -> None:
    token = token_of(olga)
    created = gql(CREATE, {"input": WEEKLY_INPUT}, token=token).json()
    assert created == {
        "data": {
            "eventCreate": {
                "title": "Standup",
                "status": "SCHEDULED",
                "version": 1,
                "start": "2030-03-19T08:00:00+00:00",
                "end": "2030-03-19T09:00:00+00:00",
                "timeZone": "Europe/Berlin",
                "participants": [
                    {"user": {"email": "olga@example.com"}, "role": "ORGANIZER", "rsvp": "YES"},
                    {"user": {"email": "pia@example.com"}, "role": "PARTY", "rsvp": "UNDECIDED"},
                ],
            }
        }
    }
    event = Event.objects.get()
    event_id = gid("Event", event.pk)
    moved = gql(
        MOVE,
        {
            "id": event_id,
            "at": "2030-03-26T08:00:00Z",
            "start": "2030-03-27T14:00:00+01:00",
            "v": 1,
        },
        token=token,
    ).json()
    assert moved == {"data": {"eventUpdate": {"version": 2}}}
    cancelled = gql(
        CANCEL_ONE, {"id": event_id, "at": "2030-04-02T07:00:00Z", "v": 2}, token=token
    ).json()
    assert cancelled == {"data": {"occurrenceCancel": {"version": 3}}}

    listed = gql(
        OCCURRENCES,
        {"start": "2030-03-18T00:00:00Z", "end": "2030-04-10T00:00:00Z"},
        token=token_of(pia),
    ).json()

    def row(start: str, end: str, original: str) -> dict[str, Any]:
        return {
            "title": "Standup",
            "start": start,
            "end": end,
            "originalStart": original,
            "recurring": True,
            "timeZone": "Europe/Berlin",
            "organizer": {"email": "olga@example.com"},
        }

    assert listed == {
        "data": {
            "occurrences": {
                "hasMore": False,
                "items": [
                    row(
                        "2030-03-19T08:00:00+00:00",
                        "2030-03-19T09:00:00+00:00",
                        "2030-03-19T08:00:00+00:00",
                    ),
                    row(
                        "2030-03-27T13:00:00+00:00",
                        "2030-03-27T14:00:00+00:00",
                        "2030-03-26T08:00:00+00:00",
                    ),
                    row(
                        "2030-04-09T07:00:00+00:00",
                        "2030-04-09T08:00:00+00:00",
                        "2030-04-09T07:00:00+00:00",
                    ),
                ],
            }
        }
    }
    # Someone not on the event sees none of it, even when naming its people.
    stranger = make_user(email="sam@example.com")
    assert gql(
        OCCURRENCES,
        {
            "start": "2030-03-18T00:00:00Z",
            "end": "2030-04-10T00:00:00Z",
            "users": ["olga@example.com"],
        },
        token=token_of(stranger),
    ).json() == {"data": {"occurrences": {"hasMore": False, "items": []}}}


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"start": "2030-03-19T09:00:00"}, "NAIVE_DATETIME", "start"),
        ({"timeZone": "Mars/Olympus"}, "INVALID_TIME_ZONE", "timeZone"),
        ({"recurrence": {"kind": "WEEKLY", "interval": 0}}, "INVALID_INPUT", "recurrence"),
        ({"recurrence": {"rrule": "FREQ=MINUTELY"}}, "INVALID_INPUT", "recurrence"),
        ({"recurrence": {"kind": "WEEKLY", "weekdays": ["MONDAY"]}}, "START_NOT_IN_RULE", "start"),
        ({"end": "2030-03-19T08:00:00Z"}, "INVALID_TIME_RANGE", "end"),
        (
            {"reminders": [{"offsetMinutes": 99999, "channel": "EMAIL"}]},
            "INVALID_INPUT",
            "reminders",
        ),
    ],
)
def test_create_rejections_carry_codes_and_write_nothing(
    gql: GraphQL, olga: User, change: dict[str, Any], code: str, field: str
) -> None:
    token = token_of(olga)
    audit = AuditEntry.objects.count()
    response = gql(CREATE, {"input": {**WEEKLY_INPUT, **change}}, token=token).json()
    assert response == {"data": {"eventCreate": {"messages": [{"code": code, "field": field}]}}}
    assert (Event.objects.count(), AuditEntry.objects.count()) == (0, audit)


def test_ranges_are_bounded(gql: GraphQL, olga: User) -> None:
    response = gql(
        OCCURRENCES,
        {"start": "2030-01-01T00:00:00Z", "end": "2031-01-03T00:00:00Z"},
        token=token_of(olga),
    )
    assert errors(response) == [{"path": ["occurrences"], "code": "RANGE_TOO_LONG"}]
    response = gql(
        FREE,
        {
            "users": ["olga@example.com"],
            "start": "2030-01-01T00:00:00Z",
            "end": "2031-01-03T00:00:00Z",
            "minutes": 30,
            "limit": 5,
        },
        token=token_of(olga),
    )
    assert errors(response) == [{"path": ["freeTime"], "code": "RANGE_TOO_LONG"}]
    response = gql(OCCURRENCES, {"start": "2030-01-01T00:00:00Z", "end": "2030-01-03T00:00:00Z"})
    assert errors(response) == [{"path": ["occurrences"], "code": "UNAUTHENTICATED"}]


def test_respond_and_organizer_sees_every_answer(gql: GraphQL, olga: User, pia: User) -> None:
    event = event_create(
        actor=actor_for(olga),
        title="Once",
        start=datetime(2030, 1, 8, 9, tzinfo=UTC),
        end=datetime(2030, 1, 8, 10, tzinfo=UTC),
        time_zone="UTC",
        participants=[pia.email],
        now=NOW,
    )
    answered = gql(
        RESPOND, {"id": gid("Event", event.pk), "decision": "MAYBE"}, token=token_of(pia)
    ).json()
    assert answered == {
        "data": {
            "eventRespond": {
                "participants": [
                    {"user": {"email": "olga@example.com"}, "rsvp": "YES"},
                    {"user": {"email": "pia@example.com"}, "rsvp": "MAYBE"},
                ]
            }
        }
    }
    refused = gql(
        RESPOND, {"id": gid("Event", event.pk), "decision": "NO"}, token=token_of(olga)
    ).json()
    assert refused == {
        "data": {"eventRespond": {"messages": [{"code": "INVALID_INPUT", "field": "decision"}]}}
    }


def test_free_time_in_utc_and_each_local_zone(gql: GraphQL, olga: User, pia: User) -> None:
    # Olga works 09–17 Berlin on Tuesdays, Pia 08–12 New York: common 13:00–16:00 UTC,
    # minus Olga's 14:00–15:00 UTC meeting with Pia.
    olga_token, pia_token = token_of(olga), token_of(pia)
    for token, start, end in ((olga_token, "09:00", "17:00"), (pia_token, "08:00", "12:00")):
        set_hours = gql(
            RANGES,
            {"ranges": [{"first": "TUESDAY", "last": "TUESDAY", "start": start, "end": end}]},
            token=token,
        ).json()
        assert "messages" not in set_hours["data"]["workingHoursSetRanges"]
    event_create(
        actor=actor_for(olga),
        title="Sync",
        start=datetime(2030, 1, 8, 14, tzinfo=UTC),
        end=datetime(2030, 1, 8, 15, tzinfo=UTC),
        time_zone="UTC",
        participants=[pia.email],
        now=NOW,
    )
    response = gql(
        FREE,
        {
            "users": ["olga@example.com", gid("User", pia.pk)],
            "start": "2030-01-07T00:00:00Z",
            "end": "2030-01-14T00:00:00Z",
            "minutes": 60,
            "limit": 5,
        },
        token=olga_token,
    ).json()
    assert response == {
        "data": {
            "freeTime": [
                {
                    "start": "2030-01-08T13:00:00+00:00",
                    "end": "2030-01-08T14:00:00+00:00",
                    "local": [
                        {
                            "user": {"email": "olga@example.com"},
                            "timeZone": "Europe/Berlin",
                            "start": "2030-01-08T14:00:00+01:00",
                            "end": "2030-01-08T15:00:00+01:00",
                        },
                        {
                            "user": {"email": "pia@example.com"},
                            "timeZone": "America/New_York",
                            "start": "2030-01-08T08:00:00-05:00",
                            "end": "2030-01-08T09:00:00-05:00",
                        },
                    ],
                },
                {
                    "start": "2030-01-08T15:00:00+00:00",
                    "end": "2030-01-08T16:00:00+00:00",
                    "local": [
                        {
                            "user": {"email": "olga@example.com"},
                            "timeZone": "Europe/Berlin",
                            "start": "2030-01-08T16:00:00+01:00",
                            "end": "2030-01-08T17:00:00+01:00",
                        },
                        {
                            "user": {"email": "pia@example.com"},
                            "timeZone": "America/New_York",
                            "start": "2030-01-08T10:00:00-05:00",
                            "end": "2030-01-08T11:00:00-05:00",
                        },
                    ],
                },
            ]
        }
    }
    unknown = gql(
        FREE,
        {
            "users": ["nobody@example.com"],
            "start": "2030-01-07T00:00:00Z",
            "end": "2030-01-14T00:00:00Z",
            "minutes": 60,
            "limit": 5,
        },
        token=olga_token,
    )
    assert errors(unknown) == [{"path": ["freeTime"], "code": "NOT_FOUND"}]


def test_working_hours_ranges_replace_the_one_model(gql: GraphQL, olga: User) -> None:
    response = gql(
        RANGES,
        {
            "ranges": [
                {"first": "SATURDAY", "last": "MONDAY", "start": "22:00:00", "end": "06:00:00"}
            ],
            "tz": "Asia/Tokyo",
        },
        token=token_of(olga),
    ).json()
    assert response == {
        "data": {
            "workingHoursSetRanges": {
                "timeZone": "Asia/Tokyo",
                "hours": [
                    {"weekday": "MONDAY", "start": "22:00:00", "end": "06:00:00"},
                    {"weekday": "SATURDAY", "start": "22:00:00", "end": "06:00:00"},
                    {"weekday": "SUNDAY", "start": "22:00:00", "end": "06:00:00"},
                ],
            }
        }
    }
    assert WorkingHours.objects.filter(user=olga).count() == 3


@pytest.mark.parametrize("events", [1, 12])
def test_occurrences_and_free_time_query_counts_are_fixed(
    gql: GraphQL, olga: User, pia: User, django_assert_num_queries: QueryCounter, events: int
) -> None:
    token = token_of(olga)
    for i in range(events):
        event = event_create(
            actor=actor_for(olga),
            title=f"E{i}",
            start=datetime(2030, 1, 8, 9, tzinfo=UTC) + timedelta(hours=i),
            end=datetime(2030, 1, 8, 10, tzinfo=UTC) + timedelta(hours=i),
            time_zone="Europe/Berlin",
            participants=[pia.email],
            recurrence_rule=recurrence_spec(kind="DAILY"),
            now=NOW,
        )
        OccurrenceChange.objects.create(
            event=event, original_start=event.start + timedelta(days=1), cancelled=True
        )
    # token lookup + touch, attendance, events, changes
    with django_assert_num_queries(6):  # + the viewer's answers, one query for all
        response = gql(
            OCCURRENCES_1000,
            {"start": "2030-01-07T00:00:00Z", "end": "2030-03-07T00:00:00Z"},
            token=token,
        ).json()
    # Daily from 8 January to 6 March (58 days), one cancelled each.
    assert len(response["data"]["occurrences"]["items"]) == events * 57
    # ...and one more for freeTime's consent check (is Pia Olga's contact?)
    with django_assert_num_queries(9):
        response = gql(
            FREE,
            {
                "users": ["olga@example.com", "pia@example.com"],
                "start": "2030-01-07T00:00:00Z",
                "end": "2030-03-07T00:00:00Z",
                "minutes": 30,
                "limit": 100,
            },
            token=token,
        ).json()
    # The gaps between the daily blocks; the cancelled day joins two of them.
    assert len(response["data"]["freeTime"]) == 58


ANSWERS = """
query Answers($start: DateTime!, $end: DateTime!, $declined: Boolean!) {
  occurrences(start: $start, end: $end, includeDeclined: $declined) {
    items { title start myAnswer }
  }
}
"""

RULES = """
mutation Create($input: EventCreateInput!) {
  eventCreate(input: $input) {
    ... on Event { start end }
    ... on OperationInfo { messages { code field message } }
  }
}
"""


def test_occurrences_show_my_answer_and_can_leave_declined_ones_out(
    gql: GraphQL, olga: User, pia: User
) -> None:
    for title, hour in (("Kept", 9), ("Declined", 11)):
        event_create(
            actor=actor_for(olga),
            title=title,
            start=datetime(2030, 3, 19, hour, tzinfo=UTC),
            end=datetime(2030, 3, 19, hour + 1, tzinfo=UTC),
            time_zone="UTC",
            participants=[pia.email],
            recurrence_rule=recurrence_spec(kind="DAILY", count=2),
            now=NOW,
        )
    declined = Event.objects.get(title="Declined")
    answered = gql(
        RESPOND, {"id": gid("Event", declined.pk), "decision": "NO"}, token=token_of(pia)
    ).json()
    assert {"user": {"email": "pia@example.com"}, "rsvp": "NO"} in answered["data"]["eventRespond"][
        "participants"
    ]
    window = {"start": "2030-03-19T00:00:00Z", "end": "2030-03-21T00:00:00Z"}

    everything = gql(ANSWERS, {**window, "declined": True}, token=token_of(pia)).json()
    assert everything == {
        "data": {
            "occurrences": {
                "items": [
                    {
                        "title": "Kept",
                        "start": "2030-03-19T09:00:00+00:00",
                        "myAnswer": "UNDECIDED",
                    },
                    {"title": "Declined", "start": "2030-03-19T11:00:00+00:00", "myAnswer": "NO"},
                    {
                        "title": "Kept",
                        "start": "2030-03-20T09:00:00+00:00",
                        "myAnswer": "UNDECIDED",
                    },
                    {"title": "Declined", "start": "2030-03-20T11:00:00+00:00", "myAnswer": "NO"},
                ]
            }
        }
    }
    without = gql(ANSWERS, {**window, "declined": False}, token=token_of(pia)).json()
    assert without == {
        "data": {
            "occurrences": {
                "items": [
                    {
                        "title": "Kept",
                        "start": "2030-03-19T09:00:00+00:00",
                        "myAnswer": "UNDECIDED",
                    },
                    {
                        "title": "Kept",
                        "start": "2030-03-20T09:00:00+00:00",
                        "myAnswer": "UNDECIDED",
                    },
                ]
            }
        }
    }
    organizer = gql(ANSWERS, {**window, "declined": False}, token=token_of(olga)).json()
    assert [i["myAnswer"] for i in organizer["data"]["occurrences"]["items"]] == ["YES"] * 4


def test_a_power_users_rrule_and_aligning_the_start(gql: GraphQL, olga: User) -> None:
    base = {
        "title": "Close the books",
        "start": "2030-05-29T16:00:00+02:00",  # a Wednesday
        "end": "2030-05-29T17:00:00+02:00",
        "timeZone": "Europe/Berlin",
        "recurrence": {"rrule": "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"},
    }
    refused = gql(RULES, {"input": base}, token=token_of(olga)).json()
    assert refused == {
        "data": {
            "eventCreate": {
                "messages": [
                    {
                        "code": "START_NOT_IN_RULE",
                        "field": "start",
                        "message": "The recurrence does not give the start Wed 2030-05-29 16:00 "
                        "(Europe/Berlin); its first start from there is Fri 2030-05-31 16:00 "
                        "(Europe/Berlin). Start the event then, or send alignStart: true to "
                        "have it moved there.",
                    }
                ]
            }
        }
    }
    aligned = gql(RULES, {"input": {**base, "alignStart": True}}, token=token_of(olga)).json()
    assert aligned == {
        "data": {
            "eventCreate": {
                "start": "2030-05-31T14:00:00+00:00",
                "end": "2030-05-31T15:00:00+00:00",
            }
        }
    }
