"""Tests for the pure recurrence module reservation.recurrence (no database)."""

import calendar
import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reservation.recurrence import (
    Occurrence,
    OccurrenceChange,
    RecurrenceKind,
    RecurrenceSpec,
    expand,
    from_rrule,
    to_rrule,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
YEAR_2027 = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def at(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def run(
    rule: str | None,
    start: datetime,
    window: tuple[datetime, datetime],
    *,
    duration: timedelta = HOUR,
    changes: tuple[OccurrenceChange, ...] = (),
    max_occurrences: int = 5000,
) -> list[Occurrence]:
    tz = start.tzinfo
    assert isinstance(tz, ZoneInfo)
    return expand(
        rule=rule,
        start=start,
        end=start + duration,
        tz=tz,
        window_start=window[0],
        window_end=window[1],
        changes=changes,
        max_occurrences=max_occurrences,
    )


def local_starts(occurrences: list[Occurrence], tz: ZoneInfo) -> list[datetime]:
    return [s.astimezone(tz).replace(tzinfo=None) for s, _, _ in occurrences]


def unchanged(*starts: datetime, duration: timedelta = HOUR) -> list[Occurrence]:
    return [(s, s + duration, s) for s in starts]


# --- to_rrule / from_rrule: examples ----------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (RecurrenceSpec(kind=RecurrenceKind.DAILY), "FREQ=DAILY"),
        (
            RecurrenceSpec(kind=RecurrenceKind.DAILY, interval=3, count=5),
            "FREQ=DAILY;INTERVAL=3;COUNT=5",
        ),
        (
            RecurrenceSpec(kind=RecurrenceKind.WEEKLY, interval=2, weekdays=(1,)),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        ),
        (
            RecurrenceSpec(kind=RecurrenceKind.WEEKLY, weekdays=(4, 0, 2, 0)),
            "FREQ=WEEKLY;BYDAY=MO,WE,FR",
        ),
        (RecurrenceSpec(kind=RecurrenceKind.WORKDAYS), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        (
            RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_DAY, month_day=31),
            "FREQ=MONTHLY;BYMONTHDAY=31",
        ),
        (
            RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=4, week_of_month=-1),
            "FREQ=MONTHLY;BYDAY=-1FR",
        ),
        (
            RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=1, week_of_month=2),
            "FREQ=MONTHLY;BYDAY=2TU",
        ),
        (RecurrenceSpec(kind=RecurrenceKind.YEARLY, interval=4), "FREQ=YEARLY;INTERVAL=4"),
        # An until date is the last second of that day in the event's zone (CEST: UTC+2).
        (
            RecurrenceSpec(kind=RecurrenceKind.DAILY, until=date(2027, 6, 10)),
            "FREQ=DAILY;UNTIL=20270610T215959Z",
        ),
        (
            RecurrenceSpec(kind=RecurrenceKind.DAILY, until=date(2027, 1, 10)),
            "FREQ=DAILY;UNTIL=20270110T225959Z",
        ),
        # An aware until is that instant in UTC, at whole seconds.
        (
            RecurrenceSpec(
                kind=RecurrenceKind.WORKDAYS,
                until=datetime(2027, 6, 10, 18, 0, 0, 999, tzinfo=NEW_YORK),
            ),
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20270610T220000Z",
        ),
    ],
)
def test_to_rrule_writes_each_kind(spec: RecurrenceSpec, rule: str) -> None:
    assert to_rrule(spec, tz=BERLIN) == rule


@pytest.mark.parametrize(
    ("rule", "spec"),
    [
        (
            "RRULE:FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1",
            RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=4, week_of_month=-1),
        ),
        (
            "FREQ=MONTHLY;BYDAY=+2TU",
            RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=1, week_of_month=2),
        ),
        ("freq=daily;byday=mo,tu,we,th,fr", RecurrenceSpec(kind=RecurrenceKind.WORKDAYS)),
        ("FREQ=WEEKLY;BYDAY=FR,TH,WE,TU,MO;WKST=MO", RecurrenceSpec(kind=RecurrenceKind.WORKDAYS)),
        (
            "FREQ=WEEKLY;BYDAY=FR,MO,WE;INTERVAL=1",
            RecurrenceSpec(kind=RecurrenceKind.WEEKLY, weekdays=(0, 2, 4)),
        ),
        (
            "FREQ=DAILY;UNTIL=20270610T215959Z",
            RecurrenceSpec(kind=RecurrenceKind.DAILY, until=utc(2027, 6, 10, 21, 59, 59)),
        ),
        (
            "FREQ=DAILY;UNTIL=20270610",
            RecurrenceSpec(kind=RecurrenceKind.DAILY, until=date(2027, 6, 10)),
        ),
    ],
)
def test_from_rrule_reads_other_spellings(rule: str, spec: RecurrenceSpec) -> None:
    assert from_rrule(rule) == spec


