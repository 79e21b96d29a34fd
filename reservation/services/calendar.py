"""The calendar: events created scheduled (optionally recurring), changed for all occurrences,
one occurrence, or this and the following ones; one occurrence cancelled; answers (RSVP) of
participants; working hours given as day ranges.

Decisions:

- `event_update` scopes. ALL changes the series itself. THIS_OCCURRENCE moves one occurrence
  (an OccurrenceChange): only its time can differ, as the model keeps one title per event.
  THIS_AND_FOLLOWING ends the series just before the chosen occurrence (UNTIL) and creates a new
  event with the same people for the rest, as RFC 5545 clients do when splitting a series; a
  COUNT is split too: the old series keeps the occurrences before (as UNTIL), the new one
  the remaining count. Both series are sent to the participants (iTIP REQUEST each).
- When an event's time, zone or rule changes (ALL), its moved and cancelled occurrences are
  dropped (they were keyed on starts the old rule generated) and every party's answer goes
  back to UNDECIDED: they agreed to another time. A title or description change keeps both.
- Answers (RSVP) are one per participant for the whole series; a party answers for themself,
  signed in or through their event link. The organizer attends by definition and does not
  answer (INVALID_INPUT); cancelling is how they withdraw.
- A series' start must be one the rule gives (RFC 5545 counts DTSTART as an occurrence even
  when the rule does not give it, the API would not: clients would disagree). A start the rule
  does not give is refused with START_NOT_IN_RULE, the message naming the rule's first start
  from there; with `align_start` the event is moved there instead (same length). WEEKLY
  without weekdays repeats on the start's weekday (written out as BYDAY in the stored rule).
- A rule is a structured RecurrenceSpec or, for power users, an RFC 5545 RRULE value:
  validated, bounded to at most one occurrence a day (recurrence.normalize_rrule) and stored
  normalised. Extra dates (RDATE) take the first start's local time on that day; excluded
  dates cancel the rule's occurrences on that local day (EXDATE in the .ics).
- Creating events in the past is allowed (a series that began last week, a meeting logged
  afterwards): a calendar records, it does not book.

Every write runs in one durable transaction with its audit entry; reminder deliveries are
rescheduled (services.reminders) and mails enqueued in that transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from django.db import transaction

from reservation import recurrence
from reservation.actors import SYSTEM, Actor, utcnow
from reservation.errors import DomainError, ErrorCode, NotFound
from reservation.models import (
    Event,
    EventStatus,
    Notification,
    OccurrenceChange,
    Participant,
    WorkingHours,
)
from reservation.recurrence import RecurrenceKind, RecurrenceSpec
from reservation.services import reminders as reminder_services
from reservation.services.accounts import normalize_email
from reservation.services.audit import audit_record
from reservation.services.availability import Shift, working_hours_set
from reservation.services.events import (
    MAX_PARTIES,
    bump_version,
    event_for_change,
    notify_participants,
    user_for_email,
)
from reservation.timezones import is_time_zone, zone
from reservation.validation import require_aware, require_one_line, require_range

MAX_EVENT_MINUTES = 7 * 24 * 60
MAX_COUNT = 1000
MAX_INTERVAL = 999
# How far ahead a new rule must yield its first occurrence (29 February: up to 8 years).
_FIRST_OCCURRENCE_HORIZON = timedelta(days=8 * 366 + 1)
_INSTANT = timedelta(microseconds=1)
MAX_EXTRA_DATES = 100

# A structured rule, or an RFC 5545 RRULE value as a power user writes it.
Rule = RecurrenceSpec | str


class UpdateScope(StrEnum):
    """Which occurrences an eventUpdate changes."""

    ALL = "ALL"
    THIS_OCCURRENCE = "THIS_OCCURRENCE"
    THIS_AND_FOLLOWING = "THIS_AND_FOLLOWING"


Rsvp = Participant.Rsvp


# --- validation ------------------------------------------------------------------------------


def recurrence_spec(
    *,
    kind: str,
    interval: int = 1,
    weekdays: Sequence[int] = (),
    month_day: int | None = None,
    weekday: int | None = None,
    week_of_month: int | None = None,
    until: date | None = None,
    count: int | None = None,
    month: int | None = None,
    position: int | None = None,
) -> RecurrenceSpec:
    """A RecurrenceSpec from structured input; INVALID_INPUT on `recurrence` when it is not
    one of the offered kinds, or its interval (1–999) or count (1–1000) is out of bounds."""
    if not 1 <= interval <= MAX_INTERVAL:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"interval must be 1–{MAX_INTERVAL}.",
            field="recurrence",
        )
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"count must be 1–{MAX_COUNT}.", field="recurrence"
        )
    try:
        return RecurrenceSpec(
            kind=RecurrenceKind(kind),
            interval=interval,
            weekdays=tuple(weekdays),
            month_day=month_day,
            weekday=weekday,
            week_of_month=week_of_month,
            until=until,
            count=count,
            month=month,
            position=position,
        )
    except ValueError as exc:
        raise DomainError(ErrorCode.INVALID_INPUT, str(exc), field="recurrence") from exc


def _time_zone(name: str) -> str:
    if not is_time_zone(name):
        raise DomainError(
            ErrorCode.INVALID_TIME_ZONE,
            f"{name!r} is not an IANA time zone (e.g. Europe/Berlin).",
            field="timeZone",
        )
    return name


def _times(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = require_range(start, end)
    if end - start > timedelta(minutes=MAX_EVENT_MINUTES):
        raise DomainError(
            ErrorCode.INVALID_TIME_RANGE,
            f"An event lasts at most {MAX_EVENT_MINUTES // (24 * 60)} days.",
            field="end",
        )
    return start, end


def _when(value: datetime, tz_name: str) -> str:
    return f"{value.astimezone(zone(tz_name)):%a %Y-%m-%d %H:%M} ({tz_name})"


def _rule(
    rule: Rule | None,
    *,
    start: datetime,
    end: datetime,
    time_zone: str,
    align_start: bool = False,
) -> tuple[str, datetime, datetime]:
    """(RRULE value stored for `rule` ('' for none), start, end). INVALID_INPUT on `recurrence`
    for a rule string that is not a bounded RRULE or a rule with no occurrence; INVALID_TIME_RANGE
    when it ends (until) before the start; START_NOT_IN_RULE on `start` when the rule does not
    give the start, unless `align_start` moves the event to the rule's first start after it."""
    if rule is None:
        return "", start, end
    tz = zone(time_zone)
    local = start.astimezone(tz)
    if isinstance(rule, str):
        try:
            text = recurrence.normalize_rrule(rule, tz=tz)
        except ValueError as exc:
            raise DomainError(ErrorCode.INVALID_INPUT, str(exc), field="recurrence") from exc
    else:
        spec = recurrence.with_start_weekday(rule, local)
        until_day = spec.until
        is_day = isinstance(until_day, date) and not isinstance(until_day, datetime)
        if is_day and until_day < local.date():
            raise DomainError(
                ErrorCode.INVALID_TIME_RANGE,
                "The recurrence ends (until) before the event starts.",
                field="recurrence",
            )
        text = recurrence.to_rrule(spec, tz=tz)
    until = recurrence.rule_until(text)
    if until is not None and until < start:
        raise DomainError(
            ErrorCode.INVALID_TIME_RANGE,
            "The recurrence ends (until) before the event starts.",
            field="recurrence",
        )
    first = recurrence.first_start(rule=text, start=start, tz=tz)
    if first is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "The recurrence yields no occurrence.", field="recurrence"
        )
    if first != start:
        if not align_start:
            raise DomainError(
                ErrorCode.START_NOT_IN_RULE,
                f"The recurrence does not give the start {_when(start, time_zone)}; its first "
                f"start from there is {_when(first, time_zone)}. Start the event then, or send "
                "alignStart: true to have it moved there.",
                field="start",
            )
        start, end = first, first + (end - start)
    return text, start, end


