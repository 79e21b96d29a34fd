"""A provider's explicit availability windows, and everyone's working hours and time off."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from django.db import IntegrityError, transaction
from django.db.models import Q

from reservation import slots
from reservation.actors import Actor, utcnow
from reservation.errors import DomainError, ErrorCode, NotFound
from reservation.models import AvailabilityWindow, TimeOff, WorkingHours
from reservation.services.audit import audit_record
from reservation.services.locks import lock_provider
from reservation.timezones import is_time_zone
from reservation.validation import require_range

MAX_WINDOWS_PER_CALL = 500
MAX_WORKING_HOURS = 7 * 8


def _validated_windows(
    windows: Sequence[tuple[datetime, datetime]], now: datetime
) -> list[tuple[datetime, datetime]]:
    if not windows:
        raise DomainError(ErrorCode.INVALID_INPUT, "Give at least one window.", field="windows")
    if len(windows) > MAX_WINDOWS_PER_CALL:
        raise DomainError(
            ErrorCode.TOO_MANY_WINDOWS,
            f"At most {MAX_WINDOWS_PER_CALL} windows per call; got {len(windows)}.",
            field="windows",
        )
    checked = []
    for index, (start, end) in enumerate(windows):
        try:
            start, end = require_range(start, end)
        except DomainError as exc:
            raise DomainError(
                exc.error_code, f"windows[{index}]: {exc.messages[0]}", field="windows"
            ) from exc
        if start < now:
            raise DomainError(
                ErrorCode.IN_THE_PAST, f"windows[{index}] starts in the past.", field="windows"
            )
        checked.append((start, end))
    return checked


def availability_bulk_create(
    *, actor: Actor, windows: Sequence[tuple[datetime, datetime]], now: datetime | None = None
) -> list[AvailabilityWindow]:
    """Add windows to the acting provider's availability. New windows merge with each other
    and with existing ones they overlap or touch; returns the provider's windows that now
    cover the submitted ones. All or nothing."""
    now = now or utcnow()
    provider = actor.require_provider()
    submitted = slots.merge(_validated_windows(windows, now))
    with transaction.atomic(durable=True):
        lock_provider(provider_id=provider.pk)
        touching = Q()
        for start, end in submitted:
            touching |= Q(start__lte=end, end__gte=start)
        absorbed = list(AvailabilityWindow.objects.filter(touching, provider=provider))
        merged = slots.merge([*submitted, *((w.start, w.end) for w in absorbed)])
        AvailabilityWindow.objects.filter(pk__in=[w.pk for w in absorbed]).delete()
        created = AvailabilityWindow.objects.bulk_create(
            AvailabilityWindow(provider=provider, start=start, end=end) for start, end in merged
        )
        audit_record(
            actor=actor,
            action="availability.add",
            subject=provider,
            at=now,
            changes={
                "added": [[s, e] for s, e in submitted],
                "merged_away": [[w.start, w.end] for w in absorbed],
                "merged_away_ids": [w.pk for w in absorbed],
                "result": [[s, e] for s, e in merged],
            },
        )
    return created


def availability_delete(
    *, actor: Actor, window_ids: Sequence[int], now: datetime | None = None
) -> int:
    """Delete some of the acting provider's windows (all must be theirs). Reservations
    already made in them stay."""
    now = now or utcnow()
    provider = actor.require_provider()
    ids = sorted(set(window_ids))
    if not ids:
        raise DomainError(ErrorCode.INVALID_INPUT, "Give at least one window.", field="ids")
    with transaction.atomic(durable=True):
        lock_provider(provider_id=provider.pk)
        found = list(AvailabilityWindow.objects.filter(pk__in=ids, provider=provider))
        if len(found) != len(ids):
            raise NotFound("No such availability window.")
        AvailabilityWindow.objects.filter(pk__in=ids).delete()
        audit_record(
            actor=actor,
            action="availability.delete",
            subject=provider,
            at=now,
            changes={"deleted": [[w.start, w.end] for w in found], "ids": ids},
        )
    return len(found)


@dataclass(frozen=True, slots=True)
class Shift:
    """One weekly shift as given: weekday 0 = Monday; end <= start ends the next day."""

    weekday: int
    start: time
    end: time


def working_hours_set(
    *,
    actor: Actor,
    shifts: Sequence[Shift],
    time_zone: str | None = None,
    now: datetime | None = None,
) -> list[WorkingHours]:
    """Replace the acting user's weekly working hours (and optionally their time zone)."""
    now = now or utcnow()
    user = actor.require_user()
    if time_zone is not None and not is_time_zone(time_zone):
        raise DomainError(
            ErrorCode.INVALID_TIME_ZONE,
            f"{time_zone!r} is not an IANA time zone (e.g. Europe/Berlin).",
            field="timeZone",
        )
    if len(shifts) > MAX_WORKING_HOURS:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"At most {MAX_WORKING_HOURS} shifts.", field="hours"
        )
    for index, shift in enumerate(shifts):
        if not 0 <= shift.weekday <= 6:
            raise DomainError(
                ErrorCode.INVALID_INPUT, f"hours[{index}]: weekday must be 0–6.", field="hours"
            )
        if shift.start == shift.end:
            raise DomainError(
                ErrorCode.INVALID_TIME_RANGE,
                f"hours[{index}]: start and end are equal.",
                field="hours",
            )
        if shift.start.tzinfo is not None or shift.end.tzinfo is not None:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"hours[{index}]: give local wall-clock times without an offset; "
                "the time zone is the person's.",
                field="hours",
            )
    if len({(s.weekday, s.start) for s in shifts}) != len(shifts):
        raise DomainError(
            ErrorCode.INVALID_INPUT, "Two shifts start at the same time.", field="hours"
        )
    with transaction.atomic(durable=True):
        provider = getattr(user, "provider", None)
        if provider is not None:
            lock_provider(provider_id=provider.pk)
        before = list(WorkingHours.objects.filter(user=user).values_list("weekday", "start", "end"))
        WorkingHours.objects.filter(user=user).delete()
        rows = WorkingHours.objects.bulk_create(
            WorkingHours(user=user, weekday=s.weekday, start=s.start, end=s.end)
            for s in sorted(shifts, key=lambda s: (s.weekday, s.start))
        )
        changes: dict[str, object] = {
            "before": [[w, s.isoformat(), e.isoformat()] for w, s, e in before],
            "after": [[r.weekday, r.start.isoformat(), r.end.isoformat()] for r in rows],
        }
        if time_zone is not None and time_zone != user.time_zone:
            changes["time_zone"] = [user.time_zone, time_zone]
            user.time_zone = time_zone
            user.save(update_fields=["time_zone"])
        audit_record(actor=actor, action="working_hours.set", subject=user, changes=changes, at=now)
    return rows