def test_an_until_date_ends_at_the_next_local_midnight() -> None:
    # Santiago leaves summer time at midnight ending Saturday 3 April 2027: 23:00-24:00 happens
    # twice, and the day ends at the second 23:59:59 (UTC-4).
    santiago = ZoneInfo("America/Santiago")
    rule = to_rrule(RecurrenceSpec(kind=RecurrenceKind.DAILY, until=date(2027, 4, 3)), tz=santiago)
    assert rule == "FREQ=DAILY;UNTIL=20270404T035959Z"
    assert from_rrule(rule, tz=santiago).until == date(2027, 4, 3)
    # It enters summer time at the midnight ending Saturday 4 September: 00:00-01:00 is skipped.
    rule = to_rrule(RecurrenceSpec(kind=RecurrenceKind.DAILY, until=date(2027, 9, 4)), tz=santiago)
    assert rule == "FREQ=DAILY;UNTIL=20270905T035959Z"
    assert from_rrule(rule, tz=santiago).until == date(2027, 9, 4)


def test_from_rrule_gives_the_until_date_back_with_the_zone() -> None:
    rule = "FREQ=DAILY;UNTIL=20270610T215959Z"
    assert from_rrule(rule, tz=BERLIN).until == date(2027, 6, 10)
    # The same instant is not the end of a day in New York: it stays an instant.
    assert from_rrule(rule, tz=NEW_YORK).until == utc(2027, 6, 10, 21, 59, 59)
    # A floating UNTIL is read as wall-clock time in the zone.
    assert from_rrule("FREQ=DAILY;UNTIL=20270610T120000", tz=BERLIN).until == utc(2027, 6, 10, 10)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "one RRULE value"),
        ("DTSTART:20270101T000000Z\nRRULE:FREQ=DAILY", "one RRULE value"),
        ("FREQ=DAILY;;COUNT=2", "NAME=VALUE"),
        ("FREQ=DAILY;FREQ=WEEKLY", "twice"),
        ("FREQ=FORTNIGHTLY", "FREQ"),
        ("INTERVAL=2", "FREQ"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("FREQ=DAILY;COUNT=x", "COUNT"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z", "exclude"),
        ("FREQ=DAILY;UNTIL=2027-01-01", "UNTIL"),
        ("FREQ=DAILY;UNTIL=20270101T000000", "no zone"),
        ("FREQ=HOURLY", "outside"),
        ("FREQ=MONTHLY", "outside"),
        ("FREQ=MONTHLY;BYDAY=FR", "outside"),  # every Friday of the month
        ("FREQ=MONTHLY;BYDAY=5MO", "outside"),
        ("FREQ=MONTHLY;BYDAY=-1FR,-1MO", "outside"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "outside"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "monthDay"),
        ("FREQ=WEEKLY;BYDAY=1MO", "outside"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
        ("FREQ=YEARLY;BYMONTH=2", "outside"),
        ("FREQ=DAILY;BYDAY=MO,TU", "outside"),
        ("FREQ=WEEKLY;BYDAY=TU;WKST=SU", "WKST"),
    ],
)
def test_from_rrule_rejects_rules_outside_the_kinds(rule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_rrule(rule)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "HOURLY"}, "HOURLY"),
        ({"kind": RecurrenceKind.DAILY, "interval": 0}, "interval"),
        ({"kind": RecurrenceKind.WEEKLY, "weekdays": (7,)}, "MONDAY..SUNDAY"),
        ({"kind": RecurrenceKind.DAILY, "weekdays": (1,)}, "WEEKLY and MONTHLY_BY_POSITION"),
        ({"kind": RecurrenceKind.WORKDAYS, "weekdays": (1,)}, "WEEKLY and MONTHLY_BY_POSITION"),
        ({"kind": RecurrenceKind.MONTHLY_BY_DAY}, "monthDay"),
        ({"kind": RecurrenceKind.MONTHLY_BY_DAY, "month_day": 0}, "monthDay"),
        ({"kind": RecurrenceKind.MONTHLY_BY_DAY, "month_day": 32}, "monthDay"),
        ({"kind": RecurrenceKind.YEARLY, "month_day": 1}, "MONTHLY_BY_DAY only"),
        ({"kind": RecurrenceKind.MONTHLY_BY_WEEKDAY, "week_of_month": 1}, "MONDAY..SUNDAY"),
        (
            {"kind": RecurrenceKind.MONTHLY_BY_WEEKDAY, "weekday": 0, "week_of_month": 5},
            "weekOfMonth",
        ),
        (
            {"kind": RecurrenceKind.MONTHLY_BY_WEEKDAY, "weekday": 0, "week_of_month": 0},
            "weekOfMonth",
        ),
        ({"kind": RecurrenceKind.YEARLY_BY_WEEKDAY, "weekday": 6, "week_of_month": -1}, "month"),
        (
            {"kind": RecurrenceKind.MONTHLY_BY_POSITION, "weekdays": (0,), "position": 0},
            "position",
        ),
        ({"kind": RecurrenceKind.MONTHLY_BY_POSITION, "position": -1}, "needs weekdays"),
        ({"kind": RecurrenceKind.DAILY, "month": 3}, "YEARLY_BY_WEEKDAY only"),
        ({"kind": RecurrenceKind.DAILY, "weekday": 0}, "MONTHLY_BY_WEEKDAY"),
        ({"kind": RecurrenceKind.DAILY, "until": date(2027, 1, 1), "count": 3}, "exclude"),
        ({"kind": RecurrenceKind.DAILY, "count": 0}, "count"),
        ({"kind": RecurrenceKind.DAILY, "until": datetime(2027, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_bad_specs_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RecurrenceSpec(**fields)  # type: ignore[arg-type]


# --- expand: examples -------------------------------------------------------------------------


def test_last_friday_of_each_month_across_2027() -> None:
    rule = to_rrule(
        RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=4, week_of_month=-1),
        tz=BERLIN,
    )
    result = run(rule, at(BERLIN, 2027, 1, 29, 10), YEAR_2027)
    days = [(1, 29), (2, 26), (3, 26), (4, 30), (5, 28), (6, 25)]
    days += [(7, 30), (8, 27), (9, 24), (10, 29), (11, 26), (12, 31)]
    assert local_starts(result, BERLIN) == [datetime(2027, m, d, 10) for m, d in days]  # noqa: DTZ001


def test_every_other_tuesday() -> None:
    result = run(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        at(NEW_YORK, 2027, 1, 5, 14),
        (utc(2027, 1, 1), utc(2027, 3, 1)),
    )
    # 14:00 EST is 19:00 UTC.
    assert result == unchanged(
        utc(2027, 1, 5, 19), utc(2027, 1, 19, 19), utc(2027, 2, 2, 19), utc(2027, 2, 16, 19)
    )


def test_second_tuesday_of_the_month_across_the_us_dst_change() -> None:
    result = run(
        "FREQ=MONTHLY;BYDAY=2TU", at(NEW_YORK, 2027, 1, 12, 14), (utc(2027, 1, 1), utc(2027, 5, 1))
    )
    # Clocks go forward on 14 March: 14:00 EDT is 18:00 UTC.
    assert result == unchanged(
        utc(2027, 1, 12, 19), utc(2027, 2, 9, 19), utc(2027, 3, 9, 19), utc(2027, 4, 13, 18)
    )


@pytest.mark.parametrize(
    ("tz", "first", "window", "expected"),
    [
        # Berlin: CET (UTC+1) until Sunday 28 March 2027, CEST (UTC+2) from then.
        (
            BERLIN,
            (2027, 3, 22),
            (utc(2027, 3, 25), utc(2027, 3, 31)),
            [utc(2027, 3, 25, 8), utc(2027, 3, 26, 8), utc(2027, 3, 29, 7), utc(2027, 3, 30, 7)],
        ),
        # Berlin again on Sunday 31 October 2027, back to CET.
        (
            BERLIN,
            (2027, 10, 25),
            (utc(2027, 10, 28), utc(2027, 11, 3)),
            [utc(2027, 10, 28, 7), utc(2027, 10, 29, 7), utc(2027, 11, 1, 8), utc(2027, 11, 2, 8)],
        ),
        # New York: EST (UTC-5) until Sunday 14 March 2027, EDT (UTC-4) from then.
        (
            NEW_YORK,
            (2027, 3, 8),
            (utc(2027, 3, 11), utc(2027, 3, 17)),
            [
                utc(2027, 3, 11, 14),
                utc(2027, 3, 12, 14),
                utc(2027, 3, 15, 13),
                utc(2027, 3, 16, 13),
            ],
        ),
    ],
)
def test_workdays_keep_nine_oclock_local_across_dst(
    tz: ZoneInfo,
    first: tuple[int, int, int],
    window: tuple[datetime, datetime],
    expected: list[datetime],
) -> None:
    rule = to_rrule(RecurrenceSpec(kind=RecurrenceKind.WORKDAYS), tz=tz)
    assert run(rule, at(tz, *first, 9), window) == unchanged(*expected)


def test_a_time_in_the_spring_gap_moves_forward_and_an_ambiguous_one_is_the_earlier() -> None:
    spring = run("FREQ=DAILY", at(BERLIN, 2027, 3, 27, 2, 30), (utc(2027, 3, 26), utc(2027, 3, 30)))
    # 28 March 02:30 does not exist: it is 03:30 CEST, the same instant as 02:30 CET.
    assert spring == unchanged(
        utc(2027, 3, 27, 1, 30), utc(2027, 3, 28, 1, 30), utc(2027, 3, 29, 0, 30)
    )
    autumn = run(
        "FREQ=DAILY", at(BERLIN, 2027, 10, 30, 2, 30), (utc(2027, 10, 29), utc(2027, 11, 2))
    )
    # 31 October 02:30 happens twice: the first one, still CEST, is taken.
    assert autumn == unchanged(
        utc(2027, 10, 30, 0, 30), utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30)
    )


def test_a_window_ending_in_the_repeated_hour() -> None:
    # The window ends at 02:30 CET (01:30 UTC), the second 02:30 of 31 October; the occurrence
    # at 02:40 is the first one, 02:40 CEST (00:40 UTC), so it lies inside the window.
    result = run(
        "FREQ=DAILY", at(BERLIN, 2027, 10, 25, 2, 40), (utc(2027, 10, 30), utc(2027, 10, 31, 1, 30))
    )
    assert result == unchanged(utc(2027, 10, 30, 0, 40), utc(2027, 10, 31, 0, 40))


def test_weeks_start_on_monday_whatever_the_calendar_module_says() -> None:
    # Every other week on Sunday and Monday: with weeks from Monday, 3 May pairs with 9 May.
    previous = calendar.firstweekday()
    calendar.setfirstweekday(calendar.SUNDAY)
    try:
        result = run(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO",
            at(UTC_ZONE, 2027, 5, 3, 9),
            (utc(2027, 5, 1), utc(2027, 5, 25)),
        )
    finally:
        calendar.setfirstweekday(previous)
    assert result == unchanged(*(utc(2027, 5, d, 9) for d in (3, 9, 17, 23)))


def test_an_ambiguous_first_start_is_kept_exactly() -> None:
    second_half_past_two = datetime(2027, 10, 31, 2, 30, tzinfo=BERLIN, fold=1)  # CET: 01:30 UTC
    result = run(
        "FREQ=WEEKLY;BYDAY=SU", second_half_past_two, (utc(2027, 10, 30), utc(2027, 11, 8))
    )
    assert result == unchanged(utc(2027, 10, 31, 1, 30), utc(2027, 11, 7, 1, 30))


def test_the_elapsed_duration_is_kept_across_dst() -> None:
    result = run(
        "FREQ=DAILY",
        at(BERLIN, 2027, 3, 26, 22),
        (utc(2027, 3, 26), utc(2027, 3, 29)),
        duration=8 * HOUR,
    )
    assert [end - start for start, end, _ in result] == [8 * HOUR] * 3
    # The night the clocks go forward the shift ends at 07:00 local, not 06:00.
    assert [end.astimezone(BERLIN).hour for _, end, _ in result] == [6, 7, 6]


def test_weekly_with_one_moved_and_one_cancelled_occurrence() -> None:
    # Mondays 10:00 Berlin (CEST): 08:00 UTC on 3, 10, 17, 24 and 31 May 2027.
    start = at(BERLIN, 2027, 5, 3, 10)
    changes = (
        OccurrenceChange(original_start=utc(2027, 5, 10, 8), cancelled=True),
        OccurrenceChange(
            original_start=at(BERLIN, 2027, 5, 17, 10),  # any zone: kept in UTC
            new_start=utc(2027, 5, 19, 12),
            new_end=utc(2027, 5, 19, 13, 30),
        ),
    )
    result = run("FREQ=WEEKLY;BYDAY=MO", start, (utc(2027, 5, 1), utc(2027, 6, 1)), changes=changes)
    assert result == [
        (utc(2027, 5, 3, 8), utc(2027, 5, 3, 9), utc(2027, 5, 3, 8)),
        (utc(2027, 5, 19, 12), utc(2027, 5, 19, 13, 30), utc(2027, 5, 17, 8)),
        (utc(2027, 5, 24, 8), utc(2027, 5, 24, 9), utc(2027, 5, 24, 8)),
        (utc(2027, 5, 31, 8), utc(2027, 5, 31, 9), utc(2027, 5, 31, 8)),
    ]


def test_moves_into_and_out_of_the_window_and_stale_changes() -> None:
    start = at(BERLIN, 2027, 5, 3, 10)
    changes = (
        # 7 June moved into the window, before the regular 17 May occurrence.
        OccurrenceChange(
            original_start=utc(2027, 6, 7, 8),
            new_start=utc(2027, 5, 17, 6),
            new_end=utc(2027, 5, 17, 7),
        ),
        # 17 May moved out of the window.
        OccurrenceChange(
            original_start=utc(2027, 5, 17, 8),
            new_start=utc(2027, 5, 25, 8),
            new_end=utc(2027, 5, 25, 9),
        ),
        # 18 May is no occurrence (the rule changed since): ignored.
        OccurrenceChange(
            original_start=utc(2027, 5, 18, 8),
            new_start=utc(2027, 5, 17, 9),
            new_end=utc(2027, 5, 17, 10),
        ),
        # 24 May cancelled, outside the window anyway.
        OccurrenceChange(original_start=utc(2027, 5, 24, 8), cancelled=True),
    )
    result = run(
        "FREQ=WEEKLY;BYDAY=MO", start, (utc(2027, 5, 17), utc(2027, 5, 18)), changes=changes
    )
    assert result == [(utc(2027, 5, 17, 6), utc(2027, 5, 17, 7), utc(2027, 6, 7, 8))]
    # Past the until date 7 June is no occurrence either.
    ending = "FREQ=WEEKLY;BYDAY=MO;UNTIL=20270531T215959Z"
    assert run(ending, start, (utc(2027, 5, 17), utc(2027, 5, 18)), changes=changes) == []


@pytest.mark.parametrize(
    ("until", "last_day"),
    [
        (date(2027, 6, 10), 10),  # the whole local day
        (utc(2027, 6, 10, 16), 10),  # exactly the occurrence's start: included
        (utc(2027, 6, 10, 15, 59, 59), 9),  # a second before it: not
        (at(BERLIN, 2027, 6, 10, 18), 10),
    ],
)
def test_until_is_inclusive(until: date | datetime, last_day: int) -> None:
    rule = to_rrule(RecurrenceSpec(kind=RecurrenceKind.DAILY, until=until), tz=BERLIN)
    result = run(rule, at(BERLIN, 2027, 6, 7, 18), (utc(2027, 6, 1), utc(2027, 7, 1)))
    assert result == unchanged(*(utc(2027, 6, d, 16) for d in range(7, last_day + 1)))


def test_an_until_date_keeps_a_late_evening_occurrence_of_that_day() -> None:
    rule = to_rrule(RecurrenceSpec(kind=RecurrenceKind.DAILY, until=date(2027, 6, 10)), tz=BERLIN)
    result = run(rule, at(BERLIN, 2027, 6, 9, 23, 59), (utc(2027, 6, 1), utc(2027, 7, 1)))
    assert result == unchanged(utc(2027, 6, 9, 21, 59), utc(2027, 6, 10, 21, 59))


def test_monthly_on_the_31st_skips_shorter_months() -> None:
    rule = to_rrule(RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_DAY, month_day=31), tz=BERLIN)
    result = run(rule, at(BERLIN, 2027, 1, 31, 9), YEAR_2027)
    months = [1, 3, 5, 7, 8, 10, 12]
    assert local_starts(result, BERLIN) == [datetime(2027, m, 31, 9) for m in months]  # noqa: DTZ001


