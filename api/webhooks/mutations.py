from typing import Annotated

import strawberry
import strawberry_django
from strawberry import relay

from api.context import Info, actor_of
from api.ids import decode_id
from api.payloads import payload
from reservation.services import webhooks

from .types import (
    WebhookCreated,
    WebhookCreateInput,
    WebhookDeleted,
    WebhookDeliveryType,
    WebhookType,
    WebhookUpdateInput,
)

WebhookId = Annotated[strawberry.ID, strawberry.argument(description="The webhook's ID.")]


def _values(events: list | None) -> list[str] | None:
    return None if events is None else [getattr(e, "value", e) for e in events]


@strawberry.type
class WebhookMutation:
    @strawberry_django.mutation(
        description="Subscribe a URL to changes you may see (staff: to every change); the "
        "signing secret is returned once."
    )
    def webhook_create(
        self,
        info: Info,
        input: Annotated[WebhookCreateInput, strawberry.argument(description="The webhook.")],
    ) -> payload("WebhookCreatePayload", WebhookCreated, "The webhook and its secret, or why not."):
        webhook = webhooks.webhook_create(
            actor=actor_of(info),
            url=input.url,
            events=_values(input.events) or [],
            secret=input.secret,
            is_global=input.is_global,
        )
        return WebhookCreated(webhook=webhook, secret=webhook.secret)  # type: ignore[arg-type]

    @strawberry_django.mutation(description="Change one of your webhooks, or switch it on/off.")
    def webhook_update(
        self,
        info: Info,
        id: WebhookId,
        input: Annotated[WebhookUpdateInput, strawberry.argument(description="The changes.")],
    ) -> payload("WebhookUpdatePayload", WebhookType, "The webhook, or why not."):
        return webhooks.webhook_update(  # type: ignore[return-value]
            actor=actor_of(info),
            webhook_id=decode_id(id, "Webhook"),
            url=input.url,
            events=_values(input.events),
            secret=input.secret,
            active=input.active,
        )

    @strawberry_django.mutation(description="Delete one of your webhooks and its delivery log.")
    def webhook_delete(self, info: Info, id: WebhookId) -> payload(
        "WebhookDeletePayload", WebhookDeleted, "The deleted webhook's ID, or why not."
    ):
        pk = webhooks.webhook_delete(actor=actor_of(info), webhook_id=decode_id(id, "Webhook"))
        return WebhookDeleted(id=strawberry.ID(str(relay.GlobalID("Webhook", str(pk)))))

    @strawberry_django.mutation(
        description="Send one delivery of your webhook again (same envelope and event id)."
    )
    def webhook_redeliver(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The delivery's ID.")],
    ) -> payload("WebhookRedeliverPayload", WebhookDeliveryType, "The delivery, or why not."):
        return webhooks.webhook_redeliver(  # type: ignore[return-value]
            actor=actor_of(info), delivery_id=decode_id(id, "WebhookDelivery")
        )
