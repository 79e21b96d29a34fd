from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.ids import decode_id, decode_ids
from api.payloads import payload
from api.ratelimit import rate_limited
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

ReservationId = Annotated[strawberry.ID, strawberry.argument(description="The reservation's ID.")]


@strawberry.type
class BookingMutation:
    @strawberry_django.mutation(
        description="Offer periods for booking (at most 500 per call). "
        "Overlapping and touching windows merge."
    )
    def availability_bulk_create(
        self,
        info: Info,
        windows: Annotated[list[WindowInput], strawberry.argument(description="1–500 periods.")],
    ) -> payload(
        "AvailabilityBulkCreatePayload", AvailabilityWindows, "The merged windows, or why not."
    ):
        created = availability.availability_bulk_create(
            actor=actor_of(info), windows=[(w.start, w.end) for w in windows]
        )
        return AvailabilityWindows(windows=created)  # type: ignore[arg-type]

    @strawberry_django.mutation(description="Delete some of your availability windows.")
    def availability_delete(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="IDs of your windows.")
        ],
    ) -> payload("AvailabilityDeletePayload", DeleteResult, "How many went, or why not."):
        deleted = availability.availability_delete(
            actor=actor_of(info), window_ids=decode_ids(ids, "AvailabilityWindow")
        )
        return DeleteResult(deleted=deleted)

    @strawberry_django.mutation(
        description="Replace your weekly working hours, in your time zone (optionally changing it)."
    )
    def working_hours_set(
        self,
        info: Info,
        hours: Annotated[
            list[ShiftInput], strawberry.argument(description="All your shifts (none: no hours).")
        ],
        time_zone: Annotated[
            str | None, strawberry.argument(description="New IANA zone; null keeps yours.")
        ] = None,
    ) -> payload("WorkingHoursSetPayload", WorkingHoursResult, "The hours now, or why not."):
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
        self,
        info: Info,
        start: Annotated[datetime, strawberry.argument(description="Start, with a UTC offset.")],
        end: Annotated[datetime, strawberry.argument(description="End, with a UTC offset.")],
        reason: Annotated[str, strawberry.argument(description="Why (at most 200).")] = "",
    ) -> payload("TimeOffCreatePayload", TimeOffType, "The time off, or why not."):
        return availability.time_off_create(
            actor=actor_of(info), start=start, end=end, reason=reason
        )

    @strawberry_django.mutation(description="Remove one of your time-off periods.")
    def time_off_delete(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The time off's ID.")],
    ) -> payload("TimeOffDeletePayload", DeleteResult, "1 when removed, or why not."):
        availability.time_off_delete(actor=actor_of(info), time_off_id=decode_id(id, "TimeOff"))
        return DeleteResult(deleted=1)

    @strawberry_django.mutation(description="Hold a slot until expiresAt; confirm it to keep it.")
    @rate_limited("reservation_create", by=["actor"])
    def reservation_create(
        self,
        info: Info,
        input: Annotated[ReservationCreateInput, strawberry.argument(description="What to hold.")],
    ) -> payload("ReservationCreatePayload", ReservationType, "The hold, or why not."):
        return reservations.reservation_create(
            actor=actor_of(info),
            provider_id=decode_id(input.provider_id, "Provider"),
            start=input.start,
            idempotency_key=input.idempotency_key,
        )

    @strawberry_django.mutation(description="Confirm your hold before it expires (idempotent).")
    def reservation_confirm(self, info: Info, id: ReservationId) -> payload(
        "ReservationConfirmPayload", ReservationType, "The reservation, or why not."
    ):
        return reservations.reservation_confirm(
            actor=actor_of(info), reservation_id=decode_id(id, "Reservation")
        )

    @strawberry_django.mutation(description="Cancel a reservation (its client or provider).")
    def reservation_cancel(
        self,
        info: Info,
        id: ReservationId,
        reason: Annotated[str, strawberry.argument(description="Why (at most 500).")] = "",
    ) -> payload("ReservationCancelPayload", ReservationType, "The reservation, or why not."):
        return reservations.reservation_cancel(
            actor=actor_of(info), reservation_id=decode_id(id, "Reservation"), reason=reason
        )

    @strawberry_django.mutation(description="Move a reservation to another slot, atomically.")
    def reservation_reschedule(
        self,
        info: Info,
        id: ReservationId,
        start: Annotated[
            datetime, strawberry.argument(description="The new start, from availableSlots.")
        ],
    ) -> payload(
        "ReservationReschedulePayload", ReservationType, "The moved reservation, or why not."
    ):
        return reservations.reservation_reschedule(
            actor=actor_of(info), reservation_id=decode_id(id, "Reservation"), start=start
        )