def test_yearly_on_29_february_is_in_leap_years_only() -> None:
    rule = to_rrule(RecurrenceSpec(kind=RecurrenceKind.YEARLY), tz=NEW_YORK)
    result = run(rule, at(NEW_YORK, 2028, 2, 29, 12), (utc(2028, 1, 1), utc(2037, 1, 1)))
    assert result == unchanged(utc(2028, 2, 29, 17), utc(2032, 2, 29, 17), utc(2036, 2, 29, 17))


def test_count_counts_from_the_first_occurrence() -> None:
    result = run(
        "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=5",
        at(BERLIN, 2027, 5, 3, 10),
        (utc(2027, 1, 1), utc(2028, 1, 1)),
    )
    assert local_starts(result, BERLIN) == [
        datetime(2027, 5, d, 10)  # noqa: DTZ001
        for d in (3, 5, 10, 12, 17)
    ]


def test_a_single_occurrence_without_a_rule() -> None:
    start = at(BERLIN, 2027, 5, 3, 10)
    window = (utc(2027, 5, 3), utc(2027, 5, 4))
    assert run(None, start, window) == unchanged(utc(2027, 5, 3, 8))
    assert run(None, start, (utc(2027, 5, 4), utc(2027, 5, 5))) == []
    cancel = OccurrenceChange(original_start=start, cancelled=True)
    assert run(None, start, window, changes=(cancel,)) == []
    move = OccurrenceChange(
        original_start=start, new_start=utc(2027, 5, 4, 9), new_end=utc(2027, 5, 4, 10)
    )
    assert run(None, start, (utc(2027, 5, 4), utc(2027, 5, 5)), changes=(move,)) == [
        (utc(2027, 5, 4, 9), utc(2027, 5, 4, 10), utc(2027, 5, 3, 8))
    ]


