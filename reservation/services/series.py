"""Recurring appointments (seed 002's open question): "this slot every N weeks, M times" as
one action, built on the single-booking services so every occurrence passes exactly the
checks a single booking does (restriction, notice, horizon, availability, hold limit).

All-or-nothing (the default) first checks every occurrence against the slot listing and
books nothing when one is not free; a race lost between that check and the booking is undone
by cancelling what was booked. Otherwise it books what is free and reports each occurrence
that is not, with its code.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction

from reservation.actors import Actor, utcnow
from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import Reservation, ReservationSeries, SeriesMember, User
from reservation.notify_text import format_time
from reservation.selectors.booking import active_provider, available_slots, policy_for
from reservation.selectors.coaching import require_booking_allowed
from reservation.services.reservations import (
    reservation_cancel,
    reservation_confirm,
    reservation_create,
)
from reservation.timezones import zone
from reservation.validation import require_aware

MAX_EVERY_WEEKS = 12
MAX_COUNT = 52
UNDO_REASON = "The series could not be booked whole, so none of it was kept."


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One wanted start: booked (with its reservation), or not (with the code and why)."""

    index: int
    start: datetime
    reservation: Reservation | None = None
    code: str = ""
    message: str = ""


@dataclass(slots=True)
class SeriesResult:
    series: ReservationSeries | None
    occurrences: list[Occurrence] = field(default_factory=list)

    @property
    def booked(self) -> list[Occurrence]:
        return [o for o in self.occurrences if o.reservation is not None]

    @property
    def missed(self) -> list[Occurrence]:
        return [o for o in self.occurrences if o.reservation is None]


def series_starts(*, start: datetime, every_weeks: int, count: int, tz_name: str) -> list[datetime]:
    """The wanted starts: the same wall-clock time in the provider's zone every `every_weeks`
    weeks (so a 10:00 appointment stays at 10:00 across a DST change), in UTC."""
    tz = zone(tz_name)
    local = start.astimezone(tz)
    starts = []
    for index in range(count):
        day = local.date() + timedelta(weeks=every_weeks * index)
        wall = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
        starts.append(wall.astimezone(start.tzinfo))
    return starts


def _why(exc: Exception) -> tuple[str, str]:
    code = getattr(exc, "error_code", None)
    message = " ".join(exc.messages) if isinstance(exc, DomainError) else str(exc)
    return (code.value if code is not None else ErrorCode.INVALID_INPUT.value), message


def _check_inputs(every_weeks: int, count: int) -> None:
    if not 1 <= every_weeks <= MAX_EVERY_WEEKS:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"Repeat every 1 to {MAX_EVERY_WEEKS} weeks.",
            field="everyWeeks",
        )
    if not 2 <= count <= MAX_COUNT:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"A series has 2 to {MAX_COUNT} appointments.", field="count"
        )


def reservation_series_create(
    *,
    actor: Actor,
    provider_id: int,
    start: datetime,
    every_weeks: int,
    count: int,
    all_or_nothing: bool = True,
    now: datetime | None = None,
) -> SeriesResult:
    """Book `count` confirmed appointments `every_weeks` apart from `start` for the acting
    client. All-or-nothing: SERIES_INCOMPLETE (naming each occurrence that is not free) and
    nothing kept; otherwise the free ones are booked and the rest reported."""
    now = now or utcnow()
    client = actor.require_client()
    start = require_aware(start, field="start")
    _check_inputs(every_weeks, count)
    provider = active_provider(provider_id=provider_id)
    policy = policy_for(provider=provider)
    require_booking_allowed(policy=policy, provider_id=provider.pk, client_id=client.pk)
    starts = series_starts(
        start=start, every_weeks=every_weeks, count=count, tz_name=provider.time_zone
    )
    if all_or_nothing:
        # The listing's answer for each start (the single validation path), before any write.
        busy = [
            (i, s)
            for i, s in enumerate(starts)
            if (s, s + policy.slot_length)
            not in available_slots(provider=provider, start=s, end=s + policy.slot_length, now=now)
        ]
        if busy:
            raise _incomplete([Occurrence(index=i, start=s) for i, s in busy], client.user)
    with transaction.atomic(durable=True):
        series = ReservationSeries.objects.create(
            provider=provider,
            client=client,
            every_weeks=every_weeks,
            count=count,
            created_at=now,
        )
    result = SeriesResult(series=series)
    for index, wanted in enumerate(starts):
        try:
            held = reservation_create(
                actor=actor,
                provider_id=provider.pk,
                start=wanted,
                idempotency_key=f"series-{series.pk}-{index}",
                now=now,
            )
            booked = reservation_confirm(actor=actor, reservation_id=held.pk, now=now)
        except (DomainError, AccessDenied, NotFound) as exc:
            code, message = _why(exc)
            result.occurrences.append(
                Occurrence(index=index, start=wanted, code=code, message=message)
            )
            if all_or_nothing:
                _undo(actor=actor, result=result, now=now)
                raise _incomplete(result.missed, client.user) from exc
            continue
        SeriesMember.objects.create(series=series, reservation=booked, index=index)
        result.occurrences.append(Occurrence(index=index, start=wanted, reservation=booked))
    return result


def _incomplete(missed: list[Occurrence], user: User) -> DomainError:
    """SERIES_INCOMPLETE naming the times that are not free, in the client's zone."""
    when = "; ".join(format_time(o.start, user) for o in missed)
    return DomainError(
        ErrorCode.SERIES_INCOMPLETE,
        f"Nothing was booked: {len(missed)} of the times are not free ({when}).",
    )


def _undo(*, actor: Actor, result: SeriesResult, now: datetime) -> None:
    """Cancel what this attempt booked (a race was lost after the check)."""
    for occurrence in result.booked:
        assert occurrence.reservation is not None
        reservation_cancel(
            actor=actor, reservation_id=occurrence.reservation.pk, reason=UNDO_REASON, now=now
        )


def reservation_series_cancel(
    *, actor: Actor, reservation_id: int, reason: str = "", now: datetime | None = None
) -> list[Reservation]:
    """Cancel this reservation and every later live one of its series (each through
    `reservation_cancel`, so each is checked, audited and mailed); NOT_FOUND when it is not
    part of a series the actor may see."""
    now = now or utcnow()
    actor.require_user()
    member = (
        SeriesMember.objects.select_related("reservation").filter(reservation_id=reservation_id)
    ).first()
    if member is None:
        raise NotFound("No such series.")
    first = reservation_cancel(actor=actor, reservation_id=reservation_id, reason=reason, now=now)
    later = (
        Reservation.objects.filter(
            series_member__series_id=member.series_id,
            start__gt=member.reservation.start,
            end__gt=now,
            status__in=["HELD", "CONFIRMED"],
        )
        .order_by("start")
        .values_list("pk", flat=True)
    )
    done = [first]
    for pk in later:
        done.append(reservation_cancel(actor=actor, reservation_id=pk, reason=reason, now=now))
    return done
