"""Benchmark of recurrence expansion and common free time; prints figures, never asserts a time.

    .venv/bin/python devops/bench/freetime.py

Pure code only (no Django, no database): 10 people in different zones, each with a year of
mixed events expanded by reservation.recurrence.expand (workday standups, daily lunches,
weekly meetings, monthly reviews, a yearly one, one-offs, some occurrences moved or cancelled)
and working hours Mon-Fri 09-17 in their own zone; then reservation.freetime.free_intervals
finds the common free time. Expansion and the sweep are timed separately.
"""

import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reservation.freetime import Interval, free_intervals
from reservation.recurrence import (
    OccurrenceChange,
    RecurrenceKind,
    RecurrenceSpec,
    expand,
    to_rrule,
)

YEAR_START = datetime(2027, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2028, 1, 1, tzinfo=UTC)
ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Madrid",
    "Europe/Dublin",
    "Atlantic/Reykjavik",
    "UTC",
    "America/New_York",
    "America/Toronto",
    "America/Halifax",
]
MINUTE = timedelta(minutes=1)
T = TypeVar("T")


@dataclass(frozen=True)
class Event:
    rule: str | None
    start: datetime
    end: datetime
    tz: ZoneInfo
    changes: tuple[OccurrenceChange, ...] = ()


def local(tz: ZoneInfo, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=tz)


def occurrences(event: Event) -> list[tuple[datetime, datetime, datetime]]:
    return expand(
        rule=event.rule,
        start=event.start,
        end=event.end,
        tz=event.tz,
        window_start=YEAR_START,
        window_end=YEAR_END,
        changes=event.changes,
    )


def person_events(index: int) -> tuple[list[Event], Event]:
    """One person's events (about 3,000 occurrences in 2027) and their working hours."""
    rng = random.Random(index)
    tz = ZoneInfo(ZONES[index])

    def recurring(spec: RecurrenceSpec, start: datetime, minutes: int) -> Event:
        return Event(to_rrule(spec, tz=tz), start, start + minutes * MINUTE, tz)

    def quarter_hour(first: int, last: int) -> tuple[int, int]:
        return rng.randint(first, last), rng.choice([0, 15, 30, 45])

    workdays = RecurrenceSpec(kind=RecurrenceKind.WORKDAYS)
    standup = recurring(workdays, local(tz, 1, 1, 9, 30), 15)  # 1 January 2027 is a Friday
    # Move five standups an hour later and cancel ten (holidays), as a calendar would.
    regular = rng.sample(occurrences(standup), 15)
    standup = Event(
        standup.rule,
        standup.start,
        standup.end,
        tz,
        tuple(
            OccurrenceChange(original_start=o, new_start=o + 60 * MINUTE, new_end=e + 60 * MINUTE)
            for o, e, _ in regular[:5]
        )
        + tuple(OccurrenceChange(original_start=o, cancelled=True) for o, _, _ in regular[5:]),
    )
    events = [
        standup,
        recurring(RecurrenceSpec(kind=RecurrenceKind.DAILY), local(tz, 1, 1, 12), 45),  # lunch
        recurring(RecurrenceSpec(kind=RecurrenceKind.DAILY), local(tz, 1, 1, 19), 60),  # evening
        recurring(RecurrenceSpec(kind=RecurrenceKind.YEARLY), local(tz, 3, 1, 10), 180),
        recurring(
            RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=0, week_of_month=1),
            local(tz, 1, 4, 14),
            90,
        ),
        recurring(
            RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=4, week_of_month=-1),
            local(tz, 1, 29, 15),
            60,
        ),
        recurring(
            RecurrenceSpec(kind=RecurrenceKind.MONTHLY_BY_DAY, month_day=15),
            local(tz, 1, 15, 11),
            60,
        ),
    ]
    for _ in range(4):  # other workday routines
        events.append(recurring(workdays, local(tz, 1, 1, *quarter_hour(8, 17)), 30))
    for _ in range(6):  # weekly meetings, some every other week
        days = tuple(rng.sample(range(5), rng.randint(1, 3)))
        spec = RecurrenceSpec(
            kind=RecurrenceKind.WEEKLY, weekdays=days, interval=rng.choice([1, 1, 2])
        )
        start = local(tz, 1, 4 + min(days), *quarter_hour(8, 16))  # 4 January is a Monday
        events.append(recurring(spec, start, rng.choice([30, 45, 60])))
    for _ in range(400):  # one-offs
        day = YEAR_START.astimezone(tz) + timedelta(days=rng.randrange(365))
        start = day.replace(hour=rng.randint(7, 18), minute=rng.choice([0, 30]))
        events.append(Event(None, start, start + rng.choice([30, 60, 90, 120]) * MINUTE, tz))
    working = recurring(workdays, local(tz, 1, 1, 9), 8 * 60)
    return events, working


def expand_all(
    people: list[tuple[list[Event], Event]],
) -> tuple[list[list[Interval]], list[list[Interval]]]:
    busy = [[(s, e) for event in events for s, e, _ in occurrences(event)] for events, _ in people]
    working = [[(s, e) for s, e, _ in occurrences(hours)] for _, hours in people]
    return busy, working


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """(median, max) wall time in milliseconds over ``repeat`` runs, and the last result."""
    runs = []
    result: T
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs), result


def main() -> None:
    people = [person_events(i) for i in range(len(ZONES))]
    events = sum(len(events) + 1 for events, _ in people)
    median, worst, (busy, working) = timed(lambda: expand_all(people), repeat=5)
    busy_count = sum(map(len, busy))
    working_count = sum(map(len, working))
    print(
        f"expand: {len(people)} people, {events} events (rules and one-offs) over 2027 -> "
        f"{busy_count} busy + {working_count} working intervals; "
        f"median {median:.1f} ms (max {worst:.1f})"
    )
    # All ten share 2 working hours a day (3 on the 15 workdays when North America is on summer
    # time and Europe is not), and ten full calendars fill every one of them; the smaller groups
    # of the first people, all in Europe, share more.
    for size in (2, 5, len(people)):
        for limit in (10, 100_000):
            median, worst, found = timed(
                lambda size=size, limit=limit: free_intervals(
                    busy_by_person=busy[:size],
                    working_by_person=working[:size],
                    start=YEAR_START,
                    end=YEAR_END,
                    min_length=30 * MINUTE,
                    limit=limit,
                ),
                repeat=20,
            )
            first = ", ".join(f"{s:%m-%d %H:%M}-{e:%H:%M}" for s, e in found[:2]) or "none"
            print(
                f"free_intervals, {size:>2} people, >= 30 min, limit {limit:>6}: "
                f"{len(found):>4} intervals (first {first} UTC); "
                f"median {median:.1f} ms (max {worst:.1f})"
            )


if __name__ == "__main__":
    main()
