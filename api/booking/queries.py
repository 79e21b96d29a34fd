from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.ids import decode_id
from api.pagination import keyset_connection
from api.sync.types import UpdatedSince
from reservation.actors import utcnow
from reservation.models import User
from reservation.selectors import accounts as account_selectors
from reservation.selectors import booking as booking_selectors
from reservation.selectors import coaching as coaching_selectors
from reservation.selectors import reservations as reservation_selectors
from reservation.selectors.sync import changed_since

from .types import (
    AvailabilityWindowType,
    BookingRules,
    ProviderType,
    ReservationOrder,
    ReservationStatus,
    ReservationType,
    Slot,
    TimeOffType,
    WorkingHoursResult,
)

ProviderId = Annotated[strawberry.ID, strawberry.argument(description="The provider's ID.")]


def signed_in_user(info: Info) -> User | None:
    """The signed-in user, or None (anonymous, or an event link's holder)."""
    actor = actor_of(info)
    return actor.user if actor.is_authenticated and actor.access_token is None else None


def rules_of(policy) -> BookingRules:
    return BookingRules(
        slot_length_minutes=policy.slot_length_minutes,
        step_minutes=int(policy.step.total_seconds() // 60),
        min_notice_minutes=policy.min_notice_minutes,
        horizon_days=policy.horizon_days,
        hold_minutes=policy.hold_minutes,
        buffer_before_minutes=policy.buffer_before_minutes,
        buffer_after_minutes=policy.buffer_after_minutes,
        max_active_holds=policy.max_active_holds,
    )


@strawberry.type
class BookingQuery:
    @keyset_connection(ProviderType, description="Active providers.")
    def providers(self, info: Info) -> list[ProviderType]:
        # Providers who take bookings only from their own clients are listed to those clients.
        return coaching_selectors.providers_bookable_by(  # type: ignore[return-value]
            user=signed_in_user(info)
        )

    @strawberry_django.field(description="The booking rules in force for a provider.")
    def booking_rules(self, info: Info, provider_id: ProviderId) -> BookingRules:
        provider = booking_selectors.active_provider(provider_id=decode_id(provider_id, "Provider"))
        return rules_of(booking_selectors.policy_for(provider=provider))

    @strawberry_django.field(
        description="Bookable slots of a provider in [start, end) (at most 62 days), earliest "
        "first; at most `first` of them (ask again from the last one's end for more)."
    )
    def available_slots(
        self,
        info: Info,
        provider_id: ProviderId,
        start: Annotated[datetime, strawberry.argument(description="From (with a UTC offset).")],
        end: Annotated[datetime, strawberry.argument(description="Until, exclusive.")],
        first: Annotated[
            int, strawberry.argument(description="How many slots at most (1–1000).")
        ] = 1000,
    ) -> list[Slot]:
        found = coaching_selectors.provider_slots_for(
            user=signed_in_user(info),
            provider_id=decode_id(provider_id, "Provider"),
            start=start,
            end=end,
            limit=first,
            now=utcnow(),
        )
        return [Slot(start=s, end=e) for s, e in found]

    @keyset_connection(
        ReservationType,
        description="Reservations you may see (yours as client, with you as provider; staff: "
        "all), by start unless orderBy says otherwise. A reservation is in [start, end) when "
        "it overlaps it.",
    )
    def reservations(
        self,
        info: Info,
        status: Annotated[
            list[ReservationStatus] | None,
            strawberry.argument(description="Only these statuses (null: all)."),
        ] = None,
        provider_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this provider's.")
        ] = None,
        start: Annotated[
            datetime | None, strawberry.argument(description="Only those ending after this.")
        ] = None,
        end: Annotated[
            datetime | None, strawberry.argument(description="Only those starting before this.")
        ] = None,
        order_by: Annotated[
            ReservationOrder,  # type: ignore[valid-type]
            strawberry.argument(description="The order (the ID breaks ties)."),
        ] = ReservationOrder.START_ASC,  # type: ignore[attr-defined]
        updated_since: UpdatedSince = None,
    ) -> list[ReservationType]:
        user = actor_of(info).require_user()
        found = reservation_selectors.reservation_list(
            user=user,
            statuses=[s.value for s in status] if status else None,
            provider_id=decode_id(provider_id, "Provider") if provider_id else None,
            start=start,
            end=end,
        ).filter(coaching_selectors.client_history_filter(user=user, now=utcnow()))
        found = changed_since(found, since=updated_since)
        return order_by.apply(found)  # type: ignore[return-value]

    @strawberry_django.field(description="One reservation you may see.")
    def reservation(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The reservation's ID.")],
    ) -> ReservationType:
        return reservation_selectors.reservation_for(  # type: ignore[return-value]
            user=actor_of(info).require_user(), reservation_id=decode_id(id, "Reservation")
        )

    @keyset_connection(
        AvailabilityWindowType,
        description="Your explicit availability windows (providers).",
    )
    def availability_windows(
        self,
        info: Info,
        start: Annotated[
            datetime | None, strawberry.argument(description="Only those ending after this.")
        ] = None,
        end: Annotated[
            datetime | None, strawberry.argument(description="Only those starting before this.")
        ] = None,
        updated_since: UpdatedSince = None,
    ) -> list[AvailabilityWindowType]:
        provider = actor_of(info).require_provider()
        return booking_selectors.provider_windows(  # type: ignore[return-value]
            provider=provider, start=start, end=end, updated_since=updated_since
        )

    @strawberry_django.field(description="Your weekly working hours.")
    def working_hours(self, info: Info) -> WorkingHoursResult:
        user = actor_of(info).require_user()
        return WorkingHoursResult(
            time_zone=user.time_zone,
            hours=list(account_selectors.working_hours_of(user=user)),  # type: ignore[arg-type]
        )

    @keyset_connection(TimeOffType, description="Your time off, in order.")
    def time_off(self, info: Info) -> list[TimeOffType]:
        user = actor_of(info).require_user()
        return account_selectors.time_off_of(user=user)  # type: ignore[return-value]