def test_window_edges() -> None:
    start = at(BERLIN, 2027, 5, 3, 10)  # 08:00-09:00 UTC daily
    # Started before the window and still running: included, unclipped.
    assert run("FREQ=DAILY", start, (utc(2027, 5, 4, 8, 30), utc(2027, 5, 4, 12))) == unchanged(
        utc(2027, 5, 4, 8)
    )
    # Ending at window_start or starting at window_end: not included.
    assert run("FREQ=DAILY", start, (utc(2027, 5, 4, 9), utc(2027, 5, 5, 8))) == []
    # An empty or reversed window has nothing.
    assert run("FREQ=DAILY", start, (utc(2027, 5, 5), utc(2027, 5, 4))) == []
    # An instant (zero duration) at window_start is inside; at window_end it is not.
    instant = run(
        "FREQ=DAILY", start, (utc(2027, 5, 4, 8), utc(2027, 5, 5, 8)), duration=timedelta(0)
    )
    assert instant == unchanged(utc(2027, 5, 4, 8), duration=timedelta(0))


def test_an_old_rule_expands_only_near_the_window() -> None:
    # Daily since 2000: about 10,000 occurrences before the window, yet a cap of 20 suffices
    # (the week's 7 and a few days of lead-in).
    start = at(BERLIN, 2000, 1, 3, 9)
    result = run("FREQ=DAILY", start, (utc(2027, 5, 3), utc(2027, 5, 10)), max_occurrences=20)
    assert result == unchanged(*(utc(2027, 5, d, 7) for d in range(3, 10)))
    monthly = run(
        "FREQ=MONTHLY;INTERVAL=5", start, (utc(2027, 1, 1), utc(2028, 1, 1)), max_occurrences=10
    )
    # 2000-01 + 5k months: 2027-02 (k = 65, 27 * 12 + 1 = 325 months), 2027-07 and 2027-12.
    assert monthly == unchanged(utc(2027, 2, 3, 8), utc(2027, 7, 3, 7), utc(2027, 12, 3, 8))
    yearly = run(
        "FREQ=YEARLY;INTERVAL=3", start, (utc(2020, 1, 1), utc(2030, 1, 1)), max_occurrences=10
    )
    assert yearly == unchanged(utc(2021, 1, 3, 8), utc(2024, 1, 3, 8), utc(2027, 1, 3, 8))