def _extra_starts(dates: Sequence[date], *, start: datetime, time_zone: str) -> list[datetime]:
    """RDATE starts: each date at the first start's local time of day, in UTC, sorted.
    INVALID_INPUT on `extraDates` for too many or a date before the first start's."""
    if len(dates) > MAX_EXTRA_DATES:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"At most {MAX_EXTRA_DATES} extra dates.", field="extraDates"
        )
    tz = zone(time_zone)
    local = start.astimezone(tz)
    starts = set()
    for day in dates:
        if day <= local.date():
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"Extra date {day.isoformat()} is not after the first start's day.",
                field="extraDates",
            )
        wall = datetime.combine(day, local.time().replace(tzinfo=None))
        starts.add(wall.replace(tzinfo=tz, fold=0).astimezone(UTC))
    return sorted(starts)


def _exclude_dates(event: Event, dates: Sequence[date]) -> list[datetime]:
    """Cancel the occurrences (rule or extra) that start on these local days; NOT_AN_OCCURRENCE
    on `excludedDates` for a day without one. Returns the cancelled original starts."""
    if not dates:
        return []
    if len(dates) > MAX_EXTRA_DATES:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"At most {MAX_EXTRA_DATES} excluded dates.",
            field="excludedDates",
        )
    assert event.start is not None
    assert event.end is not None
    tz = zone(event.time_zone)
    cancelled: list[datetime] = []
    for day in sorted(set(dates)):
        low = datetime.combine(day, time()).replace(tzinfo=tz).astimezone(UTC)
        high = datetime.combine(day + timedelta(days=1), time()).replace(tzinfo=tz).astimezone(UTC)
        found = [
            original
            for _, _, original in recurrence.expand(
                rule=event.recurrence or None,
                start=event.start,
                end=event.start + _INSTANT,  # as instants: only starts on that day count
                tz=tz,
                window_start=low,
                window_end=high,
                extra_starts=event.extra_starts,
            )
        ]
        if not found:
            raise DomainError(
                ErrorCode.NOT_AN_OCCURRENCE,
                f"The event has no occurrence on {day.isoformat()} to exclude.",
                field="excludedDates",
            )
        cancelled += found
    OccurrenceChange.objects.bulk_create(
        OccurrenceChange(event=event, original_start=original, cancelled=True)
        for original in cancelled
    )
    return cancelled


