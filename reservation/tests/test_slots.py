"""Tests for the pure time arithmetic in reservation.slots (no database)."""

import itertools
import time as clock
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reservation.slots import (
    Interval,
    SlotRules,
    WeeklyHours,
    availability,
    compute_slots,
    expand_weekly,
    intersect,
    is_bookable,
    merge,
    subtract,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def rules(
    *,
    slot_length: int = 30,
    step: int = 30,
    min_notice: int = 0,
    horizon: int = 365 * 24 * 60,
    buffer_before: int = 0,
    buffer_after: int = 0,
) -> SlotRules:
    """SlotRules with every duration given in minutes."""
    return SlotRules(
        slot_length=slot_length * MINUTE,
        step=step * MINUTE,
        min_notice=min_notice * MINUTE,
        horizon=horizon * MINUTE,
        buffer_before=buffer_before * MINUTE,
        buffer_after=buffer_after * MINUTE,
    )


def every_day(start: time, end: time) -> list[WeeklyHours]:
    return [WeeklyHours(weekday=d, start=start, end=end) for d in range(7)]


# --- merge / subtract / intersect: examples ---------------------------------------------------


def test_merge_joins_touching_and_overlapping_and_drops_empty() -> None:
    d = 2026, 6, 1
    result = merge(
        [
            (utc(*d, 12), utc(*d, 13)),
            (utc(*d, 9), utc(*d, 10)),
            (utc(*d, 15), utc(*d, 15)),  # empty
            (utc(*d, 16), utc(*d, 15)),  # reversed, so empty
            (utc(*d, 10), utc(*d, 11)),  # touches 9-10
            (utc(*d, 12, 30), utc(*d, 14)),  # overlaps 12-13
            (utc(*d, 8), utc(*d, 8, 30)),
            (utc(*d, 12, 15), utc(*d, 12, 45)),  # inside 12-14
        ]
    )
    assert result == [
        (utc(*d, 8), utc(*d, 8, 30)),
        (utc(*d, 9), utc(*d, 11)),
        (utc(*d, 12), utc(*d, 14)),
    ]


def test_merge_normalises_aware_input_to_utc() -> None:
    start = datetime(2026, 6, 1, 9, tzinfo=BERLIN)
    result = merge([(start, start + HOUR)])
    assert result == [(utc(2026, 6, 1, 7), utc(2026, 6, 1, 8))]
    assert result[0][0].tzinfo is UTC


def test_merge_of_nothing_is_empty() -> None:
    assert merge([]) == []


def test_subtract_splits_and_trims() -> None:
    d = 2026, 6, 1
    result = subtract(
        [(utc(*d, 9), utc(*d, 17)), (utc(*d, 18), utc(*d, 20))],
        [
            (utc(*d, 10), utc(*d, 11)),
            (utc(*d, 12), utc(*d, 13)),
            (utc(*d, 16, 30), utc(*d, 18, 30)),  # trims both base intervals
            (utc(*d, 19), utc(*d, 19)),  # empty: removes nothing
        ],
    )
    assert result == [
        (utc(*d, 9), utc(*d, 10)),
        (utc(*d, 11), utc(*d, 12)),
        (utc(*d, 13), utc(*d, 16, 30)),
        (utc(*d, 18, 30), utc(*d, 20)),
    ]


def test_subtract_touching_removal_keeps_everything() -> None:
    d = 2026, 6, 1
    base = [(utc(*d, 9), utc(*d, 17))]
    remove = [(utc(*d, 8), utc(*d, 9)), (utc(*d, 17), utc(*d, 18))]
    assert subtract(base, remove) == base


def test_subtract_covering_removal_leaves_nothing() -> None:
    d = 2026, 6, 1
    assert subtract([(utc(*d, 9), utc(*d, 10))], [(utc(*d, 8), utc(*d, 11))]) == []


def test_intersect() -> None:
    d = 2026, 6, 1
    a = [(utc(*d, 9), utc(*d, 12)), (utc(*d, 14), utc(*d, 18))]
    b = [(utc(*d, 11), utc(*d, 15)), (utc(*d, 17), utc(*d, 19))]
    assert intersect(a, b) == [
        (utc(*d, 11), utc(*d, 12)),
        (utc(*d, 14), utc(*d, 15)),
        (utc(*d, 17), utc(*d, 18)),
    ]


def test_naive_interval_is_rejected() -> None:
    naive = datetime(2026, 6, 1, 9, tzinfo=UTC).replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        merge([(naive, naive + HOUR)])


# --- expand_weekly: examples ------------------------------------------------------------------


def test_expand_weekly_berlin_dst_start_keeps_local_hours() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST; the UTC offset goes from +1 to +2.
    result = expand_weekly(every_day(time(9), time(17)), BERLIN, utc(2026, 3, 28), utc(2026, 3, 31))
    assert result == [
        (utc(2026, 3, 28, 8), utc(2026, 3, 28, 16)),
        (utc(2026, 3, 29, 7), utc(2026, 3, 29, 15)),
        (utc(2026, 3, 30, 7), utc(2026, 3, 30, 15)),
    ]


def test_expand_weekly_berlin_gap_resolves_forward() -> None:
    # 02:30 does not exist on 2026-03-29; fold=0 reads it with +01:00, i.e. 03:30 CEST.
    shift = WeeklyHours(weekday=6, start=time(2, 30), end=time(4))
    result = expand_weekly([shift], BERLIN, utc(2026, 3, 28), utc(2026, 3, 31))
    assert result == [(utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2))]


