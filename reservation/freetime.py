"""Common free time of several people: pure interval arithmetic, stdlib only, no ORM.

Intervals are half-open ``[start, end)`` of timezone-aware datetimes; results are in UTC. Blocked
time is everyone's busy time together with, when working time is given, each person's time
outside it; free time is what is left of the range. One sort and one sweep: O(N log N) in the
number of intervals, whatever the length of the range.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

Interval = tuple[datetime, datetime]

_ZERO = timedelta(0)


def _utc(value: datetime, name: str) -> datetime:
    """Return ``value`` in UTC; naive datetimes are rejected rather than guessed."""
    if value.tzinfo is UTC:  # the common case (expand() returns UTC), kept cheap
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _clipped(
    items: Iterable[Interval], start: datetime, end: datetime, name: str
) -> list[Interval]:
    """The non-empty parts of ``items`` inside [start, end), in UTC, in input order."""
    kept: list[Interval] = []
    for raw_start, raw_end in items:
        s = _utc(raw_start, f"{name} start")
        e = _utc(raw_end, f"{name} end")
        if s < start:
            s = start
        if e > end:
            e = end
        if s < e:
            kept.append((s, e))
    return kept


def _outside(working: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    """[start, end) minus the union of ``working`` (clipped to it already), sorted."""
    working.sort()
    gaps: list[Interval] = []
    cursor = start
    for s, e in working:
        if s > cursor:
            gaps.append((cursor, s))
        if e > cursor:
            cursor = e
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def free_intervals(
    *,
    busy_by_person: Sequence[Iterable[Interval]],
    working_by_person: Sequence[Iterable[Interval]] | None,
    start: datetime,
    end: datetime,
    min_length: timedelta,
    limit: int,
) -> list[Interval]:
    """The earliest ``limit`` maximal free intervals in [start, end) at least ``min_length`` long.

    Free means nobody is busy and, if ``working_by_person`` is given (one list per person, in
    the same order as ``busy_by_person``), everyone is inside their working time. Intervals may
    come unsorted, overlapping, touching or empty; touching busy intervals leave no gap. A free
    interval is maximal within the range, so one cut by ``start`` or ``end`` still counts.
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    if min_length < _ZERO:
        raise ValueError(f"min_length must not be negative, got {min_length}")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if working_by_person is not None and len(working_by_person) != len(busy_by_person):
        raise ValueError(
            f"working_by_person has {len(working_by_person)} people, "
            f"busy_by_person {len(busy_by_person)}"
        )
    if end <= start:
        return []

    blocked: list[Interval] = []
    for busy in busy_by_person:
        blocked += _clipped(busy, start, end, "busy")
    if working_by_person is not None:
        for working in working_by_person:
            blocked += _outside(_clipped(working, start, end, "working"), start, end)
    # Each person's list is usually sorted already: timsort merges such runs in near-linear time.
    blocked.sort()

    free: list[Interval] = []
    cursor = start  # everything before cursor is known to be blocked or already reported
    for s, e in blocked:
        if s > cursor and s - cursor >= min_length:
            free.append((cursor, s))
            if len(free) == limit:
                return free
        if e > cursor:
            cursor = e
    if cursor < end and end - cursor >= min_length:
        free.append((cursor, end))
    return free
