"""Pure time arithmetic for availability and bookable slots: stdlib only, no ORM.

Every datetime is timezone-aware; results are in UTC. Intervals are half-open ``[start, end)``.
``compute_slots`` is the single validation path: listings call it over a wide range and
``is_bookable`` calls it over one slot, so the two cannot drift apart.
"""

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]

_ZERO = timedelta(0)
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class SlotRules:
    """How slots are cut out of availability and which of them may be booked."""

    slot_length: timedelta
    step: timedelta  # distance between consecutive slot starts
    min_notice: timedelta  # slot.start >= now + min_notice
    horizon: timedelta  # slot.start <= now + horizon
    buffer_before: timedelta  # free time kept before every booking
    buffer_after: timedelta  # free time kept after every booking


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """A recurring shift in a person's local zone; ``end <= start`` means it ends the next day."""

    weekday: int  # 0 = Monday .. 6 = Sunday, in the person's local zone
    start: time  # local wall-clock time
    end: time  # local; end <= start means the shift ends the next day (overnight)


def _utc(value: datetime, name: str) -> datetime:
    """Return ``value`` in UTC; naive datetimes are rejected rather than guessed."""
    if value.tzinfo is UTC:  # already so (most values, once merged): no conversion
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _ceil_div(numerator: timedelta, denominator: timedelta) -> int:
    """Ceiling of ``numerator / denominator`` for a positive denominator, in exact integers."""
    return -(-numerator // denominator)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted union; overlapping OR touching intervals merge; empty ones (end<=start) dropped."""
    items: list[Interval] = []
    append = items.append
    for raw_start, raw_end in intervals:
        # Inline: values already in UTC (most, and all once merged) need no call.
        start = raw_start if raw_start.tzinfo is UTC else _utc(raw_start, "interval start")
        end = raw_end if raw_end.tzinfo is UTC else _utc(raw_end, "interval end")
        if start < end:
            append((start, end))
    if not items:
        return items
    items.sort()
    merged: list[Interval] = []
    current_start, current_end = items[0]
    for start, end in items:
        if start <= current_end:
            if end > current_end:
                current_end = end
        else:
            merged.append((current_start, current_end))
            current_start, current_end = start, end
    merged.append((current_start, current_end))
    return merged


def subtract(base: Iterable[Interval], remove: Iterable[Interval]) -> list[Interval]:
    """merge(base) minus merge(remove); a sweep, O((n+m) log(n+m))."""
    kept = merge(base)
    removed = merge(remove)
    result: list[Interval] = []
    j = 0
    for start, end in kept:
        # Removals ending at or before this base interval cannot touch any later one either.
        while j < len(removed) and removed[j][1] <= start:
            j += 1
        cursor = start
        while j < len(removed) and removed[j][0] < end:
            r_start, r_end = removed[j]
            if r_start > cursor:
                result.append((cursor, r_start))
            cursor = max(cursor, r_end)
            if r_end > end:
                break  # this removal also reaches into the next base interval
            j += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """Intersection of two sets of intervals, merged."""
    left = merge(a)
    right = merge(b)
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            result.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    # Pieces of two merged (non-touching) sets never touch, but merging keeps the contract obvious.
    return merge(result)


def _local_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """UTC instant of a local wall-clock time; fold=0 in a gap (moves forward) and in an overlap."""
    local = datetime(
        day.year,
        day.month,
        day.day,
        wall.hour,
        wall.minute,
        wall.second,
        wall.microsecond,
        tzinfo=tz,
        fold=0,
    )
    return local.astimezone(UTC)


def expand_weekly(
    hours: Iterable[WeeklyHours], tz: ZoneInfo, start: datetime, end: datetime
) -> list[Interval]:
    """UTC intervals of the weekly hours, in zone tz, that overlap [start, end) (clipped), merged.

    A shift keeps its local wall-clock times across DST, so its UTC offset shifts. A start or
    end in a spring-forward gap resolves forward (fold=0 through UTC); an ambiguous one uses
    fold=0 (the earlier instant). A shift with ``end <= start`` on weekday d runs from d
    ``start`` to d+1 ``end`` (``end == start`` is a full 24 hours of wall-clock time).
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    by_weekday: dict[int, list[WeeklyHours]] = {}
    for shift in hours:
        if not 0 <= shift.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, got {shift.weekday}")
        if shift.start.tzinfo is not None or shift.end.tzinfo is not None:
            raise ValueError("weekly hours are local wall-clock times and must be naive")
        by_weekday.setdefault(shift.weekday, []).append(shift)
    if end <= start or not by_weekday:
        return []

    pieces: list[Interval] = []
    # A shift begun the day before the range (overnight) can still reach into it.
    day = start.astimezone(tz).date() - _DAY
    last_day = end.astimezone(tz).date()
    while day <= last_day:
        for shift in by_weekday.get(day.weekday(), ()):
            end_day = day if shift.end > shift.start else day + _DAY
            piece_start = max(_local_to_utc(day, shift.start, tz), start)
            piece_end = min(_local_to_utc(end_day, shift.end, tz), end)
            if piece_start < piece_end:
                pieces.append((piece_start, piece_end))
        day += _DAY
    return merge(pieces)


def availability(
    *,
    windows: Iterable[Interval],
    weekly: Iterable[WeeklyHours],
    tz: ZoneInfo,
    time_off: Iterable[Interval],
    start: datetime,
    end: datetime,
) -> list[Interval]:
    """(explicit windows ∪ weekly hours expanded over [start, end)) − time off, merged.

    Windows are not clipped (only weekly hours are expanded within [start, end)); callers pass
    windows overlapping their range.
    """
    expanded = expand_weekly(weekly, tz, start, end)
    return subtract([*windows, *expanded], time_off)


def _validate_rules(rules: SlotRules) -> None:
    if rules.slot_length <= _ZERO:
        raise ValueError(f"slot_length must be positive, got {rules.slot_length}")
    if rules.step <= _ZERO:
        raise ValueError(f"step must be positive, got {rules.step}")
    # A negative buffer would let a slot itself overlap a booking.
    if rules.buffer_before < _ZERO or rules.buffer_after < _ZERO:
        raise ValueError("buffer_before and buffer_after must not be negative")


def compute_slots(
    *,
    availability: Sequence[Interval],
    busy: Iterable[Interval],
    rules: SlotRules,
    now: datetime,
    start: datetime,
    end: datetime,
) -> list[Interval]:
    """Bookable slots lying inside [start, end), sorted by start.

    Candidate starts form a grid anchored at each merged availability interval's start, so
    whether a given slot is offered never depends on the query range except for filtering.

    Buffers hold for existing bookings and the new one alike: a slot after a booking must
    leave that booking's after-buffer and its own before-buffer free, so it starts at least
    max(before, after) after the booking ends (and ends that much before the next one
    starts). Free time is free time: the two buffers may share it. The result is the same
    whichever booking was made first.
    """
    _validate_rules(rules)
    now = _utc(now, "now")
    start = _utc(start, "start")
    end = _utc(end, "end")
    free = merge(availability)
    blocked = merge(busy)
    blocked_ends = [b_end for _, b_end in blocked]
    count = len(blocked)

    length = rules.slot_length
    step = rules.step
    gap = max(rules.buffer_before, rules.buffer_after)
    earliest = max(start, now + rules.min_notice)
    latest = min(now + rules.horizon, end - length)  # last allowed slot start, inclusive

    slots: list[Interval] = []
    if latest < earliest:
        return slots
    for a, b in free:
        last = min(latest, b - length)
        if last < max(a, earliest):
            continue
        s = a if a >= earliest else a + _ceil_div(earliest - a, step) * step
        while s <= last:
            lo = s - gap
            hi = s + length + gap
            # First busy interval ending after lo; merged busy is sorted by start and end alike.
            i = bisect_right(blocked_ends, lo)
            if i < count and blocked[i][0] < hi:
                # Jump to the first grid point whose buffered start clears this busy interval
                # (a + ceil((clear_from - a) / step) steps; inline, it is the hot path).
                s = a - (-(blocked[i][1] + gap - a) // step) * step
                continue
            slots.append((s, s + length))
            s += step
    return slots


def is_bookable(
    *,
    start_at: datetime,
    availability: Sequence[Interval],
    busy: Iterable[Interval],
    rules: SlotRules,
    now: datetime,
) -> bool:
    """Whether a slot starting at ``start_at`` is offered; delegates to ``compute_slots``."""
    start_at = _utc(start_at, "start_at")
    slot = (start_at, start_at + rules.slot_length)
    found = compute_slots(
        availability=availability,
        busy=busy,
        rules=rules,
        now=now,
        start=slot[0],
        end=slot[1],
    )
    return slot in found
