"""Common free time of 10 people over all of 2027 (reservation.freetime, no database).

Ten people in seven zones (Berlin, London, New York, Chicago and Sydney change their clocks on
different dates; Kolkata is half an hour off UTC, São Paulo and UTC never change), each with
Mon-Fri working hours in their own zone (Sydney's is a night shift) and a light calendar expanded
by reservation.recurrence.expand: standups (daily or on workdays, some moved or cancelled),
weekly meetings, monthly n-th-weekday reviews, meetings shared by several people, one-offs and a
few bookings. free_intervals is checked against a brute-force grid of the year's 525,600
minutes, one byte each, for 2, 5 and all 10 people and several (min_length, limit, range).
"""

import functools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reservation.freetime import Interval, free_intervals
from reservation.recurrence import (
    OccurrenceChange,
    RecurrenceKind,
    RecurrenceSpec,
    expand,
    to_rrule,
)
from reservation.slots import WeeklyHours, expand_weekly

YEAR_START = datetime(2027, 1, 1, tzinfo=UTC)  # a Friday
YEAR_END = datetime(2028, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
MINUTES = (YEAR_END - YEAR_START) // MINUTE  # 525,600
FIRST_MONDAY = date(2027, 1, 4)

# (zone, working hours Mon-Fri local): their overlap is about 12-16 or 13-17 UTC, whatever the
# DST state of each zone, so all ten share some time every workday before their calendars.
PEOPLE: tuple[tuple[str, time, time], ...] = (
    ("Europe/Berlin", time(9), time(18)),
    ("America/New_York", time(7), time(16)),
    ("Europe/London", time(8, 30), time(17, 30)),
    ("Asia/Kolkata", time(14), time(22, 30)),
    ("Australia/Sydney", time(22), time(6)),  # overnight, Monday night to Saturday morning
    ("America/Chicago", time(6), time(15)),
    ("UTC", time(10), time(19)),
    ("Europe/Berlin", time(10), time(19)),
    ("America/New_York", time(8), time(17)),
    ("America/Sao_Paulo", time(9), time(18)),
)


@dataclass(frozen=True)
class Person:
    tz: ZoneInfo
    shift: tuple[time, time]
    busy: list[Interval]
    working: list[Interval]


def occurrences(
    spec: RecurrenceSpec | None,
    start: datetime,
    minutes: int,
    changes: Sequence[OccurrenceChange] = (),
) -> list[Interval]:
    """The 2027 occurrences of an event whose first occurrence starts at the aware ``start``."""
    tz = start.tzinfo
    assert isinstance(tz, ZoneInfo)
    found = expand(
        rule=to_rrule(spec, tz=tz) if spec is not None else None,
        start=start,
        end=start + minutes * MINUTE,
        tz=tz,
        window_start=YEAR_START,
        window_end=YEAR_END,
        changes=changes,
    )
    return [(s, e) for s, e, _ in found]


def at(day: date, wall: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, wall, tzinfo=tz)


def later(wall: time, minutes: int) -> time:
    """The wall-clock time ``minutes`` after ``wall`` (wrapping past midnight)."""
    total = (wall.hour * 60 + wall.minute + minutes) % (24 * 60)
    return time(total // 60, total % 60)


def own_calendar(index: int, tz: ZoneInfo, shift_start: time) -> list[Interval]:
    """One person's own events for 2027: light enough that all ten still meet."""
    rng = random.Random(2027 + index)
    busy: list[Interval] = []

    # A standup 15 minutes into the shift: every day for some, on workdays for the others; two
    # moved two hours later and four cancelled.
    kind = RecurrenceKind.DAILY if index % 2 == 0 else RecurrenceKind.WORKDAYS
    standup_spec = RecurrenceSpec(kind=kind)
    standup_start = at(FIRST_MONDAY, later(shift_start, 15), tz)
    regular = rng.sample(occurrences(standup_spec, standup_start, 15), 6)
    changes = [
        OccurrenceChange(original_start=s, new_start=s + 120 * MINUTE, new_end=e + 120 * MINUTE)
        for s, e in regular[:2]
    ] + [OccurrenceChange(original_start=s, cancelled=True) for s, _ in regular[2:]]
    busy += occurrences(standup_spec, standup_start, 15, changes)

    # Two weekly meetings on chosen workdays, one of them every other week.
    for interval in (1, 2):
        days = tuple(sorted(rng.sample(range(5), rng.randint(1, 2))))
        spec = RecurrenceSpec(kind=RecurrenceKind.WEEKLY, weekdays=days, interval=interval)
        wall = later(shift_start, rng.randrange(0, 8 * 60, 15))
        first = at(FIRST_MONDAY + timedelta(days=days[0]), wall, tz)
        busy += occurrences(spec, first, rng.choice([30, 45, 60]))

    # A monthly review on the n-th (or last) weekday.
    weekday = rng.randrange(5)
    week_of_month = rng.choice([1, 2, 3, 4, -1])
    spec = RecurrenceSpec(
        kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=weekday, week_of_month=week_of_month
    )
    wall = later(shift_start, rng.randrange(60, 7 * 60, 30))
    busy += occurrences(spec, at(date(2027, 1, 1), wall, tz), rng.choice([60, 90]))

    # One-offs on random days, a few outside working hours or at weekends.
    for _ in range(15):
        day = date(2027, 1, 1) + timedelta(days=rng.randrange(365))
        wall = time(rng.randint(6, 20), rng.choice([0, 15, 30, 45]))
        busy += occurrences(None, at(day, wall, tz), rng.choice([30, 60, 90, 120]))
    return busy


def shared_events() -> list[tuple[tuple[int, ...], list[Interval]]]:
    """(attendees, occurrences) of the meetings several people share."""
    london = ZoneInfo("Europe/London")
    new_york = ZoneInfo("America/New_York")
    weekly = RecurrenceSpec(kind=RecurrenceKind.WEEKLY, weekdays=(3,))  # Thursdays
    last_friday = RecurrenceSpec(
        kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=4, week_of_month=-1
    )
    second_tuesday = RecurrenceSpec(
        kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=1, week_of_month=2
    )
    return [
        # An all-hands at 15:00 London: 15:00 UTC in winter, 14:00 UTC in summer.
        (tuple(range(10)), occurrences(weekly, at(date(2027, 1, 7), time(15), london), 30)),
        ((0, 1, 2), occurrences(last_friday, at(date(2027, 1, 29), time(10), new_york), 60)),
        ((3, 5, 8, 9), occurrences(second_tuesday, at(date(2027, 1, 12), time(13), london), 90)),
    ]


# Bookings of one person's time by another: both are busy.
BOOKINGS: tuple[tuple[int, int, datetime, int], ...] = (
    (6, 1, datetime(2027, 2, 3, 14, tzinfo=UTC), 60),
    (6, 8, datetime(2027, 3, 17, 13, 30, tzinfo=UTC), 30),
    (0, 4, datetime(2027, 6, 9, 12, tzinfo=UTC), 90),
    (2, 9, datetime(2027, 10, 28, 15, tzinfo=UTC), 45),
    (3, 7, datetime(2027, 11, 2, 12, 45, tzinfo=UTC), 60),
    (5, 0, datetime(2027, 12, 30, 13, tzinfo=UTC), 120),
)


@functools.cache
def calendars() -> tuple[Person, ...]:
    busy: list[list[Interval]] = []
    working: list[list[Interval]] = []
    for index, (name, shift_start, shift_end) in enumerate(PEOPLE):
        tz = ZoneInfo(name)
        busy.append(own_calendar(index, tz, shift_start))
        hours = [WeeklyHours(weekday=d, start=shift_start, end=shift_end) for d in range(5)]
        working.append(expand_weekly(hours, tz, YEAR_START, YEAR_END))
    for attendees, found in shared_events():
        for index in attendees:
            busy[index] += found
    for provider, client, start, minutes in BOOKINGS:
        for index in (provider, client):
            busy[index].append((start, start + minutes * MINUTE))
    return tuple(
        Person(ZoneInfo(name), (s, e), busy[i], working[i]) for i, (name, s, e) in enumerate(PEOPLE)
    )


# --- the brute force --------------------------------------------------------------------------


def minute_of(instant: datetime) -> int:
    """Minutes since YEAR_START, clipped to the year; every instant here is on a whole minute."""
    offset = instant - YEAR_START
    assert offset % MINUTE == timedelta(0), instant
    return min(max(offset // MINUTE, 0), MINUTES)


def mark(grid: bytearray, intervals: Sequence[Interval], value: int) -> None:
    fill = bytes([value])
    for s, e in intervals:
        lo, hi = minute_of(s), minute_of(e)
        if lo < hi:
            grid[lo:hi] = fill * (hi - lo)


@functools.cache
def grid_of(size: int, with_busy: bool = True) -> bytes:
    """One byte per minute of 2027: 1 when the first ``size`` people all work and none is busy."""
    free = int.from_bytes(b"\x01" * MINUTES)
    for person in calendars()[:size]:
        mine = bytearray(MINUTES)
        mark(mine, person.working, 1)
        if with_busy:
            mark(mine, person.busy, 0)
        free &= int.from_bytes(mine)
    return free.to_bytes(MINUTES)


def brute_force(
    grid: bytes, start: datetime, end: datetime, min_length: timedelta, limit: int
) -> list[Interval]:
    """The first ``limit`` maximal runs of free minutes in [start, end), ``min_length`` or more."""
    at_least = max(min_length // MINUTE + bool(min_length % MINUTE), 1)
    runs = re.compile(rb"\x01{%d,}" % at_least).finditer(grid, minute_of(start), minute_of(end))
    return [
        (YEAR_START + run.start() * MINUTE, YEAR_START + run.end() * MINUTE)
        for run, _ in zip(runs, range(limit), strict=False)
    ]


def free(
    size: int, start: datetime, end: datetime, min_length: timedelta, limit: int
) -> list[Interval]:
    people = calendars()[:size]
    return free_intervals(
        busy_by_person=[p.busy for p in people],
        working_by_person=[p.working for p in people],
        start=start,
        end=end,
        min_length=min_length,
        limit=limit,
    )


# --- tests ------------------------------------------------------------------------------------

RANGES = {
    "year": (YEAR_START, YEAR_END),
    # US clocks change on 14 March, European ones on 28 March, Sydney's on 4 April; the range
    # starts in the middle of a common working afternoon.
    "spring": (datetime(2027, 3, 10, 13, 17, tzinfo=UTC), datetime(2027, 4, 12, tzinfo=UTC)),
    # Europe falls back on 31 October, the US on 7 November; Sydney went forward on 3 October.
    "autumn": (datetime(2027, 9, 27, tzinfo=UTC), datetime(2027, 11, 15, 14, 40, tzinfo=UTC)),
}
COMBOS = [  # (min_length, limit)
    (timedelta(0), 7),
    (MINUTE, 100),
    (30 * MINUTE, 10),
    (45 * MINUTE, 1),
    (timedelta(minutes=90, seconds=30), 10**6),
    (3 * 60 * MINUTE, 10**6),
]


@pytest.mark.parametrize(("min_length", "limit"), COMBOS)
@pytest.mark.parametrize("span", sorted(RANGES))
@pytest.mark.parametrize("size", [2, 5, 10])
def test_matches_a_minute_grid_of_the_year(
    size: int, span: str, min_length: timedelta, limit: int
) -> None:
    start, end = RANGES[span]
    expected = brute_force(grid_of(size), start, end, min_length, limit)
    assert free(size, start, end, min_length, limit) == expected


@pytest.mark.parametrize("size", [2, 5, 10])
def test_everyone_meets_and_every_calendar_matters(size: int) -> None:
    """The scenario is not trivial: common time remains, and everyone's events take some away."""
    found = free(size, YEAR_START, YEAR_END, 30 * MINUTE, 10**6)
    assert len(found) >= 100
    assert all(e - s >= 30 * MINUTE for s, e in found)
    assert all(s.tzinfo is UTC and e.tzinfo is UTC for s, e in found)
    hours_only = int.from_bytes(grid_of(size, with_busy=False))
    assert int.from_bytes(grid_of(size)) != hours_only
    for person in calendars()[:size]:
        mine = bytearray(MINUTES)
        mark(mine, person.busy, 1)
        assert int.from_bytes(mine) & hours_only, f"{person.tz} is never busy in common time"


def test_working_hours_keep_local_time_across_dst() -> None:
    """The inputs are what they claim: each shift starts at its local time on a local workday."""
    for person in calendars():
        shift_start, shift_end = person.shift
        assert 255 <= len(person.working) <= 262
        for s, e in person.working:
            local_start, local_end = s.astimezone(person.tz), e.astimezone(person.tz)
            if s != YEAR_START:  # one shift may be cut by the start of the year
                assert local_start.time() == shift_start
                assert local_start.weekday() < 5
            if e != YEAR_END:
                assert local_end.time() == shift_end
    # The Thursday all-hands stays at 15:00 in London, so it moves in UTC.
    all_hands = shared_events()[0][1]
    assert len(all_hands) == 52
    assert {s.astimezone(ZoneInfo("Europe/London")).time() for s, _ in all_hands} == {time(15)}
    assert {s.hour for s, _ in all_hands} == {14, 15}
