"""Reads for booking: the policy in force, a provider's availability and busy time, and the
bookable slots. `available_slots` is the single validation path: reservation services accept
a start exactly when it would list it."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Q, QuerySet

from reservation import slots
from reservation.actors import utcnow
from reservation.errors import DomainError, ErrorCode, NotFound
from reservation.models import (
    AvailabilityWindow,
    BookingPolicy,
    ExternalBusy,
    Provider,
    Reservation,
    ReservationStatus,
    TimeOff,
    WorkingHours,
)
from reservation.slots import Interval, SlotRules, WeeklyHours
from reservation.timezones import zone
from reservation.validation import require_aware, require_range

MAX_SLOT_RANGE = timedelta(days=62)
MAX_SLOTS_PER_CALL = 1000


def policy_for(*, provider: Provider) -> BookingPolicy:
    """The provider's own policy, else the global default row, else built-in defaults."""
    policy = (
        BookingPolicy.objects.filter(Q(provider=provider) | Q(provider__isnull=True))
        .order_by("provider_id")  # NULLs sort last: the override wins
        .first()
    )
    return policy or BookingPolicy()


def slot_rules(policy: BookingPolicy) -> SlotRules:
    return SlotRules(
        slot_length=policy.slot_length,
        step=policy.step,
        min_notice=policy.min_notice,
        horizon=policy.horizon,
        buffer_before=policy.buffer_before,
        buffer_after=policy.buffer_after,
    )


def availability_span(
    *, provider: Provider, policy: BookingPolicy, now: datetime
) -> tuple[datetime, datetime]:
    """The fixed span over which availability is computed at `now`.

    It depends only on `now` and the policy, never on the range a client asks about, so the
    slot grid (anchored at each availability interval's start) is the same for a listing and
    for the check of a single reservation. It starts at the provider's local midnight of the
    day before, so round-the-clock availability anchors at a midnight, not at `now`.
    """
    tz = zone(provider.user.time_zone)
    local_day = (now - timedelta(days=1)).astimezone(tz).date()
    span_start = datetime.combine(local_day, time(0), tzinfo=tz).astimezone(now.tzinfo)
    span_end = now + policy.horizon + policy.slot_length + timedelta(days=1)
    return span_start, span_end


def provider_availability(
    *, provider: Provider, policy: BookingPolicy, now: datetime
) -> list[Interval]:
    """Explicit windows ∪ weekly working hours − time off, merged, over the availability span."""
    span_start, span_end = availability_span(provider=provider, policy=policy, now=now)
    windows = AvailabilityWindow.objects.filter(
        provider=provider, end__gt=span_start, start__lt=span_end
    ).values_list("start", "end")
    weekly = [
        WeeklyHours(weekday=w, start=s, end=e)
        for w, s, e in WorkingHours.objects.filter(user_id=provider.user_id).values_list(
            "weekday", "start", "end"
        )
    ]
    time_off = TimeOff.objects.filter(
        user_id=provider.user_id, end__gt=span_start, start__lt=span_end
    ).values_list("start", "end")
    return slots.availability(
        windows=list(windows),
        weekly=weekly,
        tz=zone(provider.user.time_zone),
        time_off=list(time_off),
        start=span_start,
        end=span_end,
    )


def active_reservations(*, now: datetime) -> Q:
    """Reservations that block time at `now`: confirmed, or held and not yet expired."""
    return Q(status=ReservationStatus.CONFIRMED) | Q(
        status=ReservationStatus.HELD, expires_at__gt=now
    )


def provider_busy(
    *,
    provider: Provider,
    policy: BookingPolicy,
    now: datetime,
    start: datetime,
    end: datetime,
    exclude_reservation_id: int | None = None,
) -> list[Interval]:
    """Times blocked by live reservations and connected calendars near [start, end) (widened
    by slot length and buffers, so everything that could touch a slot in range is seen)."""
    margin = policy.slot_length + policy.buffer_before + policy.buffer_after
    qs = Reservation.objects.filter(
        active_reservations(now=now),
        provider=provider,
        end__gt=start - margin,
        start__lt=end + margin,
    )
    if exclude_reservation_id is not None:
        qs = qs.exclude(pk=exclude_reservation_id)
    # Busy time copied from the provider's connected calendars blocks exactly like a
    # booking; one statement for both.
    external = ExternalBusy.objects.filter(
        user_id=provider.user_id, end__gt=start - margin, start__lt=end + margin
    ).values_list("start", "end")
    return list(qs.values_list("start", "end").union(external, all=True))


@dataclass(frozen=True, slots=True)
class SlotQuery:
    """Everything the pure slot function needs, gathered in a bounded number of queries."""

    availability: list[Interval]
    busy: list[Interval]
    rules: SlotRules
    policy: BookingPolicy


def slot_query(
    *,
    provider: Provider,
    start: datetime,
    end: datetime,
    now: datetime,
    exclude_reservation_id: int | None = None,
) -> SlotQuery:
    policy = policy_for(provider=provider)
    return SlotQuery(
        availability=provider_availability(provider=provider, policy=policy, now=now),
        busy=provider_busy(
            provider=provider,
            policy=policy,
            now=now,
            start=start,
            end=end,
            exclude_reservation_id=exclude_reservation_id,
        ),
        rules=slot_rules(policy),
        policy=policy,
    )


def available_slots(
    *, provider: Provider, start: datetime, end: datetime, now: datetime
) -> list[Interval]:
    """Bookable slots of `provider` lying in [start, end) at `now` (range checked by caller)."""
    query = slot_query(provider=provider, start=start, end=end, now=now)
    return slots.compute_slots(
        availability=query.availability,
        busy=query.busy,
        rules=query.rules,
        now=now,
        start=start,
        end=end,
    )


def active_provider(*, provider_id: int) -> Provider:
    """An active provider with their user loaded, or NOT_FOUND."""
    provider = (
        Provider.objects.select_related("user").filter(pk=provider_id, is_active=True).first()
    )
    if provider is None:
        raise NotFound("No such provider.")
    return provider


def provider_list() -> QuerySet[Provider]:
    """Active providers, in a stable order."""
    return Provider.objects.filter(is_active=True).order_by("id")


def provider_slots(
    *,
    provider_id: int,
    start: datetime,
    end: datetime,
    limit: int = MAX_SLOTS_PER_CALL,
    now: datetime | None = None,
) -> list[Interval]:
    """The first `limit` (1–1000) bookable slots of an active provider in [start, end) (at
    most 62 days) at `now`; ask again from the last one's end for more."""
    now = now or utcnow()
    if not 1 <= limit <= MAX_SLOTS_PER_CALL:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"first must be 1–{MAX_SLOTS_PER_CALL}.", field="first"
        )
    start, end = require_range(start, end, max_length=MAX_SLOT_RANGE)
    found = available_slots(
        provider=active_provider(provider_id=provider_id), start=start, end=end, now=now
    )
    return found[:limit]


def provider_windows(
    *, provider: Provider, start: datetime | None = None, end: datetime | None = None
) -> QuerySet[AvailabilityWindow]:
    """A provider's explicit windows overlapping [start, end), in order."""
    qs = AvailabilityWindow.objects.filter(provider=provider)
    if start is not None:
        qs = qs.filter(end__gt=require_aware(start, field="start"))
    if end is not None:
        qs = qs.filter(start__lt=require_aware(end, field="end"))
    return qs.order_by("start", "id")