def test_too_many_occurrences_raise_rather_than_truncate() -> None:
    start = at(BERLIN, 2027, 1, 1, 9)
    with pytest.raises(ValueError, match="more than 100 occurrences"):
        run("FREQ=DAILY", start, YEAR_2027, max_occurrences=100)
    assert len(run("FREQ=DAILY", start, YEAR_2027, max_occurrences=365)) == 365
    # COUNT is counted from the first occurrence, so the walk starts there.
    with pytest.raises(ValueError, match="more than 5000 occurrences"):
        run("FREQ=DAILY;COUNT=10000", at(BERLIN, 2000, 1, 1, 9), YEAR_2027)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": datetime(2027, 5, 3, 10)}, "timezone-aware"),  # noqa: DTZ001
        ({"window_end": datetime(2027, 6, 1)}, "timezone-aware"),  # noqa: DTZ001
        ({"end": utc(2027, 5, 3, 7)}, "before start"),
        ({"max_occurrences": 0}, "max_occurrences"),
        ({"rule": "FREQ=WEEKLY;BYDAY=XX"}, "BYDAY"),
        ({"rule": "FREQ=DAILY;UNTIL=tomorrow"}, "UNTIL"),
        (
            {
                "changes": (
                    OccurrenceChange(original_start=utc(2027, 5, 3, 8), cancelled=True),
                    OccurrenceChange(original_start=utc(2027, 5, 3, 8), cancelled=True),
                )
            },
            "two changes",
        ),
    ],
)
def test_expand_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "rule": "FREQ=DAILY",
        "start": utc(2027, 5, 3, 8),
        "end": utc(2027, 5, 3, 9),
        "tz": BERLIN,
        "window_start": utc(2027, 5, 1),
        "window_end": utc(2027, 6, 1),
    }
    with pytest.raises(ValueError, match=message):
        expand(**{**arguments, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"original_start": datetime(2027, 5, 3, 8), "cancelled": True}, "timezone-aware"),  # noqa: DTZ001
        ({"original_start": utc(2027, 5, 3, 8)}, "either cancels"),
        ({"original_start": utc(2027, 5, 3, 8), "new_start": utc(2027, 5, 3, 9)}, "either cancels"),
        (
            {
                "original_start": utc(2027, 5, 3, 8),
                "cancelled": True,
                "new_start": utc(2027, 5, 3, 9),
            },
            "cancelled",
        ),
        (
            {
                "original_start": utc(2027, 5, 3, 8),
                "new_start": utc(2027, 5, 3, 9),
                "new_end": utc(2027, 5, 3, 8),
            },
            "before",
        ),
    ],
)
def test_bad_changes_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OccurrenceChange(**fields)  # type: ignore[arg-type]