def test_expand_weekly_berlin_dst_end_keeps_local_hours() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET; the UTC offset goes from +2 to +1.
    result = expand_weekly(
        every_day(time(9), time(17)), BERLIN, utc(2026, 10, 24), utc(2026, 10, 26)
    )
    assert result == [
        (utc(2026, 10, 24, 7), utc(2026, 10, 24, 15)),
        (utc(2026, 10, 25, 8), utc(2026, 10, 25, 16)),
    ]


def test_expand_weekly_berlin_ambiguous_uses_fold_zero() -> None:
    # 02:30 happens twice on 2026-10-25; fold=0 is the first (CEST), 03:30 is CET: two hours.
    shift = WeeklyHours(weekday=6, start=time(2, 30), end=time(3, 30))
    result = expand_weekly([shift], BERLIN, utc(2026, 10, 24), utc(2026, 10, 26))
    assert result == [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 30))]


def test_expand_weekly_overnight_shift_across_dst_start_is_seven_hours() -> None:
    shift = WeeklyHours(weekday=5, start=time(22), end=time(6))  # Saturday night
    result = expand_weekly([shift], BERLIN, utc(2026, 3, 28), utc(2026, 3, 31))
    assert result == [(utc(2026, 3, 28, 21), utc(2026, 3, 29, 4))]


def test_expand_weekly_overnight_shift_across_dst_end_is_nine_hours() -> None:
    shift = WeeklyHours(weekday=5, start=time(22), end=time(6))
    result = expand_weekly([shift], BERLIN, utc(2026, 10, 24), utc(2026, 10, 26))
    assert result == [(utc(2026, 10, 24, 20), utc(2026, 10, 25, 5))]


def test_expand_weekly_overnight_shift_from_day_before_range_is_clipped() -> None:
    # Friday 2026-06-05 22:00 CEST to Saturday 06:00 CEST; the range starts Saturday 00:00 CEST.
    shift = WeeklyHours(weekday=4, start=time(22), end=time(6))
    start = datetime(2026, 6, 6, tzinfo=BERLIN)
    result = expand_weekly([shift], BERLIN, start, start + DAY)
    assert result == [(utc(2026, 6, 5, 22), utc(2026, 6, 6, 4))]


def test_expand_weekly_new_york_dst_start_and_end() -> None:
    weekdays = [WeeklyHours(weekday=d, start=time(9), end=time(17)) for d in range(5)]
    # Spring forward on Sunday 2026-03-08: Friday is EST (-5), Monday EDT (-4).
    assert expand_weekly(weekdays, NEW_YORK, utc(2026, 3, 6), utc(2026, 3, 10)) == [
        (utc(2026, 3, 6, 14), utc(2026, 3, 6, 22)),
        (utc(2026, 3, 9, 13), utc(2026, 3, 9, 21)),
    ]
    # Fall back on Sunday 2026-11-01: Friday is EDT, Monday EST.
    assert expand_weekly(weekdays, NEW_YORK, utc(2026, 10, 30), utc(2026, 11, 3)) == [
        (utc(2026, 10, 30, 13), utc(2026, 10, 30, 21)),
        (utc(2026, 11, 2, 14), utc(2026, 11, 2, 22)),
    ]


