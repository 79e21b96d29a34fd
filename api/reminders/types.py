from datetime import datetime

import strawberry
import strawberry_django
from strawberry import relay

from api.accounts.types import UserType
from api.calendar.types import ReminderChannel, ReminderInput
from api.enums import described_enum
from reservation import models

# One enum and one input for reminders across the API: api.calendar's (event create/update).
__all__ = ["ReminderChannel", "ReminderInput"]

ReminderDeliveryStatus = described_enum(
    models.ReminderDelivery.Status,
    name="ReminderDeliveryStatus",
    description="SCHEDULED (a job waits for the due time), SENT, FAILED (retrying, or given "
    "up: see attempts and lastError) or CANCELLED (the event moved or was cancelled).",
    values={
        "SCHEDULED": "A job waits for the due time.",
        "SENT": "Delivered to the channel.",
        "FAILED": "Sending failed (retrying, or given up: see attempts and lastError).",
        "CANCELLED": "Not to be sent: the event moved or was cancelled.",
    },
)


@strawberry_django.type(
    models.ChannelAddress,
    name="ChannelAddress",
    description="Where you receive reminders on one channel.",
)
class ChannelAddressType:
    channel: ReminderChannel = strawberry_django.field(description="The channel.")
    address: str = strawberry_django.field(
        description="A webhook or Slack incoming-webhook URL, a Telegram chat id, or a phone "
        "number (+ and digits)."
    )
    secret: str = strawberry_django.field(
        description="Webhooks: the HMAC-SHA256 key of X-Rendezvous-Signature; empty otherwise."
    )


@strawberry_django.type(
    models.Reminder, name="Reminder", description="A reminder before each occurrence of an event."
)
class ReminderType(relay.Node):
    offset_minutes: int = strawberry_django.field(
        description="How long before the start, in minutes (0 to 50 days), after offsetDays."
    )
    offset_days: int = strawberry_django.field(
        description="Days before, in calendar time: the same local time n days earlier (0–50)."
    )
    channel: ReminderChannel = strawberry_django.field(description="How it is sent.")


@strawberry_django.type(
    models.ReminderDelivery,
    name="ReminderDelivery",
    description="One reminder to one person for one occurrence, and how its sending went.",
)
class ReminderDeliveryType(relay.Node):
    reminder: ReminderType = strawberry_django.field(description="The reminder.")
    recipient: UserType = strawberry_django.field(description="Who it is for.")
    occurrence_start: datetime = strawberry_django.field(
        description="The start of the occurrence it is about (UTC)."
    )
    due_at: datetime = strawberry_django.field(description="When it is (was) due (UTC).")
    status: ReminderDeliveryStatus = strawberry_django.field(description="Where it stands.")
    attempts: int = strawberry_django.field(description="How many times sending was tried.")
    last_error: str = strawberry_django.field(
        description="Why the last attempt failed; empty once sent."
    )
    sent_at: datetime | None = strawberry_django.field(description="When it was sent (UTC).")


@strawberry.type(description="A removal's result.")
class ChannelAddressDeleted:
    deleted: bool = strawberry.field(description="Whether there was an address to remove.")
