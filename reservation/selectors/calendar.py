"""Reads for the calendar: occurrences of scheduled events (recurring ones expanded in their own
zone), each person's busy and working time, and the free time common to several people.

Every read runs a fixed number of queries whatever the number of events, people or bookings:
events are fetched once for all the people asked about and expanded once each, then attributed
to the people on them. Ranges are at most `MAX_RANGE` (366 days) long.
"""

import base64
import hashlib
import json
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q

from reservation import freetime, recurrence, slots
from reservation.actors import Actor, utcnow
from reservation.errors import DomainError, ErrorCode, NotFound
from reservation.models import (
    Event,
    EventStatus,
    OccurrenceChange,
    Participant,
    Reservation,
    TimeOff,
    User,
    WorkingHours,
)
from reservation.selectors.booking import active_reservations
from reservation.selectors.external_calendars import external_busy_rows
from reservation.slots import Interval, WeeklyHours
from reservation.timezones import zone
from reservation.validation import require_range

MAX_RANGE = timedelta(days=366)
MAX_PEOPLE = 50
MAX_FREE_RESULTS = 100
_S = timedelta(seconds=1)
MAX_DURATION_MINUTES = 7 * 24 * 60
# Each recurring event is validated on write to yield at most a few per day (daily or longer
# frequencies, COUNT bounded), so a 366-day window stays far below this.
MAX_OCCURRENCES_PER_EVENT = 5000


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of a scheduled event: [start, end) in UTC. `original_start` is the start
    its rule generated (the RECURRENCE-ID; equal to `start` unless it was moved); `recurring`
    tells whether the event repeats."""

    event: Event
    start: datetime
    end: datetime
    original_start: datetime
    recurring: bool
    viewer_answer: str | None = None  # visible_occurrences: the actor's RSVP to the event

    @property
    def moved(self) -> bool:
        return self.start != self.original_start


def calendar_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """(start, end) in UTC: aware (NAIVE_DATETIME), ordered (INVALID_TIME_RANGE), at most
    366 days apart (RANGE_TOO_LONG)."""
    return require_range(start, end, max_length=MAX_RANGE)


def _in_range(start: datetime, end: datetime) -> Q:
    """Participations in events that may have an occurrence overlapping [start, end): a single
    one overlapping it, a series begun before its end, or one with an occurrence moved into it
    (a moved occurrence may lie before the series' first start)."""
    moved_in = OccurrenceChange.objects.filter(
        event=OuterRef("event_id"), cancelled=False, start__lt=end, end__gt=start
    )
    return (
        Q(event__recurrence="", event__start__lt=end, event__end__gt=start)
        | (~Q(event__recurrence="") & Q(event__start__lt=end))
        | Q(Exists(moved_in))
    )


def _event_attendance(
    *, user_ids: Sequence[int], start: datetime, end: datetime, include_declined: bool
) -> dict[int, set[int]]:
    """{event id: the asked-about people on it} for scheduled events that may overlap the range.
    The organizer always attends; a party who answered NO does not, unless include_declined."""
    qs = Participant.objects.filter(user_id__in=user_ids, event__status=EventStatus.SCHEDULED)
    if not include_declined:
        qs = qs.filter(Q(role=Participant.Role.ORGANIZER) | ~Q(rsvp=Participant.Rsvp.NO))
    qs = qs.filter(_in_range(start, end))
    attendance: dict[int, set[int]] = defaultdict(set)
    for event_id, user_id in qs.values_list("event_id", "user_id"):
        attendance[event_id].add(user_id)
    return attendance


def _change(c: OccurrenceChange) -> recurrence.OccurrenceChange:
    return recurrence.OccurrenceChange(
        original_start=c.original_start, cancelled=c.cancelled, new_start=c.start, new_end=c.end
    )


def _changes_of(event: Event) -> list[recurrence.OccurrenceChange]:
    return [_change(c) for c in event.occurrence_changes.order_by("pk")]


def expand_event(
    *,
    event: Event,
    start: datetime,
    end: datetime,
    changes: Sequence[recurrence.OccurrenceChange] | None = None,
) -> list[Occurrence]:
    """The occurrences of one scheduled event overlapping [start, end), by start (with the
    given occurrence changes, or its own, queried once)."""
    assert event.start is not None
    assert event.end is not None
    rule = event.recurrence or None
    found = recurrence.expand(
        rule=rule,
        start=event.start,
        end=event.end,
        tz=zone(event.time_zone),
        window_start=start,
        window_end=end,
        changes=(_changes_of(event) if changes is None else changes) if rule else (),
        max_occurrences=MAX_OCCURRENCES_PER_EVENT,
        extra_starts=event.extra_starts,
    )
    return [
        Occurrence(event=event, start=s, end=e, original_start=o, recurring=rule is not None)
        for s, e, o in found
    ]


def _expanded(
    *, event_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[Occurrence]]:
    """{event id: its occurrences in range}, two queries for all events.

    The changes come in one query grouped here rather than through prefetch_related, which
    costs a queryset per event (a third of the time for thousands of events)."""
    changes: dict[int, list[recurrence.OccurrenceChange]] = defaultdict(list)
    for change in OccurrenceChange.objects.filter(event_id__in=event_ids).order_by("pk"):
        changes[change.event_id].append(_change(change))
    events = Event.objects.filter(pk__in=event_ids).select_related("organizer").order_by("pk")
    return {
        event.pk: expand_event(event=event, start=start, end=end, changes=changes[event.pk])
        for event in events
    }


def _sort_key(occurrence: Occurrence) -> tuple[datetime, datetime, int]:
    return occurrence.start, occurrence.end, occurrence.event.pk


def occurrences_between(
    *,
    users: Sequence[User],
    start: datetime,
    end: datetime,
    include_declined: bool = False,
) -> list[Occurrence]:
    """Occurrences overlapping [start, end) of scheduled events any of `users` organises or
    takes part in (not declined, unless include_declined), each once, sorted by start
    (then end, then event id). Range at most 366 days; three queries."""
    start, end = calendar_range(start, end)
    attendance = _event_attendance(
        user_ids=[u.pk for u in users], start=start, end=end, include_declined=include_declined
    )
    if not attendance:
        return []
    expanded = _expanded(event_ids=sorted(attendance), start=start, end=end)
    result = [o for occurrences in expanded.values() for o in occurrences]
    result.sort(key=_page_key)  # a total order, so pages neither skip nor repeat
    return result


def visible_occurrences(
    *,
    actor: Actor,
    start: datetime,
    end: datetime,
    users: Sequence[User] | None = None,
    include_declined: bool = True,
) -> list[Occurrence]:
    """The acting user's calendar: occurrences in [start, end) of the events they are on, each
    with the actor's answer (declined ones included, so they can change their mind, unless
    not `include_declined`). With `users`: only events on which
    one of those people takes part (not declined) — still only events the actor is on, since
    others' event details are private (their free/busy is what freeTime shows)."""
    me = actor.require_user()
    start, end = calendar_range(start, end)
    mine = _event_attendance(
        user_ids=[me.pk], start=start, end=end, include_declined=include_declined
    )
    if users is not None:
        theirs = _event_attendance(
            user_ids=[u.pk for u in users], start=start, end=end, include_declined=False
        )
        mine = {event_id: v for event_id, v in mine.items() if event_id in theirs}
    if not mine:
        return []
    expanded = _expanded(event_ids=sorted(mine), start=start, end=end)
    answers = dict(
        Participant.objects.filter(user=me, event_id__in=list(mine)).values_list("event_id", "rsvp")
    )
    result = [
        replace(o, viewer_answer=answers.get(event_id))
        for event_id, occurrences in expanded.items()
        for o in occurrences
    ]
    result.sort(key=_sort_key)
    return result


def _page_key(occurrence: Occurrence) -> tuple[datetime, datetime, int, datetime]:
    """The total order pages follow: the listing's order, then the rule's start."""
    return (*_sort_key(occurrence), occurrence.original_start)


def occurrence_cursor(occurrence: Occurrence) -> str:
    """An opaque cursor: the page's last occurrence, by its place in the order."""
    start, end, event_id, original = _page_key(occurrence)
    raw = json.dumps([start.isoformat(), end.isoformat(), event_id, original.isoformat()])
    return base64.urlsafe_b64encode(b"occ1:" + raw.encode()).decode()


def _decode_occurrence_cursor(cursor: str) -> tuple[datetime, datetime, int, datetime]:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode())
        if not raw.startswith(b"occ1:"):
            raise ValueError("not an occurrence cursor")
        start, end, event_id, original = json.loads(raw[5:])
        key = (
            datetime.fromisoformat(start),
            datetime.fromisoformat(end),
            int(event_id),
            datetime.fromisoformat(original),
        )
        if any(value.tzinfo is None for value in (key[0], key[1], key[3])):
            raise ValueError("naive time in cursor")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise DomainError(
            ErrorCode.INVALID_CURSOR, "That is not a cursor this list gave.", field="after"
        ) from exc
    return key