def test_expand_weekly_full_day_shift_merges_with_touching_next_day() -> None:
    hours = [
        WeeklyHours(weekday=0, start=time(0), end=time(0)),  # all of Monday
        WeeklyHours(weekday=1, start=time(0), end=time(12)),
    ]
    result = expand_weekly(hours, ZoneInfo("UTC"), utc(2026, 6, 1), utc(2026, 6, 8))
    assert result == [(utc(2026, 6, 1), utc(2026, 6, 2, 12))]


def test_expand_weekly_clips_to_range() -> None:
    result = expand_weekly(
        every_day(time(9), time(17)),
        ZoneInfo("UTC"),
        utc(2026, 6, 1, 12),
        utc(2026, 6, 2, 10),
    )
    assert result == [
        (utc(2026, 6, 1, 12), utc(2026, 6, 1, 17)),
        (utc(2026, 6, 2, 9), utc(2026, 6, 2, 10)),
    ]


def test_expand_weekly_rejects_bad_weekday() -> None:
    with pytest.raises(ValueError, match="weekday"):
        expand_weekly(
            [WeeklyHours(weekday=7, start=time(9), end=time(17))],
            BERLIN,
            utc(2026, 6, 1),
            utc(2026, 6, 2),
        )


def test_availability_combines_windows_weekly_and_time_off() -> None:
    # Monday 2026-06-01, Berlin is CEST (+2): Monday 09-12 local is 07-10 UTC.
    result = availability(
        windows=[
            (utc(2026, 6, 2, 8), utc(2026, 6, 2, 10)),
            (
                utc(2026, 6, 5, 10),
                utc(2026, 6, 5, 11),
            ),  # outside the range: not clipped
        ],
        weekly=[WeeklyHours(weekday=0, start=time(9), end=time(12))],
        tz=BERLIN,
        time_off=[(utc(2026, 6, 1, 8), utc(2026, 6, 1, 9))],
        start=utc(2026, 6, 1),
        end=utc(2026, 6, 3),
    )
    assert result == [
        (utc(2026, 6, 1, 7), utc(2026, 6, 1, 8)),
        (utc(2026, 6, 1, 9), utc(2026, 6, 1, 10)),
        (utc(2026, 6, 2, 8), utc(2026, 6, 2, 10)),
        (utc(2026, 6, 5, 10), utc(2026, 6, 5, 11)),
    ]


# --- compute_slots / is_bookable: examples ----------------------------------------------------

NOW = utc(2026, 6, 1, 12)
WIDE = {"start": utc(2026, 1, 1), "end": utc(2027, 1, 1)}


def test_notice_boundary_excludes_23h59_and_includes_24h() -> None:
    avail = [(utc(2026, 6, 2, 11, 59), utc(2026, 6, 2, 12, 30))]
    result = compute_slots(
        availability=avail,
        busy=[],
        rules=rules(slot_length=30, step=1, min_notice=24 * 60),
        now=NOW,
        **WIDE,
    )
    assert result == [(utc(2026, 6, 2, 12), utc(2026, 6, 2, 12, 30))]


def test_horizon_boundary_is_inclusive() -> None:
    # now + 30 days = 2026-07-01 12:00: a slot starting then is offered, 12:30 is not.
    avail = [(utc(2026, 7, 1, 11, 30), utc(2026, 7, 1, 13))]
    result = compute_slots(
        availability=avail, busy=[], rules=rules(horizon=30 * 24 * 60), now=NOW, **WIDE
    )
    assert result == [
        (utc(2026, 7, 1, 11, 30), utc(2026, 7, 1, 12)),
        (utc(2026, 7, 1, 12), utc(2026, 7, 1, 12, 30)),
    ]


def test_buffers_touching_busy_are_fine() -> None:
    d = 2026, 6, 3
    result = compute_slots(
        availability=[(utc(*d, 9), utc(*d, 12))],
        busy=[(utc(*d, 10, 15), utc(*d, 10, 45))],
        rules=rules(slot_length=60, step=60, buffer_before=15, buffer_after=15),
        now=NOW,
        **WIDE,
    )
    # 09:00 buffered to 10:15 and 11:00 buffered from 10:45 just touch the booking.
    assert result == [(utc(*d, 9), utc(*d, 10)), (utc(*d, 11), utc(*d, 12))]