def _participant_emails(participants: Sequence[str], *, organizer_email: str) -> list[str]:
    emails = set()
    for email in participants:
        try:
            emails.add(normalize_email(email))
        except DomainError as exc:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"Not an e-mail address: {email!r}.",
                field="participants",
            ) from exc
    emails.discard(organizer_email)
    if len(emails) > MAX_PARTIES:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"At most {MAX_PARTIES} participants.", field="participants"
        )
    return sorted(emails)


def _text(title: str | None, description: str | None) -> tuple[str | None, str | None]:
    if title is not None:
        title = require_one_line(title, field="title", max_length=200)
        if not title:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "title must be 1–200 characters.", field="title"
            )
    if description is not None:
        description = description.strip()
        if len(description) > 5000:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "description is too long (5000 at most).",
                field="description",
            )
    return title, description


def _require_scheduled(event: Event) -> None:
    if event.status == EventStatus.CANCELLED:
        raise DomainError(ErrorCode.EVENT_CANCELLED, "The event is cancelled.")
    if event.status != EventStatus.SCHEDULED:
        raise DomainError(
            ErrorCode.EVENT_NOT_SCHEDULED, "The event has no agreed time yet (it is proposed)."
        )


def _require_recurring(event: Event) -> None:
    if not event.recurrence:
        raise DomainError(
            ErrorCode.NOT_RECURRING,
            "The event does not repeat: change or cancel it as a whole.",
            field="scope",
        )


def is_occurrence(*, event: Event, original_start: datetime) -> bool:
    """Whether the event's rule generates an occurrence starting at `original_start`."""
    assert event.start is not None
    assert event.end is not None
    found = recurrence.expand(
        rule=event.recurrence or None,
        start=event.start,
        end=event.end,
        tz=zone(event.time_zone),
        window_start=original_start,
        window_end=original_start + _INSTANT,
        extra_starts=event.extra_starts,
    )
    return any(original == original_start for _, _, original in found)


def _occurrence_start(event: Event, value: datetime | None) -> datetime:
    if value is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "Say which occurrence: its original start.",
            field="occurrenceStart",
        )
    value = require_aware(value, field="occurrenceStart")
    if not is_occurrence(event=event, original_start=value):
        raise DomainError(
            ErrorCode.NOT_AN_OCCURRENCE,
            "The event has no occurrence starting then.",
            field="occurrenceStart",
        )
    return value


def _snapshot(event: Event) -> dict[str, object]:
    return {
        "title": event.title,
        "start": event.start,
        "end": event.end,
        "time_zone": event.time_zone,
        "recurrence": event.recurrence,
        **({"extra_starts": list(event.extra_starts)} if event.extra_starts else {}),
    }


