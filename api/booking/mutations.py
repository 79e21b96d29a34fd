from datetime import datetime

import strawberry
import strawberry_django
from strawberry import relay

from api.context import Info, actor_of
from api.ids import decode_id, decode_ids
from reservation.services import availability, reservations

from .types import (
    AvailabilityWindows,
    DeleteResult,
    ReservationCreateInput,
    ReservationType,
    ShiftInput,
    TimeOffType,
    WindowInput,
    WorkingHoursResult,
)


@strawberry.type
class BookingMutation:
    @strawberry_django.mutation(
        description="Offer periods for booking (at most 500 per call). "
        "Overlapping and touching windows merge."
    )
    def availability_bulk_create(
        self, info: Info, windows: list[WindowInput]
    ) -> AvailabilityWindows:
        created = availability.availability_bulk_create(
            actor=actor_of(info), windows=[(w.start, w.end) for w in windows]
        )
        return AvailabilityWindows(windows=created)  # type: ignore[arg-type]

    @strawberry_django.mutation(description="Delete some of your availability windows.")
    def availability_delete(self, info: Info, ids: list[relay.GlobalID]) -> DeleteResult:
        deleted = availability.availability_delete(
            actor=actor_of(info), window_ids=decode_ids(ids, "AvailabilityWindow")
        )
        return DeleteResult(deleted=deleted)

    @strawberry_django.mutation(
        description="Replace your weekly working hours, in your time zone (optionally changing it)."
    )
    def working_hours_set(
        self, info: Info, hours: list[ShiftInput], time_zone: str | None = None
    ) -> WorkingHoursResult:
        actor = actor_of(info)
        rows = availability.working_hours_set(
            actor=actor,
            time_zone=time_zone,
            shifts=[
                availability.Shift(weekday=h.weekday.value, start=h.start, end=h.end) for h in hours
            ],
        )
        return WorkingHoursResult(time_zone=actor.user.time_zone, hours=rows)  # type: ignore

    @strawberry_django.mutation(description="Block a period of your time.")
    def time_off_create(
        self, info: Info, start: datetime, end: datetime, reason: str = ""
    ) -> TimeOffType:
        return availability.time_off_create(  # type: ignore[return-value]
            actor=actor_of(info), start=start, end=end, reason=reason
        )

    @strawberry_django.mutation(description="Remove one of your time-off periods.")
    def time_off_delete(self, info: Info, id: relay.GlobalID) -> DeleteResult:
        availability.time_off_delete(actor=actor_of(info), time_off_id=decode_id(id, "TimeOff"))
        return DeleteResult(deleted=1)

    @strawberry_django.mutation(description="Hold a slot until expiresAt; confirm it to keep it.")
    def reservation_create(self, info: Info, input: ReservationCreateInput) -> ReservationType:
        return reservations.reservation_create(  # type: ignore[return-value]
            actor=actor_of(info),
            provider_id=decode_id(input.provider_id, "Provider"),
            start=input.start,
            idempotency_key=input.idempotency_key,
        )

    @strawberry_django.mutation(description="Confirm your hold before it expires (idempotent).")
    def reservation_confirm(self, info: Info, id: relay.GlobalID) -> ReservationType:
        return reservations.reservation_confirm(  # type: ignore[return-value]
            actor=actor_of(info), reservation_id=decode_id(id, "Reservation")
        )

    @strawberry_django.mutation(description="Cancel a reservation (its client or provider).")
    def reservation_cancel(
        self, info: Info, id: relay.GlobalID, reason: str = ""
    ) -> ReservationType:
        return reservations.reservation_cancel(  # type: ignore[return-value]
            actor=actor_of(info), reservation_id=decode_id(id, "Reservation"), reason=reason
        )

    @strawberry_django.mutation(description="Move a reservation to another slot, atomically.")
    def reservation_reschedule(
        self, info: Info, id: relay.GlobalID, start: datetime
    ) -> ReservationType:
        return reservations.reservation_reschedule(  # type: ignore[return-value]
            actor=actor_of(info), reservation_id=decode_id(id, "Reservation"), start=start
        )