def test_unequal_buffers_protect_existing_bookings_whichever_came_first() -> None:
    # No buffer before, 30 minutes after: a booking 10:00-11:00 keeps 11:00-11:30 free, and a
    # new slot needs 30 free minutes after it, so one ending at 10:00 is refused too.
    d = 2026, 6, 3
    r = rules(slot_length=60, step=30, buffer_before=0, buffer_after=30)
    avail = [(utc(*d, 8), utc(*d, 14))]

    after_10 = compute_slots(
        availability=avail, busy=[(utc(*d, 10), utc(*d, 11))], rules=r, now=NOW, **WIDE
    )
    after_1130 = compute_slots(
        availability=avail, busy=[(utc(*d, 11, 30), utc(*d, 12, 30))], rules=r, now=NOW, **WIDE
    )

    assert [s for s, _ in after_10] == [
        utc(*d, 8),
        utc(*d, 8, 30),
        utc(*d, 11, 30),
        utc(*d, 12),
        utc(*d, 12, 30),
        utc(*d, 13),
    ]
    # Booked the other way round, the same pair is allowed: 10:00-11:00 then 11:30-12:30.
    assert (utc(*d, 10), utc(*d, 11)) in after_1130
    assert (utc(*d, 10, 30), utc(*d, 11, 30)) not in after_1130


def test_buffers_overlapping_busy_by_a_minute_reject() -> None:
    d = 2026, 6, 3
    result = compute_slots(
        availability=[(utc(*d, 9), utc(*d, 12))],
        busy=[(utc(*d, 10, 14), utc(*d, 10, 46))],
        rules=rules(slot_length=60, step=60, buffer_before=15, buffer_after=15),
        now=NOW,
        **WIDE,
    )
    assert result == []


def test_step_smaller_than_length_gives_overlapping_candidates() -> None:
    d = 2026, 6, 3
    result = compute_slots(
        availability=[(utc(*d, 9), utc(*d, 11))],
        busy=[],
        rules=rules(slot_length=60, step=30),
        now=NOW,
        **WIDE,
    )
    assert result == [
        (utc(*d, 9), utc(*d, 10)),
        (utc(*d, 9, 30), utc(*d, 10, 30)),
        (utc(*d, 10), utc(*d, 11)),
    ]


def test_busy_in_the_middle() -> None:
    d = 2026, 6, 3
    result = compute_slots(
        availability=[(utc(*d, 9), utc(*d, 13))],
        busy=[(utc(*d, 10, 30), utc(*d, 11))],
        rules=rules(slot_length=60, step=30),
        now=NOW,
        **WIDE,
    )
    assert result == [
        (utc(*d, 9), utc(*d, 10)),
        (utc(*d, 9, 30), utc(*d, 10, 30)),
        (utc(*d, 11), utc(*d, 12)),
        (utc(*d, 11, 30), utc(*d, 12, 30)),
        (utc(*d, 12), utc(*d, 13)),
    ]


def test_grid_is_anchored_at_availability_start_not_query_start() -> None:
    d = 2026, 6, 3
    result = compute_slots(
        availability=[(utc(*d, 9, 10), utc(*d, 12))],
        busy=[],
        rules=rules(),
        now=NOW,
        start=utc(*d, 10),
        end=utc(*d, 12),
    )
    assert result == [
        (utc(*d, 10, 10), utc(*d, 10, 40)),
        (utc(*d, 10, 40), utc(*d, 11, 10)),
        (utc(*d, 11, 10), utc(*d, 11, 40)),
    ]


def test_grid_is_anchored_at_merged_availability_start() -> None:
    d = 2026, 6, 3
    result = compute_slots(
        availability=[(utc(*d, 10), utc(*d, 11)), (utc(*d, 9), utc(*d, 10))],
        busy=[],
        rules=rules(slot_length=45, step=45),
        now=NOW,
        **WIDE,
    )
    assert result == [(utc(*d, 9), utc(*d, 9, 45)), (utc(*d, 9, 45), utc(*d, 10, 30))]


def test_query_end_filters_slots_that_would_overrun_it() -> None:
    d = 2026, 6, 3
    result = compute_slots(
        availability=[(utc(*d, 9), utc(*d, 12))],
        busy=[],
        rules=rules(),
        now=NOW,
        start=utc(*d, 9),
        end=utc(*d, 10, 15),
    )
    assert result == [(utc(*d, 9), utc(*d, 9, 30)), (utc(*d, 9, 30), utc(*d, 10))]


