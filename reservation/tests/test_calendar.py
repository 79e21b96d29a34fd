"""The calendar's services and occurrence reads: events created scheduled, recurrence against
hand-checked dates (DST included), one occurrence moved or cancelled, updates in every scope,
answers, and working hours by day range."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import (
    AuditEntry,
    Event,
    EventStatus,
    Notification,
    OccurrenceChange,
    Participant,
    Reminder,
    User,
    WorkingHours,
)
from reservation.selectors.calendar import busy_intervals, occurrences_between
from reservation.services.calendar import (
    DayRange,
    EventChanges,
    UpdateScope,
    event_create,
    event_respond,
    event_update,
    occurrence_cancel,
    recurrence_spec,
    working_hours_set_ranges,
)
from reservation.tests.factories import NOW, actor_for, make_user

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def tables() -> dict[str, list[Any]]:
    def rows(model: Any, *fields: str) -> list[Any]:
        return list(model.objects.order_by("pk").values_list("pk", *fields))

    return {
        "users": rows(User, "email"),
        "events": rows(Event, "status", "version", "start", "end", "recurrence", "title"),
        "participants": rows(Participant, "event_id", "user_id", "rsvp"),
        "changes": rows(OccurrenceChange, "event_id", "original_start", "cancelled", "start"),
        "reminders": rows(Reminder, "event_id", "offset_minutes"),
        "hours": rows(WorkingHours, "user_id", "weekday", "start", "end"),
        "audit": rows(AuditEntry, "action", "subject_id"),
        "notifications": rows(Notification, "recipient_id", "kind"),
        "jobs": rows(ProcrastinateJob, "task_name"),
    }


@contextmanager
def refused(code: ErrorCode) -> Iterator[None]:
    """The block fails with `code` and writes nothing at all."""
    before = tables()
    with pytest.raises((DomainError, AccessDenied, NotFound)) as info:
        yield
    assert info.value.error_code == code, info.value
    assert tables() == before


@pytest.fixture
def olga() -> User:
    return make_user(email="olga@example.com", time_zone="Europe/Berlin")


@pytest.fixture
def pia() -> User:
    return make_user(email="pia@example.com")


def weekly_tuesday(olga: User, pia: User, **extra: Any) -> Event:
    """Olga's 09:00–10:00 Berlin meeting every Tuesday from 19 March 2030 (EU DST starts on
    31 March), with Pia."""
    return event_create(
        actor=actor_for(olga),
        title="Standup",
        start=berlin(2030, 3, 19, 9),
        end=berlin(2030, 3, 19, 10),
        time_zone="Europe/Berlin",
        participants=[pia.email],
        recurrence_rule=recurrence_spec(kind="WEEKLY", weekdays=[1]),
        now=NOW,
        **extra,
    )


def spans(event: Event, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return [
        (o.start, o.end)
        for o in occurrences_between(users=[event.organizer], start=start, end=end)
        if o.event.pk == event.pk
    ]


# --- create ----------------------------------------------------------------------------------


def test_create_writes_a_scheduled_event_people_audit_and_mail(olga: User, pia: User) -> None:
    event = weekly_tuesday(olga, pia, reminders=[(15, "EMAIL")])

    event.refresh_from_db()
    assert (event.status, event.version, event.recurrence, event.time_zone) == (
        EventStatus.SCHEDULED,
        1,
        "FREQ=WEEKLY;BYDAY=TU",
        "Europe/Berlin",
    )
    assert (event.start, event.end) == (utc(2030, 3, 19, 8), utc(2030, 3, 19, 9))
    assert list(event.participants.order_by("id").values_list("user__email", "role", "rsvp")) == [
        ("olga@example.com", "ORGANIZER", "YES"),
        ("pia@example.com", "PARTY", "UNDECIDED"),
    ]
    assert list(event.reminders.values_list("offset_minutes", "channel")) == [(15, "EMAIL")]
    entry = AuditEntry.objects.get(action="event.create")
    assert entry.changes == {
        "title": "Standup",
        "start": "2030-03-19T08:00:00Z",
        "end": "2030-03-19T09:00:00Z",
        "time_zone": "Europe/Berlin",
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "participants": ["pia@example.com"],
        "reminders": [[15, "EMAIL"]],
        "version": 1,
    }
    assert list(Notification.objects.values_list("recipient__email", "kind")) == [
        ("pia@example.com", "EVENT_SCHEDULED")
    ]


def test_create_unknown_address_becomes_an_inactive_participant(olga: User) -> None:
    event = event_create(
        actor=actor_for(olga),
        title="Coffee",
        start=utc(2030, 1, 8, 9),
        end=utc(2030, 1, 8, 10),
        time_zone="UTC",
        participants=["Quinn@Example.com", olga.email],
        now=NOW,
    )
    assert list(event.participants.order_by("id").values_list("user__email", "role")) == [
        ("olga@example.com", "ORGANIZER"),
        ("quinn@example.com", "PARTY"),
    ]
    assert User.objects.get(email="quinn@example.com").is_active is False


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"start": datetime(2030, 1, 8, 9)}, ErrorCode.NAIVE_DATETIME),  # noqa: DTZ001
        ({"end": utc(2030, 1, 8, 9)}, ErrorCode.INVALID_TIME_RANGE),
        ({"end": utc(2030, 1, 15, 9, 1)}, ErrorCode.INVALID_TIME_RANGE),  # > 7 days
        ({"time_zone": "Mars/Olympus"}, ErrorCode.INVALID_TIME_ZONE),
        ({"title": "  "}, ErrorCode.INVALID_INPUT),
        ({"participants": ["not an address"]}, ErrorCode.INVALID_INPUT),
        ({"reminders": [(-5, "EMAIL")]}, ErrorCode.INVALID_INPUT),
        (
            {"recurrence_rule": recurrence_spec(kind="DAILY", until=date(2030, 1, 7))},
            ErrorCode.INVALID_TIME_RANGE,
        ),
    ],
)
def test_create_rejects_and_writes_nothing(
    olga: User, fields: dict[str, Any], code: ErrorCode
) -> None:
    arguments = {
        "title": "Standup",
        "start": utc(2030, 1, 8, 9),
        "end": utc(2030, 1, 8, 10),
        "time_zone": "UTC",
        **fields,
    }
    with refused(code):
        event_create(actor=actor_for(olga), now=NOW, **arguments)


def test_create_near_misses_pass(olga: User) -> None:
    """Exactly 7 days long, until the start day itself, a zone with no DST."""
    event = event_create(
        actor=actor_for(olga),
        title="Retreat",
        start=utc(2030, 1, 8, 9),
        end=utc(2030, 1, 15, 9),
        time_zone="Asia/Tokyo",
        recurrence_rule=recurrence_spec(kind="DAILY", until=date(2030, 1, 8)),
        now=NOW,
    )
    assert spans(event, utc(2030, 1, 1), utc(2030, 2, 1)) == [
        (utc(2030, 1, 8, 9), utc(2030, 1, 15, 9))
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "WEEKLY", "weekdays": [7]},  # not a weekday
        {"kind": "MONTHLY_BY_POSITION", "weekdays": [0, 1, 2, 3, 4]},  # no position
        {"kind": "YEARLY_BY_WEEKDAY", "weekday": 6, "week_of_month": -1},  # no month
        {"kind": "DAILY", "interval": 0},
        {"kind": "DAILY", "count": 1001},
        {"kind": "MONTHLY_BY_WEEKDAY", "weekday": 4, "week_of_month": 5},
        {"kind": "FORTNIGHTLY"},
    ],
)
def test_recurrence_spec_rejects_shapes_outside_the_offered_kinds(fields: dict[str, Any]) -> None:
    with pytest.raises(DomainError) as info:
        recurrence_spec(**fields)
    assert info.value.error_code == ErrorCode.INVALID_INPUT


# --- recurrence, hand-checked -----------------------------------------------------------------


def test_weekly_stays_at_nine_local_across_dst_with_one_moved_and_one_cancelled(
    olga: User, pia: User
) -> None:
    event = weekly_tuesday(olga, pia)
    event = event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=1,
        scope=UpdateScope.THIS_OCCURRENCE,
        occurrence_start=utc(2030, 3, 26, 8),
        changes=EventChanges(start=berlin(2030, 3, 27, 14)),  # Wednesday, length kept
        now=NOW,
    )
    event = occurrence_cancel(
        actor=actor_for(olga),
        event_id=event.pk,
        occurrence_start=utc(2030, 4, 2, 7),
        expected_version=2,
        now=NOW,
    )

    found = occurrences_between(users=[pia], start=utc(2030, 3, 18), end=utc(2030, 4, 17))
    assert [(o.start, o.end, o.original_start, o.recurring) for o in found] == [
        (utc(2030, 3, 19, 8), utc(2030, 3, 19, 9), utc(2030, 3, 19, 8), True),  # CET
        (utc(2030, 3, 27, 13), utc(2030, 3, 27, 14), utc(2030, 3, 26, 8), True),  # moved
        # 2 April cancelled; from 31 March CEST: 09:00 local is 07:00 UTC
        (utc(2030, 4, 9, 7), utc(2030, 4, 9, 8), utc(2030, 4, 9, 7), True),
        (utc(2030, 4, 16, 7), utc(2030, 4, 16, 8), utc(2030, 4, 16, 7), True),
    ]
    assert event.version == 3
    assert list(
        AuditEntry.objects.filter(subject_id=event.pk).order_by("id").values_list("action")
    ) == [
        ("event.create",),
        ("event.notify",),
        ("event.occurrence_move",),
        ("event.notify",),
        ("event.occurrence_cancel",),
        ("event.notify",),
    ]


@pytest.mark.parametrize(
    ("spec", "start", "expected"),
    [
        # last Friday of each month, 10:00 Berlin
        (
            {"kind": "MONTHLY_BY_WEEKDAY", "weekday": 4, "week_of_month": -1},
            berlin(2030, 1, 25, 10),
            [
                berlin(2030, 1, 25, 10),
                berlin(2030, 2, 22, 10),
                berlin(2030, 3, 29, 10),
                berlin(2030, 4, 26, 10),
            ],
        ),
        # second Tuesday
        (
            {"kind": "MONTHLY_BY_WEEKDAY", "weekday": 1, "week_of_month": 2},
            berlin(2030, 1, 8, 10),
            [
                berlin(2030, 1, 8, 10),
                berlin(2030, 2, 12, 10),
                berlin(2030, 3, 12, 10),
                berlin(2030, 4, 9, 10),
            ],
        ),
        # the 31st: months without it are skipped
        (
            {"kind": "MONTHLY_BY_DAY", "month_day": 31},
            berlin(2030, 1, 31, 10),
            [berlin(2030, 1, 31, 10), berlin(2030, 3, 31, 10)],
        ),
        # every working day, until Tuesday 5 February inclusive
        (
            {"kind": "WORKDAYS", "until": date(2030, 2, 5)},
            berlin(2030, 1, 31, 10),
            [
                berlin(2030, 1, 31, 10),
                berlin(2030, 2, 1, 10),
                berlin(2030, 2, 4, 10),
                berlin(2030, 2, 5, 10),
            ],
        ),
        # every 3 days, 4 times in all
        (
            {"kind": "DAILY", "interval": 3, "count": 4},
            berlin(2030, 3, 28, 10),
            [
                berlin(2030, 3, 28, 10),
                berlin(2030, 3, 31, 10),
                berlin(2030, 4, 3, 10),
                berlin(2030, 4, 6, 10),
            ],
        ),
        # every other week on Monday and Thursday
        (
            {"kind": "WEEKLY", "interval": 2, "weekdays": [0, 3]},
            berlin(2030, 1, 7, 10),
            [
                berlin(2030, 1, 7, 10),
                berlin(2030, 1, 10, 10),
                berlin(2030, 1, 21, 10),
                berlin(2030, 1, 24, 10),
                berlin(2030, 2, 4, 10),
                berlin(2030, 2, 7, 10),
            ],
        ),
        # yearly from 29 February: leap years only
        (
            {"kind": "YEARLY"},
            berlin(2028, 2, 29, 10),
            [berlin(2028, 2, 29, 10), berlin(2032, 2, 29, 10)],
        ),
    ],
)
def test_recurrence_kinds_against_hand_checked_dates(
    olga: User, spec: dict[str, Any], start: datetime, expected: list[datetime]
) -> None:
    event = event_create(
        actor=actor_for(olga),
        title="Review",
        start=start,
        end=start + timedelta(minutes=30),
        time_zone="Europe/Berlin",
        recurrence_rule=recurrence_spec(**spec),
        now=NOW,
    )
    if spec["kind"] == "YEARLY":  # five years, in windows of 365 days
        year = timedelta(days=365)
        got = [
            s for i in range(5) for s, _ in spans(event, start + i * year, start + (i + 1) * year)
        ]
    else:  # a week past the last one: the next one would show (until, count, the period)
        got = [s for s, _ in spans(event, start, expected[-1] + timedelta(days=8))]
    assert got == [e.astimezone(UTC) for e in expected]


def test_range_is_bounded_and_aware(olga: User) -> None:
    with pytest.raises(DomainError) as info:
        occurrences_between(users=[olga], start=utc(2030, 1, 1), end=utc(2031, 1, 3))
    assert info.value.error_code == ErrorCode.RANGE_TOO_LONG
    assert occurrences_between(users=[olga], start=utc(2030, 1, 1), end=utc(2031, 1, 2)) == []
    with pytest.raises(DomainError) as info:
        occurrences_between(users=[olga], start=datetime(2030, 1, 1), end=utc(2030, 2, 1))  # noqa: DTZ001
    assert info.value.error_code == ErrorCode.NAIVE_DATETIME


# --- update -------------------------------------------------------------------------------------


def test_update_all_title_keeps_answers_time_resets_them_and_drops_exceptions(
    olga: User, pia: User
) -> None:
    event = weekly_tuesday(olga, pia)
    event_respond(actor=actor_for(pia), event_id=event.pk, decision="YES", now=NOW)
    event = occurrence_cancel(
        actor=actor_for(olga),
        event_id=event.pk,
        occurrence_start=utc(2030, 4, 2, 7),
        expected_version=1,
        now=NOW,
    )
    event = event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=2,
        changes=EventChanges(title="Daily sync"),
        now=NOW,
    )
    assert Participant.objects.get(event=event, user=pia).rsvp == "YES"
    assert OccurrenceChange.objects.filter(event=event).count() == 1

    event = event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=3,
        changes=EventChanges(start=berlin(2030, 3, 19, 11)),
        now=NOW,
    )
    event.refresh_from_db()
    assert (event.title, event.start, event.end, event.version) == (
        "Daily sync",
        utc(2030, 3, 19, 10),
        utc(2030, 3, 19, 11),
        4,
    )
    assert Participant.objects.get(event=event, user=pia).rsvp == "UNDECIDED"
    assert OccurrenceChange.objects.filter(event=event).count() == 0
    assert AuditEntry.objects.filter(action="event.update").order_by("id").last().changes == {
        "scope": "ALL",
        "start": ["2030-03-19T08:00:00Z", "2030-03-19T10:00:00Z"],
        "end": ["2030-03-19T09:00:00Z", "2030-03-19T11:00:00Z"],
        "occurrence_changes_dropped": 1,
        "version": 4,
    }


def test_update_refusals_write_nothing(olga: User, pia: User) -> None:
    event = weekly_tuesday(olga, pia)
    single = event_create(
        actor=actor_for(olga),
        title="Once",
        start=utc(2030, 1, 8, 9),
        end=utc(2030, 1, 8, 10),
        time_zone="UTC",
        participants=[pia.email],
        now=NOW,
    )
    with refused(ErrorCode.STALE_VERSION):
        event_update(
            actor=actor_for(olga),
            event_id=event.pk,
            expected_version=7,
            changes=EventChanges(title="x"),
            now=NOW,
        )
    with refused(ErrorCode.PERMISSION_DENIED):
        event_update(
            actor=actor_for(pia),
            event_id=event.pk,
            expected_version=1,
            changes=EventChanges(title="x"),
            now=NOW,
        )
    stranger = make_user()
    with refused(ErrorCode.NOT_FOUND):
        event_update(
            actor=actor_for(stranger),
            event_id=event.pk,
            expected_version=1,
            changes=EventChanges(title="x"),
            now=NOW,
        )
    with refused(ErrorCode.NOT_RECURRING):
        event_update(
            actor=actor_for(olga),
            event_id=single.pk,
            expected_version=1,
            scope=UpdateScope.THIS_OCCURRENCE,
            occurrence_start=utc(2030, 1, 8, 9),
            changes=EventChanges(start=utc(2030, 1, 8, 11)),
            now=NOW,
        )
    with refused(ErrorCode.NOT_AN_OCCURRENCE):  # a Wednesday
        event_update(
            actor=actor_for(olga),
            event_id=event.pk,
            expected_version=1,
            scope=UpdateScope.THIS_OCCURRENCE,
            occurrence_start=utc(2030, 3, 20, 8),
            changes=EventChanges(start=utc(2030, 3, 20, 11)),
            now=NOW,
        )
    with refused(ErrorCode.INVALID_INPUT):  # only the time of one occurrence can change
        event_update(
            actor=actor_for(olga),
            event_id=event.pk,
            expected_version=1,
            scope=UpdateScope.THIS_OCCURRENCE,
            occurrence_start=utc(2030, 3, 26, 8),
            changes=EventChanges(title="x"),
            now=NOW,
        )
    with refused(ErrorCode.INVALID_TIME_ZONE):
        event_update(
            actor=actor_for(olga),
            event_id=event.pk,
            expected_version=1,
            changes=EventChanges(time_zone="Nowhere"),
            now=NOW,
        )
    occurrence_cancel(
        actor=actor_for(olga),
        event_id=event.pk,
        occurrence_start=utc(2030, 3, 26, 8),
        expected_version=1,
        now=NOW,
    )
    with refused(ErrorCode.OCCURRENCE_CANCELLED):
        event_update(
            actor=actor_for(olga),
            event_id=event.pk,
            expected_version=2,
            scope=UpdateScope.THIS_OCCURRENCE,
            occurrence_start=utc(2030, 3, 26, 8),
            changes=EventChanges(start=utc(2030, 3, 26, 11)),
            now=NOW,
        )
    with refused(ErrorCode.NOT_AN_OCCURRENCE):  # 1 h off
        occurrence_cancel(
            actor=actor_for(olga),
            event_id=event.pk,
            occurrence_start=utc(2030, 4, 2, 8),
            expected_version=2,
            now=NOW,
        )
    # Cancelling it twice changes nothing.
    before = tables()
    occurrence_cancel(
        actor=actor_for(olga),
        event_id=event.pk,
        occurrence_start=utc(2030, 3, 26, 8),
        expected_version=2,
        now=NOW,
    )
    assert tables() == before


def test_moving_an_occurrence_back_to_its_time_removes_the_change(olga: User, pia: User) -> None:
    event = weekly_tuesday(olga, pia)
    for version, start in ((1, berlin(2030, 3, 26, 12)), (2, berlin(2030, 3, 26, 9))):
        event = event_update(
            actor=actor_for(olga),
            event_id=event.pk,
            expected_version=version,
            scope=UpdateScope.THIS_OCCURRENCE,
            occurrence_start=utc(2030, 3, 26, 8),
            changes=EventChanges(start=start),
            now=NOW,
        )
    assert OccurrenceChange.objects.filter(event=event).count() == 0
    assert spans(event, utc(2030, 3, 25), utc(2030, 3, 27)) == [
        (utc(2030, 3, 26, 8), utc(2030, 3, 26, 9))
    ]


def test_this_and_following_splits_the_series(olga: User, pia: User) -> None:
    event = weekly_tuesday(olga, pia)
    event_respond(actor=actor_for(pia), event_id=event.pk, decision="MAYBE", now=NOW)
    occurrence_cancel(
        actor=actor_for(olga),
        event_id=event.pk,
        occurrence_start=utc(2030, 3, 26, 8),
        expected_version=1,
        now=NOW,
    )
    following = event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=2,
        scope=UpdateScope.THIS_AND_FOLLOWING,
        occurrence_start=utc(2030, 4, 9, 7),
        changes=EventChanges(title="Standup v2", start=berlin(2030, 4, 9, 10)),
        now=NOW,
    )
    event.refresh_from_db()
    assert event.recurrence == "FREQ=WEEKLY;BYDAY=TU;UNTIL=20300409T065959Z"
    assert (following.title, following.recurrence, following.start) == (
        "Standup v2",
        "FREQ=WEEKLY;BYDAY=TU",
        utc(2030, 4, 9, 8),
    )
    assert list(following.participants.order_by("id").values_list("user__email", "rsvp")) == [
        ("olga@example.com", "YES"),
        ("pia@example.com", "UNDECIDED"),
    ]
    found = occurrences_between(users=[pia], start=utc(2030, 3, 18), end=utc(2030, 4, 24))
    assert [(o.event.pk, o.start) for o in found] == [
        (event.pk, utc(2030, 3, 19, 8)),
        (event.pk, utc(2030, 4, 2, 7)),
        (following.pk, utc(2030, 4, 9, 8)),
        (following.pk, utc(2030, 4, 16, 8)),
        (following.pk, utc(2030, 4, 23, 8)),
    ]


# --- answers --------------------------------------------------------------------------------


def test_respond_no_frees_the_party_and_organizer_cannot_answer(olga: User, pia: User) -> None:
    event = weekly_tuesday(olga, pia)
    window = (utc(2030, 3, 19), utc(2030, 3, 20))
    assert busy_intervals(user=pia, start=window[0], end=window[1], now=NOW) == [
        (utc(2030, 3, 19, 8), utc(2030, 3, 19, 9))
    ]
    participant = event_respond(actor=actor_for(pia), event_id=event.pk, decision="NO", now=NOW)
    assert participant.rsvp == "NO"
    assert busy_intervals(user=pia, start=window[0], end=window[1], now=NOW) == []
    assert AuditEntry.objects.get(action="event.respond").changes == {
        "participant": "pia@example.com",
        "rsvp": ["UNDECIDED", "NO"],
        "via": "account",
        "version": 1,
    }
    # Declined events stay on the declining person's own feed when asked for.
    assert (
        len(occurrences_between(users=[pia], start=window[0], end=window[1], include_declined=True))
        == 1
    )
    with refused(ErrorCode.INVALID_INPUT):
        event_respond(actor=actor_for(olga), event_id=event.pk, decision="NO", now=NOW)
    with refused(ErrorCode.INVALID_INPUT):
        event_respond(actor=actor_for(pia), event_id=event.pk, decision="PERHAPS", now=NOW)
    stranger = make_user()
    with refused(ErrorCode.NOT_FOUND):
        event_respond(actor=actor_for(stranger), event_id=event.pk, decision="YES", now=NOW)
    before = tables()
    event_respond(actor=actor_for(pia), event_id=event.pk, decision="NO", now=NOW)
    assert tables() == before


# --- working hours by day range ----------------------------------------------------------------


def test_working_hours_ranges_wrap_and_overnight(olga: User) -> None:
    rows = working_hours_set_ranges(
        actor=actor_for(olga),
        ranges=[
            DayRange(first=4, last=0, start=time(22), end=time(6)),  # Fri–Mon nights
            DayRange(first=1, last=3, start=time(9), end=time(17)),
        ],
        time_zone="America/New_York",
        now=NOW,
    )
    assert [(r.weekday, r.start, r.end) for r in rows] == [
        (0, time(22), time(6)),
        (1, time(9), time(17)),
        (2, time(9), time(17)),
        (3, time(9), time(17)),
        (4, time(22), time(6)),
        (5, time(22), time(6)),
        (6, time(22), time(6)),
    ]
    olga.refresh_from_db()
    assert olga.time_zone == "America/New_York"
    with refused(ErrorCode.INVALID_INPUT):
        working_hours_set_ranges(
            actor=actor_for(olga), ranges=[DayRange(first=7, last=0, start=time(9), end=time(17))]
        )
    with refused(ErrorCode.INVALID_TIME_RANGE):
        working_hours_set_ranges(
            actor=actor_for(olga), ranges=[DayRange(first=0, last=1, start=time(9), end=time(9))]
        )


# --- rules that always agree (issue 10) ---------------------------------------------------------


def create(olga: User, start: datetime, end: datetime, rule: Any, **extra: Any) -> Event:
    return event_create(
        actor=actor_for(olga),
        title="Series",
        start=start,
        end=end,
        time_zone="Europe/Berlin",
        recurrence_rule=rule,
        now=NOW,
        **extra,
    )


def test_a_start_the_rule_does_not_give_is_refused_naming_the_rules_first_start(
    olga: User,
) -> None:
    # Wednesday 20 March 2030 with weekly-on-Monday: the rule's first start is Monday 25th.
    before = tables()
    with pytest.raises(DomainError) as info:
        create(
            olga,
            berlin(2030, 3, 20, 9),
            berlin(2030, 3, 20, 10),
            recurrence_spec(kind="WEEKLY", weekdays=[0], count=3),
        )
    assert tables() == before
    assert info.value.error_code == ErrorCode.START_NOT_IN_RULE
    assert info.value.message_dict == {
        "start": [
            "The recurrence does not give the start Wed 2030-03-20 09:00 (Europe/Berlin); its "
            "first start from there is Mon 2030-03-25 09:00 (Europe/Berlin). Start the event "
            "then, or send alignStart: true to have it moved there."
        ]
    }


def test_align_start_moves_the_event_to_the_rules_first_start_keeping_its_length(
    olga: User,
) -> None:
    event = create(
        olga,
        berlin(2030, 3, 20, 9),
        berlin(2030, 3, 20, 10, 30),
        recurrence_spec(kind="WEEKLY", weekdays=[0], count=3),
        align_start=True,
    )
    assert (event.start, event.end, event.recurrence) == (
        berlin(2030, 3, 25, 9),
        berlin(2030, 3, 25, 10, 30),
        "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
    )
    # Exactly COUNT occurrences, as every RFC 5545 client counts them (DTSTART is the first).
    assert spans(event, utc(2030, 3, 1), utc(2030, 5, 1)) == [
        (berlin(2030, 3, 25, 9), berlin(2030, 3, 25, 10, 30)),
        (berlin(2030, 4, 1, 9), berlin(2030, 4, 1, 10, 30)),
        (berlin(2030, 4, 8, 9), berlin(2030, 4, 8, 10, 30)),
    ]


def test_weekly_without_weekdays_repeats_on_the_starts_local_weekday(olga: User) -> None:
    # 23:30 UTC on a Monday is already Tuesday in Berlin: the local weekday counts.
    event = create(
        olga,
        utc(2030, 1, 7, 23, 30),
        utc(2030, 1, 8, 0, 30),
        recurrence_spec(kind="WEEKLY", count=2),
    )
    assert event.recurrence == "FREQ=WEEKLY;BYDAY=TU;COUNT=2"


def test_yearly_on_the_last_sunday_of_march(olga: User) -> None:
    event = create(
        olga,
        berlin(2030, 3, 31, 10),
        berlin(2030, 3, 31, 11),
        recurrence_spec(kind="YEARLY_BY_WEEKDAY", month=3, weekday=6, week_of_month=-1, count=3),
    )
    assert event.recurrence == "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;COUNT=3"
    assert [
        s for year in (2030, 2031, 2032) for s, _ in spans(event, utc(year, 1, 1), utc(year, 12, 1))
    ] == [berlin(2030, 3, 31, 10), berlin(2031, 3, 30, 10), berlin(2032, 3, 28, 10)]


def test_the_last_workday_of_each_month_by_bysetpos(olga: User) -> None:
    event = create(
        olga,
        berlin(2030, 5, 31, 16),
        berlin(2030, 5, 31, 17),
        recurrence_spec(kind="MONTHLY_BY_POSITION", weekdays=[0, 1, 2, 3, 4], position=-1),
    )
    assert event.recurrence == "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    # June 2030 ends on a Sunday, August on a Saturday.
    assert [s for s, _ in spans(event, utc(2030, 5, 1), utc(2030, 10, 1))] == [
        berlin(2030, 5, 31, 16),
        berlin(2030, 6, 28, 16),
        berlin(2030, 7, 31, 16),
        berlin(2030, 8, 30, 16),
        berlin(2030, 9, 30, 16),
    ]


def test_extra_and_excluded_dates(olga: User) -> None:
    event = create(
        olga,
        berlin(2030, 3, 19, 9),
        berlin(2030, 3, 19, 10),
        recurrence_spec(kind="WEEKLY", weekdays=[1], count=3),
        extra_dates=[date(2030, 3, 30)],  # a Saturday; CET still (DST starts the 31st)
        excluded_dates=[date(2030, 3, 26)],
    )
    assert event.extra_starts == [berlin(2030, 3, 30, 9)]
    assert [s for s, _ in spans(event, utc(2030, 3, 1), utc(2030, 5, 1))] == [
        berlin(2030, 3, 19, 9),
        berlin(2030, 3, 30, 9),
        berlin(2030, 4, 2, 9),
    ]


def test_an_excluded_date_without_an_occurrence_is_refused(olga: User) -> None:
    with refused(ErrorCode.NOT_AN_OCCURRENCE):
        create(
            olga,
            berlin(2030, 3, 19, 9),
            berlin(2030, 3, 19, 10),
            recurrence_spec(kind="WEEKLY", weekdays=[1]),
            excluded_dates=[date(2030, 3, 27)],
        )


@pytest.mark.parametrize(
    ("rule", "stored"),
    [
        (
            "rrule:freq=monthly;byday=fr,mo,we,tu,th;bysetpos=-1;interval=1;until=20301231",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;UNTIL=20301231T225959Z",
        ),
        ("FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3;WKST=MO", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
        ("FREQ=DAILY;INTERVAL=2;COUNT=5", "FREQ=DAILY;INTERVAL=2;COUNT=5"),
    ],
)
def test_a_power_users_rrule_is_stored_normalised(olga: User, rule: str, stored: str) -> None:
    # Friday 31 May 2030 is the last workday of May and a day the others give as well.
    start = berlin(2030, 3, 31, 9) if "BYMONTH=3" in stored else berlin(2030, 5, 31, 9)
    event = create(olga, start, start + timedelta(hours=1), rule)
    assert event.recurrence == stored


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MINUTELY",  # explosions
        "FREQ=HOURLY;COUNT=3",
        "FREQ=DAILY;BYHOUR=9,10",  # more than one a day
        "FREQ=DAILY;COUNT=1001",
        "FREQ=DAILY;INTERVAL=1000",
        "FREQ=WEEKLY;BYMONTHDAY=3",
        "FREQ=MONTHLY;BYSETPOS=1",
        "FREQ=WEEKLY;BYDAY=2MO",
        "FREQ=DAILY;X-FOO=1",
        "FREQ=DAILY\nDTSTART:20300101T000000Z",
    ],
)
def test_a_power_users_rrule_outside_the_bounds_is_refused(olga: User, rule: str) -> None:
    with refused(ErrorCode.INVALID_INPUT):
        create(olga, berlin(2030, 5, 31, 9), berlin(2030, 5, 31, 10), rule)


def test_splitting_a_counted_series_keeps_the_total(olga: User, pia: User) -> None:
    event = weekly_tuesday(olga, pia)
    event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=1,
        changes=EventChanges(recurrence_rule=recurrence_spec(kind="WEEKLY", weekdays=[1], count=5)),
        now=NOW,
    )
    following = event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=2,
        changes=EventChanges(start=berlin(2030, 4, 2, 11)),
        scope=UpdateScope.THIS_AND_FOLLOWING,
        occurrence_start=berlin(2030, 4, 2, 9),
        now=NOW,
    )
    event.refresh_from_db()
    assert event.recurrence == "FREQ=WEEKLY;BYDAY=TU;UNTIL=20300402T065959Z"
    assert following.recurrence == "FREQ=WEEKLY;BYDAY=TU;COUNT=3"
    assert [s for s, _ in spans(event, utc(2030, 3, 1), utc(2030, 6, 1))] == [
        berlin(2030, 3, 19, 9),
        berlin(2030, 3, 26, 9),
    ]
    assert [s for s, _ in spans(following, utc(2030, 3, 1), utc(2030, 6, 1))] == [
        berlin(2030, 4, 2, 11),
        berlin(2030, 4, 9, 11),
        berlin(2030, 4, 16, 11),
    ]