# --- create ------------------------------------------------------------------------------------


def event_create(
    *,
    actor: Actor,
    title: str,
    start: datetime,
    end: datetime,
    time_zone: str,
    participants: Sequence[str] = (),
    description: str = "",
    recurrence_rule: Rule | None = None,
    reminders: Sequence[tuple[int, ...]] = (),
    extra_dates: Sequence[date] = (),
    excluded_dates: Sequence[date] = (),
    align_start: bool = False,
    now: datetime | None = None,
) -> Event:
    """Create a SCHEDULED event (recurring in `time_zone` when a rule is given, with extra and
    excluded dates) with the acting user as organizer (RSVP YES) and the participants by
    e-mail (UNDECIDED; unknown addresses become people who act through links); each
    participant is e-mailed an invitation. See the module docstring for start alignment."""
    now = now or utcnow()
    organizer = actor.require_user()
    title_, description_ = _text(title, description)
    assert title_ is not None
    start, end = _times(start, end)
    time_zone = _time_zone(time_zone)
    emails = _participant_emails(participants, organizer_email=organizer.email)
    rule, start, end = _rule(
        recurrence_rule, start=start, end=end, time_zone=time_zone, align_start=align_start
    )
    extra = _extra_starts(extra_dates, start=start, time_zone=time_zone)
    with transaction.atomic(durable=True):
        event = Event.objects.create(
            organizer=organizer,
            title=title_,
            description=description_ or "",
            status=EventStatus.SCHEDULED,
            start=start,
            end=end,
            time_zone=time_zone,
            recurrence=rule,
            extra_starts=extra,
            created_at=now,
            updated_at=now,
        )
        excluded = _exclude_dates(event, excluded_dates)
        Participant.objects.create(
            event=event, user=organizer, role=Participant.Role.ORGANIZER, rsvp=Rsvp.YES
        )
        Participant.objects.bulk_create(
            Participant(event=event, user=user_for_email(email), role=Participant.Role.PARTY)
            for email in emails
        )
        reminder_services.reminders_replace(event=event, reminders=reminders, now=now)
        audit_record(
            actor=actor,
            action="event.create",
            subject=event,
            at=now,
            changes={
                **_snapshot(event),
                "participants": emails,
                "reminders": [list(reminder) for reminder in reminders],
                **({"excluded": excluded} if excluded else {}),
                "version": event.version,
            },
        )
        notify_participants(event=event, kind=Notification.Kind.EVENT_SCHEDULED, now=now)
    return event


# --- update ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventChanges:
    """What an eventUpdate sets; None keeps the current value. `clear_recurrence` makes a
    recurring event a single one (its first occurrence)."""

    title: str | None = None
    description: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    recurrence_rule: Rule | None = None
    clear_recurrence: bool = False
    reminders: Sequence[tuple[int, ...]] | None = None
    extra_dates: Sequence[date] | None = None
    excluded_dates: Sequence[date] | None = None
    align_start: bool = False


def event_update(
    *,
    actor: Actor,
    event_id: int,
    expected_version: int,
    changes: EventChanges,
    scope: UpdateScope = UpdateScope.ALL,
    occurrence_start: datetime | None = None,
    now: datetime | None = None,
) -> Event:
    """Change a scheduled event (organizer only, signed in): the whole series (ALL), one
    occurrence's time (THIS_OCCURRENCE), or this and the following occurrences as a new event
    (THIS_AND_FOLLOWING; the new event is returned). See the module docstring for why."""
    now = now or utcnow()
    title, description = _text(changes.title, changes.description)
    if changes.time_zone is not None:
        _time_zone(changes.time_zone)
    if changes.start is not None:
        require_aware(changes.start, field="start")
    if changes.end is not None:
        require_aware(changes.end, field="end")
    if changes.clear_recurrence and changes.recurrence_rule is not None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "Give a recurrence or clear it, not both.",
            field="recurrence",
        )
    with transaction.atomic(durable=True):
        event, _ = event_for_change(
            actor=actor,
            event_id=event_id,
            organizer_only=True,
            require=_require_scheduled,
            expected_version=expected_version,
        )
        if scope == UpdateScope.THIS_OCCURRENCE:
            return _move_occurrence(
                actor=actor,
                event=event,
                changes=changes,
                occurrence_start=occurrence_start,
                now=now,
            )
        if scope == UpdateScope.THIS_AND_FOLLOWING:
            return _split(
                actor=actor,
                event=event,
                changes=changes,
                title=title,
                description=description,
                occurrence_start=occurrence_start,
                now=now,
            )
        return _update_all(
            actor=actor, event=event, changes=changes, title=title, description=description, now=now
        )