def visible_occurrences_page(
    *,
    actor: Actor,
    start: datetime,
    end: datetime,
    first: int,
    after: str | None = None,
    users: Sequence[User] | None = None,
    include_declined: bool = True,
) -> tuple[list[Occurrence], bool]:
    """At most `first` of `visible_occurrences`, those after the `after` cursor (from
    `occurrence_cursor`), and whether more follow: a client gets a whole year by asking
    again with the last one's cursor."""
    found = visible_occurrences(
        actor=actor, start=start, end=end, users=users, include_declined=include_declined
    )
    if after is not None:
        key = _decode_occurrence_cursor(after)
        found = found[bisect_right(found, key, key=_page_key) :]
    return found[:first], len(found) > first


# --- busy, working and free time ------------------------------------------------------------


def _busy_by_user(
    *, users: Sequence[User], start: datetime, end: datetime, now: datetime
) -> dict[int, list[Interval]]:
    """{user id: busy intervals (unmerged, unclipped)}: occurrences of events they organise or
    have not declined, live reservations as client or provider, time off and connected
    calendars' busy time. Five queries."""
    ids = [u.pk for u in users]
    busy: dict[int, list[Interval]] = {pk: [] for pk in ids}
    attendance = _event_attendance(user_ids=ids, start=start, end=end, include_declined=False)
    if attendance:
        expanded = _expanded(event_ids=sorted(attendance), start=start, end=end)
        for event_id, occurrences in expanded.items():
            for user_id in attendance[event_id]:
                busy[user_id] += [(o.start, o.end) for o in occurrences]
    reservations = Reservation.objects.filter(
        active_reservations(now=now),
        Q(client__user_id__in=ids) | Q(provider__user_id__in=ids),
        start__lt=end,
        end__gt=start,
    ).values_list("start", "end", "client__user_id", "provider__user_id")
    for s, e, client_user, provider_user in reservations:
        for user_id in {client_user, provider_user} & busy.keys():
            busy[user_id].append((s, e))
    time_off = TimeOff.objects.filter(user_id__in=ids, start__lt=end, end__gt=start).values_list(
        "user_id", "start", "end"
    )
    # Busy time copied from connected calendars, in the same statement as time off.
    external = external_busy_rows(user_ids=ids, start=start, end=end)
    for user_id, s, e in time_off.union(external, all=True):
        busy[user_id].append((s, e))
    return busy


