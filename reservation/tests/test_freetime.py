"""Tests for the common free time of several people in reservation.freetime (no database)."""

import time as clock
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reservation.freetime import Interval, free_intervals

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


D = 2027, 6, 1  # a Tuesday, in CEST (UTC+2) and EDT (UTC-4)
DAY_START, DAY_END = utc(*D), utc(*D) + DAY


def free(
    busy: Sequence[Sequence[Interval]],
    working: Sequence[Sequence[Interval]] | None = None,
    *,
    start: datetime = DAY_START,
    end: datetime = DAY_END,
    min_length: timedelta = timedelta(0),
    limit: int = 100,
) -> list[Interval]:
    return free_intervals(
        busy_by_person=busy,
        working_by_person=working,
        start=start,
        end=end,
        min_length=min_length,
        limit=limit,
    )


# --- examples ---------------------------------------------------------------------------------


def test_two_people_with_interleaved_meetings() -> None:
    alice = [(utc(*D, 9), utc(*D, 10)), (utc(*D, 11), utc(*D, 12)), (utc(*D, 15), utc(*D, 16))]
    bob = [(utc(*D, 9, 30), utc(*D, 10, 30)), (utc(*D, 13), utc(*D, 14))]
    working = [[(utc(*D, 8), utc(*D, 17))]] * 2
    assert free([alice, bob], working) == [
        (utc(*D, 8), utc(*D, 9)),
        (utc(*D, 10, 30), utc(*D, 11)),
        (utc(*D, 12), utc(*D, 13)),
        (utc(*D, 14), utc(*D, 15)),
        (utc(*D, 16), utc(*D, 17)),
    ]


def test_working_hours_in_two_zones_overlap_two_hours() -> None:
    # 09-17 in Berlin is 07-15 UTC; 09-17 in New York is 13-21 UTC: both work 13-15 UTC.
    berlin = [(datetime(*D, 9, tzinfo=BERLIN), datetime(*D, 17, tzinfo=BERLIN))]
    new_york = [(datetime(*D, 9, tzinfo=NEW_YORK), datetime(*D, 17, tzinfo=NEW_YORK))]
    result = free([[], []], [berlin, new_york])
    assert result == [(utc(*D, 13), utc(*D, 15))]
    assert result[0][0].tzinfo is UTC
    # A meeting in New York's morning leaves the last hour.
    meeting = [(datetime(*D, 8, 30, tzinfo=NEW_YORK), datetime(*D, 10, tzinfo=NEW_YORK))]
    assert free([[], meeting], [berlin, new_york]) == [(utc(*D, 14), utc(*D, 15))]


def test_min_length_drops_short_gaps_only() -> None:
    busy = [[(utc(*D, 9), utc(*D, 10)), (utc(*D, 10, 20), utc(*D, 11)), (utc(*D, 12), utc(*D, 23))]]
    assert free(busy, start=utc(*D, 9), min_length=30 * MINUTE) == [
        (utc(*D, 11), utc(*D, 12)),
        (utc(*D, 23), DAY_END),
    ]
    # Exactly min_length long is long enough.
    assert free(busy, start=utc(*D, 9), min_length=HOUR) == [
        (utc(*D, 11), utc(*D, 12)),
        (utc(*D, 23), DAY_END),
    ]
    assert free(busy, start=utc(*D, 9), min_length=HOUR + MINUTE) == []


def test_limit_keeps_the_earliest() -> None:
    busy = [[(utc(*D, h), utc(*D, h, 30)) for h in range(24)]]
    assert free(busy, limit=3) == [
        (utc(*D, 0, 30), utc(*D, 1)),
        (utc(*D, 1, 30), utc(*D, 2)),
        (utc(*D, 2, 30), utc(*D, 3)),
    ]
    assert len(free(busy, limit=100)) == 24


def test_touching_busy_intervals_leave_no_gap() -> None:
    alice = [(utc(*D, 9), utc(*D, 10)), (utc(*D, 11), utc(*D, 12))]
    bob = [(utc(*D, 10), utc(*D, 11))]
    assert free([alice, bob], start=utc(*D, 9), end=utc(*D, 13)) == [(utc(*D, 12), utc(*D, 13))]
    # Touching working intervals of one person are one stretch of working time.
    working = [[(utc(*D, 9), utc(*D, 10)), (utc(*D, 10), utc(*D, 11))]]
    assert free([[]], working) == [(utc(*D, 9), utc(*D, 11))]


def test_empty_input_is_the_whole_range() -> None:
    assert free([]) == [(DAY_START, DAY_END)]
    assert free([[], []]) == [(DAY_START, DAY_END)]
    assert free([], []) == [(DAY_START, DAY_END)]  # nobody whose working time could limit it


def test_a_person_without_working_time_is_never_free() -> None:
    assert free([[], []], [[(DAY_START, DAY_END)], []]) == []


def test_intervals_are_clipped_to_the_range_and_may_come_unsorted_or_empty() -> None:
    busy = [
        [
            (utc(*D, 20), utc(*D, 23)),
            (utc(*D, 5), utc(*D, 5)),  # empty
            (utc(*D, 7), utc(*D, 6)),  # reversed, so empty
            (DAY_START - DAY, utc(*D, 3)),  # reaches in from before
            (utc(*D, 22), DAY_END + DAY),  # reaches out past the end
            (DAY_START - 2 * DAY, DAY_START - DAY),  # wholly before
        ]
    ]
    assert free(busy) == [(utc(*D, 3), utc(*D, 20))]
    # A free interval cut by the range's edges still counts.
    assert free([[]], start=utc(*D, 9), end=utc(*D, 9, 10), min_length=10 * MINUTE) == [
        (utc(*D, 9), utc(*D, 9, 10))
    ]