def _new_timing(
    event: Event, changes: EventChanges, *, base_start: datetime, base_end: datetime
) -> tuple[datetime, datetime, str]:
    """(start, end, zone) after the changes; a new start alone keeps the length."""
    start = changes.start or base_start
    end = changes.end or (start + (base_end - base_start) if changes.start else base_end)
    start, end = _times(start, end)
    return start, end, changes.time_zone or event.time_zone


def _update_all(
    *,
    actor: Actor,
    event: Event,
    changes: EventChanges,
    title: str | None,
    description: str | None,
    now: datetime,
) -> Event:
    assert event.start is not None
    assert event.end is not None
    before = _snapshot(event)
    start, end, time_zone = _new_timing(event, changes, base_start=event.start, base_end=event.end)
    align = changes.align_start
    if changes.recurrence_rule is not None:
        rule, start, end = _rule(
            changes.recurrence_rule, start=start, end=end, time_zone=time_zone, align_start=align
        )
    elif changes.clear_recurrence or not event.recurrence:
        rule = ""
    elif (start, time_zone) != (event.start, event.time_zone):
        # The kept rule is re-read against the new start: an until date in the new zone.
        kept: Rule
        try:
            kept = recurrence.from_rrule(event.recurrence, tz=zone(event.time_zone))
        except ValueError:
            kept = event.recurrence  # a power user's rule: kept as written
        rule, start, end = _rule(kept, start=start, end=end, time_zone=time_zone, align_start=align)
    else:
        rule = event.recurrence
    if changes.extra_dates is not None:
        extra = _extra_starts(changes.extra_dates, start=start, time_zone=time_zone)
    else:
        # Extra dates keep their local days, at the (possibly new) local time of day.
        old_tz = zone(event.time_zone)
        extra = _extra_starts(
            [s.astimezone(old_tz).date() for s in event.extra_starts],
            start=start,
            time_zone=time_zone,
        )
    timing_changed = (start, end, time_zone, rule, extra) != (
        event.start,
        event.end,
        event.time_zone,
        event.recurrence,
        list(event.extra_starts),
    )
    event.title = title if title is not None else event.title
    event.description = description if description is not None else event.description
    event.start, event.end, event.time_zone, event.recurrence = start, end, time_zone, rule
    event.extra_starts = extra
    bump_version(
        event,
        now,
        "title",
        "description",
        "start",
        "end",
        "time_zone",
        "recurrence",
        "extra_starts",
    )
    dropped = 0
    if timing_changed or changes.excluded_dates is not None:
        dropped, _ = OccurrenceChange.objects.filter(event=event).delete()
    if timing_changed:
        Participant.objects.filter(event=event, role=Participant.Role.PARTY).update(
            rsvp=Rsvp.UNDECIDED
        )
    excluded = _exclude_dates(event, changes.excluded_dates or ())
    after = _snapshot(event)
    audit_record(
        actor=actor,
        action="event.update",
        subject=event,
        at=now,
        changes={
            "scope": UpdateScope.ALL.value,
            **{
                k: [before.get(k), after.get(k)]
                for k in after.keys() | before.keys()
                if before.get(k) != after.get(k)
            },
            **({"description": True} if description is not None else {}),
            "occurrence_changes_dropped": dropped,
            **({"excluded": excluded} if excluded else {}),
            "version": event.version,
        },
    )
    if changes.reminders is not None:
        reminder_services.reminders_replace(event=event, reminders=changes.reminders, now=now)
    elif timing_changed or excluded:
        reminder_services.reminders_reschedule(event=event, now=now)
    # Every change a calendar shows goes out as a REQUEST with a higher SEQUENCE (iTIP).
    notify_participants(event=event, kind=Notification.Kind.EVENT_SCHEDULED, now=now)
    return event