def _working_by_user(
    *, users: Sequence[User], start: datetime, end: datetime
) -> dict[int, list[Interval]]:
    """{user id: working intervals in [start, end)} from weekly hours in each person's zone.
    Someone with no working hours set is taken to be available around the clock. One query."""
    weekly: dict[int, list[WeeklyHours]] = defaultdict(list)
    for user_id, weekday, s, e in WorkingHours.objects.filter(
        user_id__in=[u.pk for u in users]
    ).values_list("user_id", "weekday", "start", "end"):
        weekly[user_id].append(WeeklyHours(weekday=weekday, start=s, end=e))
    return {
        u.pk: (
            slots.expand_weekly(weekly[u.pk], zone(u.time_zone), start, end)
            if weekly[u.pk]
            else [(start, end)]
        )
        for u in users
    }


def busy_intervals(
    *, user: User, start: datetime, end: datetime, now: datetime | None = None
) -> list[Interval]:
    """The user's busy time in [start, end), merged and clipped: events they organise or have
    not declined, live bookings as client or provider, time off (not: outside working hours)."""
    now = now or utcnow()
    start, end = calendar_range(start, end)
    busy = _busy_by_user(users=[user], start=start, end=end, now=now)[user.pk]
    return [(max(s, start), min(e, end)) for s, e in slots.merge(busy) if s < end and e > start]


def working_intervals(*, user: User, start: datetime, end: datetime) -> list[Interval]:
    """The user's working time in [start, end) (all of it when they set no working hours)."""
    start, end = calendar_range(start, end)
    return _working_by_user(users=[user], start=start, end=end)[user.pk]


def users_by_reference(*, refs: Sequence[int | str]) -> list[User]:
    """The active users given by primary key (int) or e-mail address (str), each once, in the
    order given; NOT_FOUND when one is unknown or inactive."""
    ids = [r for r in refs if isinstance(r, int)]
    emails = [r.strip().lower() for r in refs if isinstance(r, str)]
    found = list(User.objects.filter(Q(pk__in=ids) | Q(email__in=emails), is_active=True))
    by_key: dict[int | str, User] = {u.pk: u for u in found} | {u.email: u for u in found}
    result: list[User] = []
    for ref in refs:
        user = by_key.get(ref if isinstance(ref, int) else ref.strip().lower())
        if user is None:
            raise NotFound("No such user.")
        if user not in result:
            result.append(user)
    return result