# --- hypothesis -------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # DST of half an hour
    "Asia/Kolkata",
]
zones = st.sampled_from(ZONES).map(ZoneInfo)
weekday_sets = st.lists(st.integers(0, 6), min_size=1, max_size=7).map(tuple)
ends = st.one_of(
    st.none(),
    st.dates(date(2026, 1, 1), date(2031, 12, 31)),
    st.datetimes(
        datetime(2026, 1, 1),  # noqa: DTZ001
        datetime(2031, 12, 31),  # noqa: DTZ001
        timezones=zones,
    ),
)


@st.composite
def specs(draw: st.DrawFn, *, max_interval: int = 12) -> RecurrenceSpec:
    kind = draw(st.sampled_from(RecurrenceKind))
    fields: dict[str, object] = {"kind": kind, "interval": draw(st.integers(1, max_interval))}
    if kind is RecurrenceKind.WEEKLY:
        fields["weekdays"] = draw(weekday_sets)
    elif kind is RecurrenceKind.MONTHLY_BY_DAY:
        fields["month_day"] = draw(st.integers(1, 31))
    elif kind is RecurrenceKind.MONTHLY_BY_WEEKDAY:
        fields["weekday"] = draw(st.integers(0, 6))
        fields["week_of_month"] = draw(st.sampled_from([1, 2, 3, 4, -1]))
    elif kind is RecurrenceKind.YEARLY_BY_WEEKDAY:
        fields["month"] = draw(st.integers(1, 12))
        fields["weekday"] = draw(st.integers(0, 6))
        fields["week_of_month"] = draw(st.sampled_from([1, 2, 3, 4, -1]))
    elif kind is RecurrenceKind.MONTHLY_BY_POSITION:
        fields["weekdays"] = draw(weekday_sets.filter(lambda days: len(set(days)) > 1))
        fields["position"] = draw(st.sampled_from([1, 2, 3, -1, -2]))
    if draw(st.booleans()):
        fields["until"] = draw(ends)
    else:
        fields["count"] = draw(st.one_of(st.none(), st.integers(1, 400)))
    return RecurrenceSpec(**fields)  # type: ignore[arg-type]