def _move_occurrence(
    *,
    actor: Actor,
    event: Event,
    changes: EventChanges,
    occurrence_start: datetime | None,
    now: datetime,
) -> Event:
    _require_recurring(event)
    assert event.start is not None
    assert event.end is not None
    if changes != EventChanges(start=changes.start, end=changes.end):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "Only the time of a single occurrence can change (use scope ALL for the rest).",
            field="scope",
        )
    original = _occurrence_start(event, occurrence_start)
    existing = OccurrenceChange.objects.filter(event=event, original_start=original).first()
    if existing is not None and existing.cancelled:
        raise DomainError(
            ErrorCode.OCCURRENCE_CANCELLED,
            "That occurrence is cancelled.",
            field="occurrenceStart",
        )
    duration = event.end - event.start
    current_start = existing.start if existing is not None else original
    current_end = existing.end if existing is not None else original + duration
    assert current_start is not None
    assert current_end is not None
    start, end, _ = _new_timing(event, changes, base_start=current_start, base_end=current_end)
    if (start, end) == (original, original + duration):
        OccurrenceChange.objects.filter(event=event, original_start=original).delete()
    else:
        OccurrenceChange.objects.update_or_create(
            event=event,
            original_start=original,
            defaults={"cancelled": False, "start": start, "end": end},
        )
    bump_version(event, now)
    audit_record(
        actor=actor,
        action="event.occurrence_move",
        subject=event,
        at=now,
        changes={
            "scope": UpdateScope.THIS_OCCURRENCE.value,
            "original_start": original,
            "start": [current_start, start],
            "end": [current_end, end],
            "version": event.version,
        },
    )
    reminder_services.reminders_reschedule(event=event, now=now)
    notify_participants(
        event=event, kind=Notification.Kind.EVENT_SCHEDULED, now=now, occurrence_start=original
    )
    return event


def _split(
    *,
    actor: Actor,
    event: Event,
    changes: EventChanges,
    title: str | None,
    description: str | None,
    occurrence_start: datetime | None,
    now: datetime,
) -> Event:
    """End the series before `occurrence_start` and continue it as a new event."""
    _require_recurring(event)
    assert event.start is not None
    assert event.end is not None
    original = _occurrence_start(event, occurrence_start)
    tz = zone(event.time_zone)
    if original == event.start:
        return _update_all(
            actor=actor, event=event, changes=changes, title=title, description=description, now=now
        )
    # The rest of the series: from the chosen occurrence, with the old rule (a COUNT reduced
    # by the occurrences before it) unless a new one is given; a time change applies from there.
    kept_rule = event.recurrence
    count = recurrence.rule_count(kept_rule)
    if count is not None:
        before_split = recurrence.expand(
            rule=kept_rule,
            start=event.start,
            end=event.start + _INSTANT,
            tz=tz,
            window_start=event.start,
            window_end=original,
            max_occurrences=10 * MAX_COUNT,
        )
        done = len({o for *_, o in before_split} - set(event.extra_starts))
        kept_rule = recurrence.with_count(kept_rule, max(count - done, 1))
    duration = event.end - event.start
    start, end, time_zone = _new_timing(
        event, changes, base_start=original, base_end=original + duration
    )
    if changes.clear_recurrence:
        rule = ""
    else:
        rule, start, end = _rule(
            changes.recurrence_rule or kept_rule,
            start=start,
            end=end,
            time_zone=time_zone,
            align_start=changes.align_start,
        )
    later_extra = [s for s in event.extra_starts if s >= original]
    timing_changed = (start, end, time_zone, rule) != (
        original,
        original + duration,
        event.time_zone,
        kept_rule,
    )
    if changes.extra_dates is not None:
        extra = _extra_starts(changes.extra_dates, start=start, time_zone=time_zone)
    elif timing_changed:
        extra = _extra_starts(
            [s.astimezone(tz).date() for s in later_extra], start=start, time_zone=time_zone
        )
    else:
        extra = later_extra
    before = _snapshot(event)
    # The old series ends with the last second before the chosen occurrence (UNTIL inclusive).
    event.recurrence = recurrence.with_until(
        recurrence.without_count(event.recurrence), original - timedelta(seconds=1)
    )
    event.extra_starts = [s for s in event.extra_starts if s < original]
    bump_version(event, now, "recurrence", "extra_starts")
    following = Event.objects.create(
        organizer=event.organizer,
        title=title if title is not None else event.title,
        description=description if description is not None else event.description,
        status=EventStatus.SCHEDULED,
        start=start,
        end=end,
        time_zone=time_zone,
        recurrence=rule,
        extra_starts=extra,
        created_at=now,
        updated_at=now,
    )
    people = list(Participant.objects.filter(event=event).select_related("user").order_by("pk"))
    Participant.objects.bulk_create(
        Participant(
            event=following,
            user_id=p.user_id,
            role=p.role,
            rsvp=p.rsvp if not timing_changed or p.role == p.Role.ORGANIZER else Rsvp.UNDECIDED,
        )
        for p in people
    )
    later = OccurrenceChange.objects.filter(event=event, original_start__gte=original)
    moved_over = 0
    if not timing_changed:
        # Same rule and times from here on: the exceptions keep their meaning on the new event.
        moved_over = later.update(event=following)
    else:
        later.delete()
    kept_reminders = list(event.reminders.values_list("offset_minutes", "channel", "offset_days"))
    audit_record(
        actor=actor,
        action="event.split",
        subject=event,
        at=now,
        changes={
            "scope": UpdateScope.THIS_AND_FOLLOWING.value,
            "original_start": original,
            "recurrence": [before["recurrence"], event.recurrence],
            "following": following.pk,
            "version": event.version,
        },
    )
    audit_record(
        actor=actor,
        action="event.create",
        subject=following,
        at=now,
        changes={
            **_snapshot(following),
            "split_from": event.pk,
            "participants": sorted(
                p.user.email for p in people if p.role == Participant.Role.PARTY
            ),
            "occurrence_changes_moved": moved_over,
            "version": following.version,
        },
    )
    reminder_services.reminders_reschedule(event=event, now=now)
    reminder_services.reminders_replace(
        event=following,
        reminders=changes.reminders if changes.reminders is not None else kept_reminders,
        now=now,
    )
    excluded = _exclude_dates(following, changes.excluded_dates or ())
    if excluded:
        reminder_services.reminders_reschedule(event=following, now=now)
    # iTIP: the old series' new end (UNTIL) and the new series, each a REQUEST of its own UID.
    notify_participants(event=event, kind=Notification.Kind.EVENT_SCHEDULED, now=now)
    notify_participants(event=following, kind=Notification.Kind.EVENT_SCHEDULED, now=now)
    return following


