from datetime import datetime, time

import strawberry
import strawberry_django
from strawberry import relay

from api.accounts.types import UserType
from api.enums import described_enum
from api.pagination import Order
from reservation import models

ReservationStatus = described_enum(
    models.ReservationStatus,
    name="ReservationStatus",
    description="HELD (until expiresAt), CONFIRMED, CANCELLED or EXPIRED.",
    values={
        "HELD": "Reserved for a short while; confirm it before expiresAt.",
        "CONFIRMED": "Booked.",
        "CANCELLED": "Cancelled by the client or the provider.",
        "EXPIRED": "A hold that lapsed unconfirmed.",
    },
)

Weekday = described_enum(
    models.WorkingHours.Weekday,
    name="Weekday",
    description="Day of the week, in the person's own time zone.",
    values={
        day: day.capitalize()
        for day in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
    },
)


class ReservationOrderBy(Order):
    START_ASC = ("start", "id")
    START_DESC = ("-start", "-id")


ReservationOrder = described_enum(
    ReservationOrderBy,
    name="ReservationOrder",
    description="The order of a list of reservations.",
    values={"START_ASC": "Earliest start first.", "START_DESC": "Latest start first."},
)


@strawberry_django.type(
    models.Provider, name="Provider", description="Someone whose time clients book."
)
class ProviderType(relay.Node):
    @strawberry_django.field(
        description="Name shown to clients.",
        only=["display_name", "user__name"],
        select_related=["user"],
    )
    def name(self) -> str:
        # Never the e-mail address: this list is public.
        return self.display_name or self.user.name or f"Provider {self.pk}"

    @strawberry_django.field(
        description="The provider's IANA time zone.",
        only=["user__time_zone"],
        select_related=["user"],
    )
    def time_zone(self) -> str:
        return self.user.time_zone


@strawberry_django.type(models.Client, name="Client", description="Someone who books providers.")
class ClientType(relay.Node):
    user: UserType = strawberry_django.field(description="The client's account.")


@strawberry.type(description="A bookable period: reserve it by its start.")
class Slot:
    start: datetime = strawberry.field(description="Start (UTC).")
    end: datetime = strawberry.field(description="End (UTC), exclusive.")


@strawberry_django.type(
    models.Reservation, name="Reservation", description="A client's booking of a provider's time."
)
class ReservationType(relay.Node):
    provider: ProviderType = strawberry_django.field(description="Whose time is booked.")
    client: ClientType = strawberry_django.field(description="Who booked it.")
    start: datetime = strawberry_django.field(description="Start (UTC).")
    end: datetime = strawberry_django.field(description="End (UTC), exclusive.")
    status: ReservationStatus = strawberry_django.field(description="Where it stands.")
    expires_at: datetime | None = strawberry_django.field(
        description="While HELD: when the hold lapses unless confirmed (UTC)."
    )
    confirmed_at: datetime | None = strawberry_django.field(description="When it was confirmed.")
    cancelled_at: datetime | None = strawberry_django.field(description="When it was cancelled.")
    cancel_reason: str = strawberry_django.field(description="Why it was cancelled, if given.")
    created_at: datetime = strawberry_django.field(description="When it was made.")
    updated_at: datetime = strawberry_django.field(
        description="When it last changed (UTC): for syncing with updatedSince."
    )


@strawberry_django.type(
    models.AvailabilityWindow,
    name="AvailabilityWindow",
    description="An explicit period a provider offers for booking.",
)
class AvailabilityWindowType(relay.Node):
    start: datetime = strawberry_django.field(description="Start (UTC).")
    end: datetime = strawberry_django.field(description="End (UTC), exclusive.")
    updated_at: datetime = strawberry_django.field(
        field_name="created_at",
        description="When it last changed (UTC): windows are never edited in place (adding "
        "one that touches others replaces them), so this is when it was made.",
    )


@strawberry_django.type(
    models.WorkingHours,
    name="WorkingHours",
    description="A weekly shift in the person's own time zone.",
)
class WorkingHoursType:
    weekday: Weekday = strawberry_django.field(description="Day the shift starts on.")
    start: time = strawberry_django.field(description="Local start time.")
    end: time = strawberry_django.field(
        description="Local end time; earlier than start means it ends the next day."
    )


@strawberry_django.type(
    models.TimeOff, name="TimeOff", description="A period a person is unavailable."
)
class TimeOffType(relay.Node):
    start: datetime = strawberry_django.field(description="Start (UTC).")
    end: datetime = strawberry_django.field(description="End (UTC), exclusive.")
    reason: str = strawberry_django.field(description="Why, if given.")


@strawberry.type(description="The booking rules in force for a provider.")
class BookingRules:
    slot_length_minutes: int = strawberry.field(description="Length of every slot.")
    step_minutes: int = strawberry.field(description="Distance between slot starts.")
    min_notice_minutes: int = strawberry.field(description="How far ahead a slot must start.")
    horizon_days: int = strawberry.field(description="How far ahead bookings may go.")
    hold_minutes: int = strawberry.field(description="How long a hold lasts unconfirmed.")
    buffer_before_minutes: int = strawberry.field(description="Free time kept before a booking.")
    buffer_after_minutes: int = strawberry.field(description="Free time kept after a booking.")
    max_active_holds: int = strawberry.field(description="Unconfirmed holds a client may have.")


@strawberry.type(description="The provider's windows after the change.")
class AvailabilityWindows:
    windows: list[AvailabilityWindowType] = strawberry.field(
        description="Windows covering what was submitted, after merging."
    )


@strawberry.type(description="How many rows a delete removed.")
class DeleteResult:
    deleted: int = strawberry.field(description="Number of rows deleted.")


@strawberry.type(description="A person's weekly working hours.")
class WorkingHoursResult:
    time_zone: str = strawberry.field(description="The zone the hours are in.")
    hours: list[WorkingHoursType] = strawberry.field(description="The shifts, Monday first.")


@strawberry.input(description="A period to offer.")
class WindowInput:
    start: datetime = strawberry.field(description="Start, with a UTC offset.")
    end: datetime = strawberry.field(description="End, with a UTC offset; after start.")


@strawberry.input(description="A weekly shift, in local wall-clock time.")
class ShiftInput:
    weekday: Weekday = strawberry.field(description="Day the shift starts on.")
    start: time = strawberry.field(description="Local start, e.g. 09:00.")
    end: time = strawberry.field(description="Local end; earlier than start: the next day.")


@strawberry.input(description="What to reserve.")
class ReservationCreateInput:
    provider_id: strawberry.ID = strawberry.field(description="The provider's ID.")
    start: datetime = strawberry.field(description="A slot start from availableSlots.")
    idempotency_key: str = strawberry.field(
        default="",
        description="Repeat a request safely: the same key returns the same reservation.",
    )
