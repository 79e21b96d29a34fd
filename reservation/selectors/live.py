"""Reads for live subscriptions (api/subscriptions): a provider's bookable slots together with
the next instant at which they change with nothing written, and what a change notification
names."""

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Min

from reservation import slots
from reservation.errors import DomainError, ErrorCode
from reservation.models import BookingPolicy, Provider, Reservation, ReservationStatus
from reservation.selectors.booking import (
    MAX_SLOT_RANGE,
    MAX_SLOTS_PER_CALL,
    active_provider,
    slot_query,
)
from reservation.slots import Interval
from reservation.validation import require_range

# A slot at `s` is bookable while now + min_notice <= s: it goes one tick after that.
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class SlotState:
    """The bookable slots at `computed_at`, and what a subscriber's permission check needs."""

    slots: tuple[Interval, ...]
    provider: Provider
    policy: BookingPolicy
    computed_at: datetime
    # The first instant after computed_at at which `slots` may differ though nothing was
    # written: a live hold in the range lapses, the first slot passes inside the minimum
    # notice, or a slot comes inside the booking horizon. None: no such instant is known.
    next_change_at: datetime | None


def slot_range(*, start: datetime, end: datetime, first: int) -> tuple[datetime, datetime]:
    """The checks availableSlots makes of its arguments (1–1000 slots, at most 62 days)."""
    if not 1 <= first <= MAX_SLOTS_PER_CALL:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"first must be 1–{MAX_SLOTS_PER_CALL}.", field="first"
        )
    return require_range(start, end, max_length=MAX_SLOT_RANGE)


def slot_state(*, provider_id: int, start: datetime, end: datetime, now: datetime) -> SlotState:
    """Every bookable slot of an active provider in [start, end) (range already checked) at
    `now`, computed as availableSlots computes them (slot_query + compute_slots), and when they
    next change by the clock alone. Two statements: the slot data, and the earliest expiry of
    a live hold near the range."""
    provider = active_provider(provider_id=provider_id)
    query = slot_query(provider=provider, start=start, end=end, now=now)
    rules = query.rules
    found = slots.compute_slots(
        availability=query.availability,
        busy=query.busy,
        rules=rules,
        now=now,
        start=start,
        end=end,
    )
    boundaries: list[datetime] = []
    if found:
        boundaries.append(found[0][0] - rules.min_notice + _TICK)
    horizon_end = now + rules.horizon
    if horizon_end < end - rules.slot_length:
        # Slots past the horizon today come inside it as the clock moves: the first of them.
        later = slots.compute_slots(
            availability=query.availability,
            busy=query.busy,
            rules=dataclasses.replace(rules, horizon=end - now),
            now=now,
            start=max(start, horizon_end),
            end=end,
        )
        upcoming = next((s for s, _ in later if s > horizon_end), None)
        if upcoming is not None:
            boundaries.append(upcoming - rules.horizon)
    margin = rules.slot_length + rules.buffer_before + rules.buffer_after
    lapse = Reservation.objects.filter(
        provider_id=provider.pk,
        status=ReservationStatus.HELD,
        expires_at__gt=now,
        start__lt=end + margin,
        end__gt=start - margin,
    ).aggregate(at=Min("expires_at"))["at"]
    if lapse is not None:
        boundaries.append(lapse + _TICK)  # busy while expires_at > now
    return SlotState(
        slots=tuple(found),
        provider=provider,
        policy=query.policy,
        computed_at=now,
        next_change_at=min(boundaries) if boundaries else None,
    )