def test_non_utc_aware_inputs_give_utc_slots() -> None:
    start = datetime(2026, 6, 3, 11, tzinfo=BERLIN)  # 09:00 UTC
    result = compute_slots(
        availability=[(start, start + HOUR)],
        busy=[],
        rules=rules(min_notice=24 * 60),
        now=datetime(2026, 6, 2, 11, 15, tzinfo=BERLIN),  # 09:15 UTC: 09:00 is too soon
        **WIDE,
    )
    assert result == [(utc(2026, 6, 3, 9, 30), utc(2026, 6, 3, 10))]
    assert result[0][0].tzinfo is UTC


def test_is_bookable_matches_offered_slots() -> None:
    d = 2026, 6, 3
    avail = [(utc(*d, 9), utc(*d, 11))]
    busy = [(utc(*d, 10), utc(*d, 10, 30))]
    kwargs = {"availability": avail, "busy": busy, "rules": rules(), "now": NOW}
    assert is_bookable(start_at=utc(*d, 9), **kwargs)
    assert is_bookable(start_at=utc(*d, 9, 30), **kwargs)
    assert not is_bookable(start_at=utc(*d, 10), **kwargs)  # busy
    assert not is_bookable(start_at=utc(*d, 9, 15), **kwargs)  # off the grid
    assert not is_bookable(start_at=utc(*d, 10, 45), **kwargs)  # would overrun availability
    assert is_bookable(start_at=utc(*d, 10, 30), **kwargs)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("slot_length", "slot_length"),
        ("step", "step"),
    ],
)
def test_non_positive_length_or_step_is_rejected(field: str, message: str) -> None:
    bad = {"slot_length": 30, "step": 30, field: 0}
    with pytest.raises(ValueError, match=message):
        compute_slots(
            availability=[],
            busy=[],
            rules=rules(**bad),
            now=NOW,
            start=NOW,
            end=NOW + DAY,
        )


def test_negative_buffer_is_rejected() -> None:
    with pytest.raises(ValueError, match="buffer"):
        compute_slots(
            availability=[],
            busy=[],
            rules=rules(buffer_before=-5),
            now=NOW,
            start=NOW,
            end=NOW + DAY,
        )


@pytest.mark.parametrize("which", ["now", "start", "end", "availability", "busy"])
def test_naive_datetimes_are_rejected(which: str) -> None:
    naive = NOW.replace(tzinfo=None)
    kwargs = {
        "availability": [(NOW, NOW + HOUR)],
        "busy": [(NOW, NOW + HOUR)],
        "now": NOW,
        "start": NOW,
        "end": NOW + DAY,
    }
    kwargs[which] = [(naive, naive + HOUR)] if which in {"availability", "busy"} else naive
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_slots(rules=rules(), **kwargs)


def test_sixty_two_days_of_five_minute_steps_with_thousands_of_bookings_is_fast() -> None:
    start = utc(2026, 6, 1)
    end = start + 62 * DAY  # 89,280 minutes: 17,856 five-minute candidates
    # A 10-minute booking every 25 minutes: 3,572 busy intervals, the last one reaching past end.
    busy = [(start + 25 * k * MINUTE, start + (25 * k + 10) * MINUTE) for k in range(3572)]
    began = clock.perf_counter()
    result = compute_slots(
        availability=[(start, end)],
        busy=busy,
        rules=rules(slot_length=5, step=5, horizon=100 * 24 * 60, buffer_before=5, buffer_after=5),
        now=start,
        start=start,
        end=end,
    )
    elapsed = clock.perf_counter() - began
    # Buffered [b+10, b+25) touches both neighbours; any other offset overlaps one of them.
    assert result == [
        (start + (25 * k + 15) * MINUTE, start + (25 * k + 20) * MINUTE) for k in range(3571)
    ]
    assert elapsed < 2.0, f"compute_slots took {elapsed:.3f}s"


# --- hypothesis -------------------------------------------------------------------------------

BASE = utc(2026, 3, 1)
SPAN = 4 * 7 * 24 * 60  # minutes
SMALL_SPAN = 2000
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
]


def minutes(low: int, high: int) -> st.SearchStrategy[timedelta]:
    return st.integers(low, high).map(lambda m: m * MINUTE)


