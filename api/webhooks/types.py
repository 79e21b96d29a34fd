from datetime import datetime

import strawberry
import strawberry_django
from strawberry import relay

from api.enums import described_enum
from reservation import models

WebhookEventType = described_enum(
    models.WebhookEventType,
    name="WebhookEventType",
    description="A change a webhook can hear about; the envelope's `type` is its dotted form "
    "(RESERVATION_CREATED: reservation.created).",
    values={
        "RESERVATION_CREATED": "A slot was held (reservation.created).",
        "RESERVATION_CONFIRMED": "A hold was confirmed (reservation.confirmed).",
        "RESERVATION_CANCELLED": "A reservation was cancelled (reservation.cancelled).",
        "RESERVATION_RESCHEDULED": "A reservation moved (reservation.rescheduled).",
        "RESERVATION_EXPIRED": "A hold lapsed unconfirmed (reservation.expired).",
        "EVENT_PROPOSED": "An event was proposed (event.proposed).",
        "EVENT_NARROWED": "An event's candidates were narrowed (event.narrowed).",
        "EVENT_EXTENDED": "Candidates were added to an event (event.extended).",
        "EVENT_AGREED": "An event's time was agreed (event.agreed).",
        "EVENT_CANCELLED": "An event was cancelled (event.cancelled).",
        "RSVP_ANSWERED": "A participant answered (rsvp.answered).",
    },
)

WebhookDeliveryStatus = described_enum(
    models.WebhookDelivery.Status,
    name="WebhookDeliveryStatus",
    description="PENDING (queued or retrying), DELIVERED, FAILED (retrying, or given up: see "
    "the attempts) or SKIPPED (the owner can no longer see the object).",
    values={
        "PENDING": "Queued, or waiting for its next attempt.",
        "DELIVERED": "The receiver answered 2xx.",
        "FAILED": "The last attempt failed (retrying, or given up: see the attempts).",
        "SKIPPED": "Not sent: the owner can no longer see the object.",
    },
)


@strawberry_django.type(
    models.Webhook,
    name="Webhook",
    description="A URL that is sent a signed JSON envelope for each change it subscribes to.",
)
class WebhookType(relay.Node):
    url: str = strawberry_django.field(description="Where deliveries are POSTed (https).")
    events: list[WebhookEventType] = strawberry_django.field(description="What it hears about.")
    is_global: bool = strawberry_django.field(
        description="Staff only: hears about every change, not only yours."
    )
    is_active: bool = strawberry_django.field(
        description="False once switched off, by you or after a run of failed deliveries."
    )
    consecutive_failures: int = strawberry_django.field(
        description="Failed attempts in a row (reset by a successful one)."
    )
    disabled_at: datetime | None = strawberry_django.field(
        description="When it was switched off (UTC)."
    )
    created_at: datetime = strawberry_django.field(description="When it was created (UTC).")
    updated_at: datetime = strawberry_django.field(description="When it last changed (UTC).")


@strawberry_django.type(
    models.WebhookAttempt, name="WebhookAttempt", description="One POST of a delivery."
)
class WebhookAttemptType:
    number: int = strawberry_django.field(description="1 for the first attempt, and so on.")
    at: datetime = strawberry_django.field(description="When it was made (UTC).")
    status_code: int | None = strawberry_django.field(
        description="The receiver's HTTP status; null if it did not answer."
    )
    duration_ms: int = strawberry_django.field(description="How long it took, in milliseconds.")
    error: str = strawberry_django.field(description="Why it failed; empty on success.")


@strawberry_django.type(
    models.WebhookDelivery,
    name="WebhookDelivery",
    description="One change sent (or to be sent) to one webhook, with its attempts.",
)
class WebhookDeliveryType(relay.Node):
    event_type: WebhookEventType = strawberry_django.field(description="What happened.")
    occurred_at: datetime = strawberry_django.field(description="When it happened (UTC).")
    status: WebhookDeliveryStatus = strawberry_django.field(description="Where it stands.")
    attempts: int = strawberry_django.field(description="How many POSTs were made.")
    delivered_at: datetime | None = strawberry_django.field(
        description="When the receiver accepted it (UTC)."
    )
    attempt_log: list[WebhookAttemptType] = strawberry_django.field(
        description="Every attempt, first first."
    )

    @strawberry_django.field(
        description="The envelope's id (evt_…): the same for every webhook told of this "
        "change and on every redelivery, so a receiver can drop duplicates.",
        only=["audit_entry_id"],
    )
    def event_id(self, root: models.WebhookDelivery) -> str:
        return root.event_id

    @strawberry_django.field(
        description="The JSON envelope as sent (empty until the first attempt).", only=["body"]
    )
    def body(self, root: models.WebhookDelivery) -> str:
        return root.body


@strawberry.type(description="A new webhook and its signing secret, shown this once.")
class WebhookCreated:
    webhook: WebhookType = strawberry.field(description="The stored webhook.")
    secret: str = strawberry.field(
        description="The HMAC-SHA256 key of X-Rendezvous-Signature: HMAC over "
        "'<X-Rendezvous-Timestamp>.<body>'. Not shown again."
    )


@strawberry.type(description="The webhook that was deleted.")
class WebhookDeleted:
    id: strawberry.ID = strawberry.field(description="Its ID.")


@strawberry.input(description="A new webhook.")
class WebhookCreateInput:
    url: str = strawberry.field(description="An https URL on a public address.")
    events: list[WebhookEventType] = strawberry.field(description="What it hears about.")
    secret: str | None = strawberry.field(
        default=None, description="Signing key (16 to 200 characters); generated if omitted."
    )
    is_global: bool = strawberry.field(
        default=False, description="Staff only: hear about every change."
    )


@strawberry.input(description="What to change on a webhook; omitted fields stay.")
class WebhookUpdateInput:
    url: str | None = strawberry.field(default=None, description="A new URL.")
    events: list[WebhookEventType] | None = strawberry.field(
        default=None, description="A new list of events."
    )
    secret: str | None = strawberry.field(default=None, description="A new signing key.")
    active: bool | None = strawberry.field(
        default=None, description="Switch it off, or back on (forgetting its failures)."
    )