def test_empty_or_reversed_range_is_empty() -> None:
    assert free([], start=DAY_END, end=DAY_START) == []
    assert free([], start=DAY_START, end=DAY_START) == []


@pytest.mark.parametrize("which", ["start", "end", "busy", "working"])
def test_naive_datetimes_are_rejected(which: str) -> None:
    naive = datetime(*D, 9)  # noqa: DTZ001
    busy = [[(naive, naive + HOUR)]] if which == "busy" else [[]]
    working = [[(naive, naive + HOUR)]] if which == "working" else None
    bounds = {"start": DAY_START, "end": DAY_END, which: naive}
    with pytest.raises(ValueError, match="timezone-aware"):
        free(busy, working, start=bounds["start"], end=bounds["end"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_length": -MINUTE}, "min_length"),
        ({"limit": 0}, "limit"),
        ({"working": [[], []]}, "working_by_person has 2 people, busy_by_person 1"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"busy": [[]], **kwargs}
    with pytest.raises(ValueError, match=message):
        free(**arguments)  # type: ignore[arg-type]


def test_ten_people_over_a_year_is_fast() -> None:
    start = utc(2027, 1, 1)
    end = utc(2028, 1, 1)
    busy: list[list[Interval]] = []
    working: list[list[Interval]] = []
    for person in range(10):
        # 3,000 half-hour meetings spread over the year (every 175 minutes, shifted per person).
        first = start + person * 17 * MINUTE
        busy.append(
            [(first + k * 175 * MINUTE, first + (k * 175 + 30) * MINUTE) for k in range(3000)]
        )
        # 08:00-18:00 UTC every day, shifted by an hour for the odd ones.
        shift = (person % 2) * HOUR
        working.append(
            [
                (start + d * DAY + 8 * HOUR + shift, start + d * DAY + 18 * HOUR + shift)
                for d in range(365)
            ]
        )
    began = clock.perf_counter()
    result = free(busy, working, start=start, end=end, min_length=30 * MINUTE, limit=10**6)
    elapsed = clock.perf_counter() - began
    assert result  # common time remains between the meetings
    for s, e in result:
        assert e - s >= 30 * MINUTE
        midnight = s.replace(hour=0, minute=0)
        assert midnight + 9 * HOUR <= s  # everyone works 09-18 UTC
        assert e <= midnight + 18 * HOUR
    assert elapsed < 1.0, f"free_intervals took {elapsed:.3f}s"


# --- hypothesis -------------------------------------------------------------------------------

BASE = utc(2027, 3, 26)  # Berlin changes to summer time on the 28th, New York is already on it
SPAN = 3 * 24 * 60  # minutes
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)
ZONES = [UTC, BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata")]


@st.composite
def intervals(draw: st.DrawFn, *, max_length: int) -> Interval:
    """A minute-aligned interval (possibly empty or reversed) written in some zone."""
    offset = draw(st.integers(-120, SPAN + 120))
    length = draw(st.integers(-30, max_length))
    zone = draw(st.sampled_from(ZONES))
    return (
        (BASE + offset * MINUTE).astimezone(zone),
        (BASE + (offset + length) * MINUTE).astimezone(zone),
    )


def minutes_of(items: Sequence[Interval]) -> set[int]:
    covered: set[int] = set()
    for s, e in items:
        covered.update(range((s - BASE) // MINUTE, (e - BASE) // MINUTE))
    return covered


def brute_force(
    busy: Sequence[Sequence[Interval]],
    working: Sequence[Sequence[Interval]] | None,
    start: int,
    end: int,
    min_length: int,
    limit: int,
) -> list[Interval]:
    """Every minute of [start, end) marked free or busy; maximal free runs of min_length or more."""
    busy_minutes = minutes_of([i for person in busy for i in person])
    working_minutes = [minutes_of(person) for person in working] if working is not None else []

    def is_free(minute: int) -> bool:
        return minute not in busy_minutes and all(minute in w for w in working_minutes)

    runs: list[Interval] = []
    run_start: int | None = None
    for minute in range(start, end + 1):
        if minute < end and is_free(minute):
            if run_start is None:
                run_start = minute
        elif run_start is not None:
            if minute - run_start >= max(min_length, 1):
                runs.append((BASE + run_start * MINUTE, BASE + minute * MINUTE))
            run_start = None
    return runs[:limit]


people = st.integers(1, 4)
# The whole span often, so that runs of free time are many and long.
ranges = st.one_of(
    st.just((-60, SPAN + 60)),
    st.tuples(st.integers(-60, SPAN + 60), st.integers(-60, SPAN + 60)),
)


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    count=people,
    with_working=st.booleans(),
    bounds=ranges,
    min_length=st.integers(0, 180),
    limit=st.integers(1, 8),
)
def test_matches_a_minute_grid(
    data: st.DataObject,
    count: int,
    with_working: bool,
    bounds: tuple[int, int],
    min_length: int,
    limit: int,
) -> None:
    busy = [data.draw(st.lists(intervals(max_length=300), max_size=12)) for _ in range(count)]
    working = (
        [data.draw(st.lists(intervals(max_length=2400), max_size=6)) for _ in range(count)]
        if with_working
        else None
    )
    start, end = sorted(bounds)
    result = free(
        busy,
        working,
        start=BASE + start * MINUTE,
        end=BASE + end * MINUTE,
        min_length=min_length * MINUTE,
        limit=limit,
    )
    assert result == brute_force(busy, working, start, end, min_length, limit)
    for s, e in result:
        assert s.tzinfo is UTC
        assert e.tzinfo is UTC