@st.composite
def intervals(
    draw: st.DrawFn,
    *,
    span: int = SPAN,
    max_length: int = 600,
    allow_empty: bool = False,
) -> Interval:
    offset = draw(st.integers(0, span))
    length = draw(st.integers(-60 if allow_empty else 1, max_length))
    return BASE + offset * MINUTE, BASE + (offset + length) * MINUTE


SLOT_SPAN = 7 * 24 * 60  # availability and bookings fall within one week, so they collide often
instants = st.integers(-DAY // MINUTE, SLOT_SPAN + DAY // MINUTE).map(lambda m: BASE + m * MINUTE)
nows = st.integers(-2 * DAY // MINUTE, 2 * DAY // MINUTE).map(lambda m: BASE + m * MINUTE)
small_interval_lists = st.lists(
    intervals(span=SMALL_SPAN, max_length=300, allow_empty=True), max_size=8
)
slot_rules = st.builds(
    SlotRules,
    slot_length=minutes(5, 240),
    step=minutes(5, 240),
    # Boundaries get drawn often; long horizons and short notices keep many examples non-empty.
    min_notice=st.one_of(minutes(0, 2 * 24 * 60), minutes(0, 120)),
    horizon=st.one_of(minutes(0, 10 * 24 * 60), minutes(10 * 24 * 60, 30 * 24 * 60)),
    buffer_before=minutes(0, 60),
    buffer_after=minutes(0, 60),
)
availability_lists = st.lists(intervals(span=SLOT_SPAN, max_length=24 * 60), min_size=1, max_size=4)
busy_lists = st.lists(intervals(span=SLOT_SPAN, max_length=240, allow_empty=True), max_size=20)
WIDE_RANGE = (BASE - 7 * DAY, BASE + 3 * SLOT_SPAN * MINUTE)
query_ranges = st.one_of(st.tuples(instants, instants), st.just(WIDE_RANGE))


def minute_set(items: Iterable[Interval]) -> set[int]:
    covered: set[int] = set()
    for start, end in items:
        covered.update(range((start - BASE) // MINUTE, (end - BASE) // MINUTE))
    return covered


def assert_merged(items: list[Interval]) -> None:
    """Sorted, non-empty, neither overlapping nor touching."""
    for start, end in items:
        assert start < end
        assert start.tzinfo is UTC
        assert end.tzinfo is UTC
    for (_, prev_end), (next_start, _) in itertools.pairwise(items):
        assert prev_end < next_start


def sample(items: list[Interval], count: int = 30) -> list[Interval]:
    return items[:: max(1, len(items) // count)]


def grid_points(avail: list[Interval], slot_rules_: SlotRules) -> list[Interval]:
    """Every candidate slot of the merged availability, regardless of notice, busy or range."""
    points: list[Interval] = []
    for a, b in merge(avail):
        s = a
        while s + slot_rules_.slot_length <= b:
            points.append((s, s + slot_rules_.slot_length))
            s += slot_rules_.step
    return points


def brute_force_slots(
    avail: list[Interval],
    busy: list[Interval],
    r: SlotRules,
    now: datetime,
    start: datetime,
    end: datetime,
) -> list[Interval]:
    """The rules read literally: every grid point, every busy interval."""
    kept: list[Interval] = []
    for s, e in grid_points(avail, r):
        lo, hi = s - r.buffer_before, e + r.buffer_after
        # The new slot keeps its own buffers free, and every booking keeps its buffers free.
        if (
            now + r.min_notice <= s <= now + r.horizon
            and start <= s
            and e <= end
            and not any(b_start < hi and lo < b_end for b_start, b_end in busy if b_start < b_end)
            and not any(
                b_start - r.buffer_before < e and s < b_end + r.buffer_after
                for b_start, b_end in busy
                if b_start < b_end
            )
        ):
            kept.append((s, e))
    return kept


@PROPERTY_SETTINGS
@given(small_interval_lists)
def test_merge_is_canonical_and_covers_the_same_minutes(items: list[Interval]) -> None:
    result = merge(items)
    assert_merged(result)
    assert minute_set(result) == minute_set(items)
    assert merge(result) == result


@PROPERTY_SETTINGS
@given(small_interval_lists, small_interval_lists)
def test_subtract_and_intersect_match_brute_force(a: list[Interval], b: list[Interval]) -> None:
    difference = subtract(a, b)
    assert_merged(difference)
    assert minute_set(difference) == minute_set(a) - minute_set(b)
    common = intersect(a, b)
    assert_merged(common)
    assert minute_set(common) == minute_set(a) & minute_set(b)


@PROPERTY_SETTINGS
@given(
    avail=availability_lists,
    busy=busy_lists,
    r=slot_rules,
    now=nows,
    bounds=query_ranges,
)
def test_compute_slots_properties(
    avail: list[Interval],
    busy: list[Interval],
    r: SlotRules,
    now: datetime,
    bounds: tuple[datetime, datetime],
) -> None:
    start, end = sorted(bounds)
    result = compute_slots(availability=avail, busy=busy, rules=r, now=now, start=start, end=end)

    merged_avail = merge(avail)
    for s, e in result:
        assert e - s == r.slot_length
        assert start <= s
        assert e <= end
        assert any(a <= s and e <= b for a, b in merged_avail)
        assert now + r.min_notice <= s <= now + r.horizon
        buffered = (s - r.buffer_before, e + r.buffer_after)
        assert intersect([buffered], busy) == []
        bookings_buffered = [(b - r.buffer_before, c + r.buffer_after) for b, c in busy if b < c]
        assert intersect([(s, e)], bookings_buffered) == []
    assert result == sorted(result)
    assert len(set(result)) == len(result)
    assert result == brute_force_slots(avail, busy, r, now, start, end)


@PROPERTY_SETTINGS
@given(avail=availability_lists, busy=busy_lists, r=slot_rules, now=nows)
def test_narrow_query_agrees_with_wide_query(
    avail: list[Interval], busy: list[Interval], r: SlotRules, now: datetime
) -> None:
    wide = compute_slots(
        availability=avail,
        busy=busy,
        rules=r,
        now=now,
        start=WIDE_RANGE[0],
        end=WIDE_RANGE[1],
    )
    for s, e in sample(wide):
        narrow = compute_slots(availability=avail, busy=busy, rules=r, now=now, start=s, end=e)
        assert narrow == [(s, e)]
        assert is_bookable(start_at=s, availability=avail, busy=busy, rules=r, now=now)
    offered = set(wide)
    refused = [point for point in grid_points(avail, r) if point not in offered]
    for s, _ in sample(refused):
        assert not is_bookable(start_at=s, availability=avail, busy=busy, rules=r, now=now)


def in_gap(day: date, wall: time, tz: ZoneInfo) -> bool:
    """Whether the local wall-clock time does not exist on that day (spring-forward gap)."""
    local = datetime.combine(day, wall, tzinfo=tz)
    return local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None)


@PROPERTY_SETTINGS
@given(
    zone=st.sampled_from(ZONES),
    shift=st.builds(
        WeeklyHours,
        weekday=st.integers(0, 6),
        start=st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59])),
        end=st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59])),
    ),
    anchor=st.sampled_from([utc(2026, 3, 1), utc(2026, 9, 25)]),
    offset=st.integers(0, 14 * 24 * 60),
    length=st.integers(0, 21 * 24 * 60),
)
def test_expand_weekly_keeps_local_wall_clock_times(
    zone: str, shift: WeeklyHours, anchor: datetime, offset: int, length: int
) -> None:
    tz = ZoneInfo(zone)
    start = anchor + offset * MINUTE
    end = start + length * MINUTE
    result = expand_weekly([shift], tz, start, end)

    assert_merged(result)
    for s, e in result:
        assert start <= s
        assert e <= end
        if s != start:  # not clipped by the range
            local = s.astimezone(tz)
            if local.time() == shift.start:
                assert local.weekday() == shift.weekday
            else:
                assert in_gap(local.date(), shift.start, tz)
        if e != end:
            local = e.astimezone(tz)
            assert local.time() == shift.end or in_gap(local.date(), shift.end, tz)

    # Every occurrence that lies wholly inside the range is there, unclipped.
    day = start.astimezone(tz).date() + DAY
    while day < end.astimezone(tz).date() - DAY:
        if day.weekday() == shift.weekday:
            end_day = day if shift.end > shift.start else day + DAY
            occurrence = (
                datetime.combine(day, shift.start, tzinfo=tz).astimezone(UTC),
                datetime.combine(end_day, shift.end, tzinfo=tz).astimezone(UTC),
            )
            if occurrence[0] < occurrence[1] and occurrence[1] <= end:
                assert occurrence in result
        day += DAY