def time_off_create(
    *, actor: Actor, start: datetime, end: datetime, reason: str = "", now: datetime | None = None
) -> TimeOff:
    """Block a period of the acting user's time (it removes availability; existing
    reservations stay)."""
    now = now or utcnow()
    user = actor.require_user()
    start, end = require_range(start, end)
    if end <= now:
        raise DomainError(ErrorCode.IN_THE_PAST, "That period is over.", field="end")
    if len(reason) > 200:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "reason is too long (200 at most).", field="reason"
        )
    with transaction.atomic(durable=True):
        provider = getattr(user, "provider", None)
        if provider is not None:
            lock_provider(provider_id=provider.pk)
        try:
            time_off = TimeOff.objects.create(
                user=user, start=start, end=end, reason=reason.strip()
            )
        except IntegrityError as exc:  # pragma: no cover - the checks above match the constraint
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, "end must be after start.") from exc
        audit_record(
            actor=actor,
            action="time_off.create",
            subject=user,
            at=now,
            changes={"id": time_off.pk, "start": start, "end": end, "reason": time_off.reason},
        )
    return time_off


def time_off_delete(*, actor: Actor, time_off_id: int, now: datetime | None = None) -> None:
    """Remove one of the acting user's time-off periods."""
    now = now or utcnow()
    user = actor.require_user()
    with transaction.atomic(durable=True):
        provider = getattr(user, "provider", None)
        if provider is not None:
            lock_provider(provider_id=provider.pk)
        time_off = TimeOff.objects.filter(pk=time_off_id, user=user).first()
        if time_off is None:
            raise NotFound("No such time off.")
        audit_record(
            actor=actor,
            action="time_off.delete",
            subject=user,
            at=now,
            changes={"id": time_off.pk, "start": time_off.start, "end": time_off.end},
        )
        time_off.delete()