def canonical(spec: RecurrenceSpec, tz: ZoneInfo) -> RecurrenceSpec:
    """What from_rrule(to_rrule(spec)) should give: the same meaning in its canonical form."""
    kind, weekdays, until = spec.kind, spec.weekdays, spec.until
    if kind is RecurrenceKind.WEEKLY and weekdays == (0, 1, 2, 3, 4):
        kind, weekdays = RecurrenceKind.WORKDAYS, ()
    if isinstance(until, datetime):
        until = until.astimezone(UTC).replace(microsecond=0)
        following = (until + SECOND).astimezone(tz)
        if following.time() == time(0):
            until = following.date() - DAY  # the last second of a local day reads as that day
    return RecurrenceSpec(
        kind=kind,
        interval=spec.interval,
        weekdays=weekdays,
        month_day=spec.month_day,
        weekday=spec.weekday,
        week_of_month=spec.week_of_month,
        until=until,
        count=spec.count,
        month=spec.month,
        position=spec.position,
    )


@PROPERTY_SETTINGS
@given(spec=specs(), tz=zones)
def test_to_rrule_and_from_rrule_round_trip(spec: RecurrenceSpec, tz: ZoneInfo) -> None:
    rule = to_rrule(spec, tz=tz)
    assert from_rrule(rule, tz=tz) == canonical(spec, tz)
    assert to_rrule(from_rrule(rule, tz=tz), tz=tz) == rule
    # Without the zone an until date comes back as its instant, which writes the same rule.
    assert to_rrule(from_rrule(rule), tz=tz) == rule
    assert to_rrule(from_rrule("RRULE:" + rule.lower()), tz=tz) == rule


def in_gap(day: date, wall: time, tz: ZoneInfo) -> bool:
    """Whether the local wall-clock time does not exist on that day (spring-forward gap)."""
    local = datetime.combine(day, wall, tzinfo=tz)
    return local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None)


def matches_kind(spec: RecurrenceSpec, day: date, first: date) -> bool:
    """Whether ``day`` is a day the spec's pattern allows (ignoring interval and until)."""
    if spec.kind is RecurrenceKind.DAILY:
        return (day - first).days % spec.interval == 0
    if spec.kind is RecurrenceKind.WEEKLY:
        return day.weekday() in spec.weekdays
    if spec.kind is RecurrenceKind.WORKDAYS:
        return day.weekday() < 5
    if spec.kind is RecurrenceKind.MONTHLY_BY_DAY:
        return day.day == spec.month_day
    if spec.kind is RecurrenceKind.MONTHLY_BY_WEEKDAY:
        nth = (day.day - 1) // 7 + 1
        last = (day + 7 * DAY).month != day.month
        wanted = spec.week_of_month
        return day.weekday() == spec.weekday and (nth == wanted or (wanted == -1 and last))
    if spec.kind is RecurrenceKind.YEARLY_BY_WEEKDAY:
        nth = (day.day - 1) // 7 + 1
        last = (day + 7 * DAY).month != day.month
        wanted = spec.week_of_month
        return (
            day.month == spec.month
            and day.weekday() == spec.weekday
            and (nth == wanted or (wanted == -1 and last))
        )
    if spec.kind is RecurrenceKind.MONTHLY_BY_POSITION:
        # Brute force: the month's days on those weekdays, picked by position.
        month_days = [
            d
            for n in range(31)
            if (d := day.replace(day=1) + n * DAY).month == day.month
            and d.weekday() in spec.weekdays
        ]
        assert spec.position is not None
        index = spec.position - 1 if spec.position > 0 else spec.position
        return -len(month_days) <= index < len(month_days) and month_days[index] == day
    return (day.month, day.day) == (first.month, first.day)


# Wall-clock starts include 02:30 and 02:15 to land in gaps and overlaps often.
walls = st.one_of(
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
    st.sampled_from([time(2, 30), time(2, 15), time(1, 30), time(2)]),
)
first_days = st.dates(date(2026, 1, 1), date(2027, 12, 31))
durations = st.integers(0, 36 * 60).map(lambda m: m * MINUTE)


@PROPERTY_SETTINGS
@given(
    spec=specs(max_interval=3),
    tz=zones,
    first=first_days,
    wall=walls,
    duration=durations,
    offset=st.integers(-60, 900),
    length=st.integers(0, 120),
)
def test_expansion_keeps_wall_clock_time_and_stays_sorted_in_the_window(
    spec: RecurrenceSpec,
    tz: ZoneInfo,
    first: date,
    wall: time,
    duration: timedelta,
    offset: int,
    length: int,
) -> None:
    start = datetime.combine(first, wall, tzinfo=tz).astimezone(UTC)
    local_first = start.astimezone(tz)
    window_start = start + offset * DAY
    window_end = window_start + length * DAY
    result = expand(
        rule=to_rrule(spec, tz=tz),
        start=start,
        end=start + duration,
        tz=tz,
        window_start=window_start,
        window_end=window_end,
    )
    assert [s for s, _, _ in result] == sorted(s for s, _, _ in result)
    for s, e, original in result:
        assert s.tzinfo is UTC
        assert s == original
        assert e - s == duration
        assert s < window_end
        assert e > window_start or s == e >= window_start
        assert s >= start
        local = s.astimezone(tz)
        assert local.time() == local_first.time() or in_gap(local.date(), local_first.time(), tz)
        assert matches_kind(spec, local.date(), local_first.date())