# --- one occurrence cancelled, answers ------------------------------------------------------


def occurrence_cancel(
    *,
    actor: Actor,
    event_id: int,
    occurrence_start: datetime,
    expected_version: int,
    now: datetime | None = None,
) -> Event:
    """Cancel one occurrence of a recurring event (organizer only), given by its original
    start; cancelling it twice changes nothing. A whole event is cancelled by eventCancel."""
    now = now or utcnow()
    with transaction.atomic(durable=True):
        event, _ = event_for_change(
            actor=actor,
            event_id=event_id,
            organizer_only=True,
            require=_require_scheduled,
            expected_version=expected_version,
        )
        _require_recurring(event)
        original = _occurrence_start(event, occurrence_start)
        existing = OccurrenceChange.objects.filter(event=event, original_start=original).first()
        if existing is not None and existing.cancelled:
            return event
        OccurrenceChange.objects.update_or_create(
            event=event,
            original_start=original,
            defaults={"cancelled": True, "start": None, "end": None},
        )
        bump_version(event, now)
        audit_record(
            actor=actor,
            action="event.occurrence_cancel",
            subject=event,
            at=now,
            changes={
                "original_start": original,
                "was_moved_to": [existing.start, existing.end] if existing else None,
                "version": event.version,
            },
        )
        reminder_services.reminders_reschedule(event=event, now=now)
        notify_participants(
            event=event, kind=Notification.Kind.EVENT_CANCELLED, now=now, occurrence_start=original
        )
    return event


def event_respond(
    *, actor: Actor, event_id: int, decision: str, now: datetime | None = None
) -> Participant:
    """Give your answer (YES, MAYBE, NO or UNDECIDED) to a scheduled event, for all its
    occurrences: a party, signed in or through their link. NO frees your time (freeTime) and
    stops your reminders. Answering the same again changes nothing."""
    now = now or utcnow()
    if decision not in Rsvp.values:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "Answer YES, MAYBE, NO or UNDECIDED.", field="decision"
        )
    with transaction.atomic(durable=True):
        event, participant = event_for_change(actor=actor, event_id=event_id)
        via = "link" if actor.access_token is not None else "account"
        return _answer(
            actor=actor, event=event, participant=participant, decision=decision, via=via, now=now
        )


