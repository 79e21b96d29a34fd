"""The calendar: events created scheduled (optionally recurring), changed for all occurrences,
one occurrence, or this and the following ones; one occurrence cancelled; answers (RSVP) of
participants; working hours given as day ranges.

Decisions:

- `event_update` scopes. ALL changes the series itself. THIS_OCCURRENCE moves one occurrence
  (an OccurrenceChange): only its time can differ, as the model keeps one title per event.
  THIS_AND_FOLLOWING ends the series just before the chosen occurrence (UNTIL) and creates a new
  event with the same people for the rest, as RFC 5545 clients do when splitting a series; it
  applies to rules without COUNT only (a split COUNT would need the occurrences counted in the
  old zone; rejected with INVALID_INPUT rather than guessed).
- When an event's time, zone or rule changes (ALL), its moved and cancelled occurrences are
  dropped (they were keyed on starts the old rule generated) and every party's answer goes
  back to UNDECIDED: they agreed to another time. A title or description change keeps both.
- Answers (RSVP) are one per participant for the whole series; a party answers for themself,
  signed in or through their event link. The organizer attends by definition and does not
  answer (INVALID_INPUT); cancelling is how they withdraw.
- Creating events in the past is allowed (a series that began last week, a meeting logged
  afterwards): a calendar records, it does not book.

Every write runs in one durable transaction with its audit entry; reminder deliveries are
rescheduled (services.reminders) and mails enqueued in that transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from django.db import transaction

from reservation import recurrence
from reservation.actors import Actor, utcnow
from reservation.errors import DomainError, ErrorCode
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
    acting_participant,
    bump_version,
    lock_event,
    notify_participants,
    require_organizer,
    require_version,
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


def _rule(spec: RecurrenceSpec | None, *, start: datetime, end: datetime, time_zone: str) -> str:
    """The RRULE value stored for `spec` ('' for none). INVALID_TIME_RANGE when `until` is before
    the start; INVALID_INPUT when the rule yields no occurrence."""
    if spec is None:
        return ""
    tz = zone(time_zone)
    if spec.until is not None and spec.until < start.astimezone(tz).date():
        raise DomainError(
            ErrorCode.INVALID_TIME_RANGE,
            "The recurrence ends (until) before the event starts.",
            field="recurrence",
        )
    rule = recurrence.to_rrule(spec, tz=tz)
    first = recurrence.expand(
        rule=rule,
        start=start,
        end=end,
        tz=tz,
        window_start=start,
        window_end=start + _FIRST_OCCURRENCE_HORIZON,
        max_occurrences=10 * MAX_COUNT,
    )
    if not first:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "The recurrence yields no occurrence.", field="recurrence"
        )
    return rule


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
    recurrence_rule: RecurrenceSpec | None = None,
    reminders: Sequence[tuple[int, str]] = (),
    now: datetime | None = None,
) -> Event:
    """Create a SCHEDULED event (recurring in `time_zone` when a rule is given) with the acting
    user as organizer (RSVP YES) and the participants by e-mail (UNDECIDED; unknown addresses
    become people who act through links); each participant is e-mailed."""
    now = now or utcnow()
    organizer = actor.require_user()
    title_, description_ = _text(title, description)
    assert title_ is not None
    start, end = _times(start, end)
    time_zone = _time_zone(time_zone)
    emails = _participant_emails(participants, organizer_email=organizer.email)
    rule = _rule(recurrence_rule, start=start, end=end, time_zone=time_zone)
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
            created_at=now,
            updated_at=now,
        )
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
                "reminders": [[offset, channel] for offset, channel in reminders],
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
    recurrence_rule: RecurrenceSpec | None = None
    clear_recurrence: bool = False
    reminders: Sequence[tuple[int, str]] | None = None


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
        event = lock_event(actor, event_id)
        require_organizer(actor=actor, event=event)
        _require_scheduled(event)
        require_version(event, expected_version)
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
    if changes.recurrence_rule is not None:
        rule = _rule(changes.recurrence_rule, start=start, end=end, time_zone=time_zone)
    elif changes.clear_recurrence or not event.recurrence:
        rule = ""
    elif (start, time_zone) != (event.start, event.time_zone):
        # The kept rule is re-read against the new start: an until date in the new zone.
        spec = recurrence.from_rrule(event.recurrence, tz=zone(event.time_zone))
        rule = _rule(spec, start=start, end=end, time_zone=time_zone)
    else:
        rule = event.recurrence
    timing_changed = (start, end, time_zone, rule) != (
        event.start,
        event.end,
        event.time_zone,
        event.recurrence,
    )
    event.title = title if title is not None else event.title
    event.description = description if description is not None else event.description
    event.start, event.end, event.time_zone, event.recurrence = start, end, time_zone, rule
    bump_version(event, now, "title", "description", "start", "end", "time_zone", "recurrence")
    dropped = 0
    if timing_changed:
        dropped, _ = OccurrenceChange.objects.filter(event=event).delete()
        Participant.objects.filter(event=event, role=Participant.Role.PARTY).update(
            rsvp=Rsvp.UNDECIDED
        )
    after = _snapshot(event)
    audit_record(
        actor=actor,
        action="event.update",
        subject=event,
        at=now,
        changes={
            "scope": UpdateScope.ALL.value,
            **{k: [before[k], after[k]] for k in after if before[k] != after[k]},
            **({"description": True} if description is not None else {}),
            "occurrence_changes_dropped": dropped,
            "version": event.version,
        },
    )
    if changes.reminders is not None:
        reminder_services.reminders_replace(event=event, reminders=changes.reminders, now=now)
    elif timing_changed:
        reminder_services.reminders_reschedule(event=event, now=now)
    if timing_changed:
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
    old_spec = recurrence.from_rrule(event.recurrence, tz=tz)
    if old_spec.count is not None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "A series with a count can be changed for all occurrences or one, not split.",
            field="scope",
        )
    if original == event.start:
        return _update_all(
            actor=actor, event=event, changes=changes, title=title, description=description, now=now
        )
    # The rest of the series: from the chosen occurrence, with the old rule (and its end)
    # unless a new one is given; a time change applies from there on.
    duration = event.end - event.start
    start, end, time_zone = _new_timing(
        event, changes, base_start=original, base_end=original + duration
    )
    if changes.clear_recurrence:
        rule = ""
    else:
        rule = _rule(changes.recurrence_rule or old_spec, start=start, end=end, time_zone=time_zone)
    timing_changed = (start, end, time_zone, rule) != (
        original,
        original + duration,
        event.time_zone,
        event.recurrence,
    )
    before = _snapshot(event)
    # The old series ends with the last second before the chosen occurrence (UNTIL inclusive).
    event.recurrence = recurrence.to_rrule(
        RecurrenceSpec(
            kind=old_spec.kind,
            interval=old_spec.interval,
            weekdays=old_spec.weekdays,
            month_day=old_spec.month_day,
            weekday=old_spec.weekday,
            week_of_month=old_spec.week_of_month,
            until=original - timedelta(seconds=1),
        ),
        tz=tz,
    )
    bump_version(event, now, "recurrence")
    following = Event.objects.create(
        organizer=event.organizer,
        title=title if title is not None else event.title,
        description=description if description is not None else event.description,
        status=EventStatus.SCHEDULED,
        start=start,
        end=end,
        time_zone=time_zone,
        recurrence=rule,
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
    kept_reminders = list(event.reminders.values_list("offset_minutes", "channel"))
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
    if timing_changed:
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
        event = lock_event(actor, event_id)
        require_organizer(actor=actor, event=event)
        _require_scheduled(event)
        require_version(event, expected_version)
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
        event = lock_event(actor, event_id)
        participant = acting_participant(actor=actor, event=event)
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
                "version": event.version,
            },
        )
        reminder_services.reminders_reschedule(event=event, now=now)
    return participant


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