@PROPERTY_SETTINGS
@given(
    spec=specs(max_interval=3),
    tz=zones,
    first=first_days,
    wall=walls,
    duration=durations,
    offset=st.integers(0, 3 * 366),
    length=st.integers(1, 60),
)
def test_a_narrow_window_agrees_with_the_walk_from_the_first_occurrence(
    spec: RecurrenceSpec,
    tz: ZoneInfo,
    first: date,
    wall: time,
    duration: timedelta,
    offset: int,
    length: int,
) -> None:
    start = datetime.combine(first, wall, tzinfo=tz).astimezone(UTC)
    rule = to_rrule(spec, tz=tz)
    window_start = start + offset * DAY + (offset % 7) * HOUR
    window_end = window_start + length * DAY
    common = {"rule": rule, "start": start, "end": start + duration, "tz": tz}
    narrow = expand(**common, window_start=window_start, window_end=window_end)
    # From the first start the walk cannot skip ahead: it is the plain RFC expansion.
    every = expand(**common, window_start=start, window_end=window_end, max_occurrences=10**6)
    assert narrow == [o for o in every if o[1] > window_start or o[0] == o[1] >= window_start]
    for (s1, _, _), (s2, _, _) in itertools.pairwise(every):
        assert s1 < s2


# --- the fast paths against plain dateutil -----------------------------------------------------

DAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def daily_or_weekly_rules(draw: st.DrawFn) -> str:
    """DAILY/WEEKLY rules with the parts that repeat with a period (and some that do not)."""
    parts = [f"FREQ={draw(st.sampled_from(['DAILY', 'WEEKLY']))}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 9))}")
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(DAY_CODES), min_size=1, max_size=7, unique=True))
        parts.append("BYDAY=" + ",".join(days))
    if draw(st.booleans()):
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=3, unique=True))
        parts.append("BYHOUR=" + ",".join(map(str, hours)))
    if draw(st.booleans()):
        parts.append(f"BYMINUTE={draw(st.integers(0, 59))}")
    if draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(DAY_CODES))}")
    if draw(st.booleans()):  # not periodic: dateutil walks them all
        parts.append(f"BYMONTH={draw(st.integers(1, 12))}")
    return ";".join(parts)


def dateutil_starts(
    rule: str, start: datetime, tz: ZoneInfo, lo: datetime, hi: datetime
) -> list[datetime]:
    """The starts in [lo, hi) straight from dateutil, walked from DTSTART, each placed in tz."""
    from dateutil.rrule import rrulestr

    local = start.astimezone(tz).replace(tzinfo=None)
    found = []
    for naive in rrulestr(rule + ";WKST=MO" * ("WKST" not in rule), dtstart=local):
        utc = start if naive == local else naive.replace(tzinfo=tz).astimezone(UTC)
        if utc >= hi + 3 * DAY:
            break
        if lo <= utc < hi:
            found.append(utc)
    return sorted(found)


@settings(max_examples=300, deadline=None)
@given(
    rule=daily_or_weekly_rules(),
    tz=zones,
    first=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)),  # noqa: DTZ001
    skip=st.integers(0, 800),
    days=st.integers(1, 400),
)
def test_daily_and_weekly_expansion_matches_dateutil_walked_from_dtstart(
    rule: str, tz: ZoneInfo, first: datetime, skip: int, days: int
) -> None:
    # (the repeated period, the compiled rules and the skip ahead are all shortcuts: the
    # occurrences must be the ones dateutil gives walking every one from DTSTART)
    start = first.replace(microsecond=0, tzinfo=tz)
    lo = start.astimezone(UTC) + skip * DAY - 7 * HOUR
    hi = lo + days * DAY

    got = expand(
        rule=rule,
        start=start,
        end=start + HOUR,
        tz=tz,
        window_start=lo + HOUR - SECOND,  # an hour from lo on overlaps it: starts from lo
        window_end=hi,
        max_occurrences=50_000,
    )

    assert [s for s, _, _ in got] == dateutil_starts(rule, start, tz, lo, hi)


@settings(max_examples=200, deadline=None)
@given(
    spec=specs(),
    tz=zones,
    dtstart=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)),  # noqa: DTZ001
)
def test_a_compiled_rule_re_based_is_the_rule_dateutil_parses(
    spec: RecurrenceSpec, tz: ZoneInfo, dtstart: datetime
) -> None:
    from dateutil.rrule import rrulestr

    from reservation.recurrence import _compiled

    parts = [p for p in to_rrule(spec, tz=tz).split(";") if not p.startswith(("UNTIL", "COUNT"))]
    text = ";".join([*parts, "WKST=MO"])
    dtstart = dtstart.replace(microsecond=0)
    until = dtstart + timedelta(days=800)

    rebased = _compiled(text).replace(dtstart=dtstart, until=until)

    assert list(rebased) == list(rrulestr(f"{text};UNTIL={until:%Y%m%dT%H%M%S}", dtstart=dtstart))