def _answer(
    *,
    actor: Actor,
    event: Event,
    participant: Participant,
    decision: str,
    via: str,
    now: datetime,
    extra: dict[str, object] | None = None,
) -> Participant:
    """Record a party's answer (event locked by the caller); the audit entry says `via` what
    it came (account, link, imip-http, imip-imap)."""
    if participant.role == Participant.Role.ORGANIZER:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "The organizer attends their own event; cancel it instead.",
            field="decision",
        )
    _require_scheduled(event)
    if participant.rsvp == decision:
        return participant
    before = participant.rsvp
    participant.rsvp = decision
    participant.save(update_fields=["rsvp"])
    event.updated_at = now
    event.save(update_fields=["updated_at"])
    audit_record(
        actor=actor,
        action="event.respond",
        subject=event,
        at=now,
        changes={
            "participant": participant.user.email,
            "rsvp": [before, decision],
            "via": via,
            **(extra or {}),
            "version": event.version,
        },
    )
    reminder_services.reminders_reschedule(event=event, now=now)
    return participant


def event_respond_by_mail(
    *,
    event_id: int,
    email: str,
    decision: str,
    sequence: int,
    via: str,
    now: datetime | None = None,
) -> Participant:
    """Apply an iMIP REPLY's answer of the party with address `email` (already matched to
    the mail's sender by the caller). NOT_FOUND for an unknown event or someone not on it;
    STALE_VERSION when the REPLY answers an older invitation (SEQUENCE below the event's
    version: the time may have changed since); EVENT_NOT_SCHEDULED / EVENT_CANCELLED."""
    now = now or utcnow()
    if decision not in Rsvp.values:
        raise DomainError(ErrorCode.INVALID_INPUT, "Unknown answer.", field="decision")
    with transaction.atomic(durable=True):
        event = Event.objects.select_for_update(of=("self",)).filter(pk=event_id).first()
        participant = (
            Participant.objects.select_related("user")
            .filter(event=event, user__email=normalize_email(email))
            .first()
            if event is not None
            else None
        )
        if event is None or participant is None:
            raise NotFound("No such event.")
        if sequence < event.version:
            raise DomainError(
                ErrorCode.STALE_VERSION,
                f"The answer is to version {sequence}; the event is at {event.version}.",
                field="sequence",
            )
        return _answer(
            actor=SYSTEM,
            event=event,
            participant=participant,
            decision=decision,
            via=via,
            now=now,
            extra={"sequence": sequence},
        )


# --- working hours as day ranges ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayRange:
    """Working hours as people say them: from weekday `first` to weekday `last` (inclusive,
    wrapping past Sunday: FRI–MON is Fri, Sat, Sun, Mon), from `start` to `end` local time;
    `end` earlier than `start` means each shift ends the next day."""

    first: int
    last: int
    start: time
    end: time


def shifts_of(ranges: Sequence[DayRange]) -> list[Shift]:
    """One Shift per day of each range, in the order given (INVALID_INPUT on `ranges` for a
    weekday outside 0–6)."""
    shifts = []
    for index, r in enumerate(ranges):
        if not (0 <= r.first <= 6 and 0 <= r.last <= 6):
            raise DomainError(
                ErrorCode.INVALID_INPUT, f"ranges[{index}]: weekdays are 0–6.", field="ranges"
            )
        days = (r.last - r.first) % 7 + 1
        shifts += [Shift(weekday=(r.first + i) % 7, start=r.start, end=r.end) for i in range(days)]
    return shifts


def working_hours_set_ranges(
    *,
    actor: Actor,
    ranges: Sequence[DayRange],
    time_zone: str | None = None,
    now: datetime | None = None,
) -> list[WorkingHours]:
    """Replace the acting user's working hours by day ranges (optionally changing their zone):
    the same rules and the same single WorkingHours model as working_hours_set, which it calls."""
    return working_hours_set(actor=actor, shifts=shifts_of(ranges), time_zone=time_zone, now=now)