def _free_time_checks(*, users: Sequence[User], duration: timedelta, limit: int) -> None:
    if not users:
        raise DomainError(ErrorCode.INVALID_INPUT, "Name at least one person.", field="users")
    if len(users) > MAX_PEOPLE:
        raise DomainError(ErrorCode.INVALID_INPUT, f"At most {MAX_PEOPLE} people.", field="users")
    if not timedelta(minutes=1) <= duration <= timedelta(minutes=MAX_DURATION_MINUTES):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"durationMinutes must be 1–{MAX_DURATION_MINUTES}.",
            field="durationMinutes",
        )
    if not 1 <= limit <= MAX_FREE_RESULTS:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"limit must be 1–{MAX_FREE_RESULTS}.", field="limit"
        )


def _free_intervals(
    *,
    users: Sequence[User],
    start: datetime,
    end: datetime,
    duration: timedelta,
    limit: int,
    now: datetime,
) -> list[Interval]:
    busy = _busy_by_user(users=users, start=start, end=end, now=now)
    working = _working_by_user(users=users, start=start, end=end)
    return freetime.free_intervals(
        busy_by_person=[busy[u.pk] for u in users],
        working_by_person=[working[u.pk] for u in users],
        start=start,
        end=end,
        min_length=duration,
        limit=limit,
    )


def free_time(
    *,
    users: Sequence[User],
    start: datetime,
    end: datetime,
    duration: timedelta,
    limit: int = 10,
    now: datetime | None = None,
) -> list[Interval]:
    """The earliest `limit` free intervals in [start, end), at least `duration` long, common to
    all `users`: nobody is busy (see busy_intervals) and everyone is inside their working hours.
    Results in UTC, maximal within the range. Eight queries however much data there is."""
    start, end = calendar_range(start, end)
    _free_time_checks(users=users, duration=duration, limit=limit)
    return _free_intervals(
        users=users, start=start, end=end, duration=duration, limit=limit, now=now or utcnow()
    )


def _free_time_query(
    users: Sequence[User], start: datetime, end: datetime, duration: timedelta
) -> str:
    """What a freeTime cursor is valid for: the same people, range and length."""
    asked = json.dumps([[u.pk for u in users], start.isoformat(), end.isoformat(), duration // _S])
    return hashlib.sha256(asked.encode()).hexdigest()[:16]


def free_time_cursor(
    interval: Interval,
    *,
    users: Sequence[User],
    start: datetime,
    end: datetime,
    duration: timedelta,
) -> str:
    """An opaque cursor after `interval` (one of this query's free intervals)."""
    start, end = calendar_range(start, end)
    raw = json.dumps([interval[1].isoformat(), _free_time_query(users, start, end, duration)])
    return base64.urlsafe_b64encode(b"free1:" + raw.encode()).decode()


def _decode_free_time_cursor(
    cursor: str, *, query: str, start: datetime, end: datetime
) -> datetime:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode())
        if not raw.startswith(b"free1:"):
            raise ValueError("not a freeTime cursor")
        after, asked = json.loads(raw[6:])
        after = datetime.fromisoformat(after)
        if after.tzinfo is None or asked != query or not start < after <= end:
            raise ValueError("a cursor of another query")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise DomainError(
            ErrorCode.INVALID_CURSOR, "That is not a cursor this list gave.", field="after"
        ) from exc
    return after


def free_time_page(
    *,
    users: Sequence[User],
    start: datetime,
    end: datetime,
    duration: timedelta,
    first: int = MAX_FREE_RESULTS,
    after: str | None = None,
    now: datetime | None = None,
) -> tuple[list[Interval], bool]:
    """At most `first` of the free intervals `free_time` finds in [start, end), those after the
    `after` cursor (from `free_time_cursor`, for the same people, range and length), and
    whether more follow: a client gets a year of free time by asking again with the last
    one's cursor. A free interval is maximal, so where the last one ended someone is busy or
    away: the next page is the free time of [that end, end), and equals the rest of the list
    one unpaged call would give. INVALID_CURSOR for a cursor of another query."""
    start, end = calendar_range(start, end)
    _free_time_checks(users=users, duration=duration, limit=first)
    if after is not None:
        query = _free_time_query(users, start, end, duration)
        start = _decode_free_time_cursor(after, query=query, start=start, end=end)
    found = _free_intervals(
        users=users, start=start, end=end, duration=duration, limit=first + 1, now=now or utcnow()
    )
    return found[:first], len(found) > first
