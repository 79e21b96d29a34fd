from typing import Annotated

import strawberry

from api.context import Info, actor_of
from api.ids import decode_id
from api.pagination import keyset_connection
from reservation.selectors.webhooks import webhook_deliveries_of, webhooks_of

from .types import WebhookDeliveryType, WebhookType


@strawberry.type
class WebhookQuery:
    @keyset_connection(
        WebhookType,
        description="Your webhooks, newest first (disabled ones included).",
    )
    def webhooks(self, info: Info) -> list[WebhookType]:
        return webhooks_of(user=actor_of(info).require_user())  # type: ignore[return-value]

    @keyset_connection(
        WebhookDeliveryType,
        description="The delivery log of one of your webhooks, newest first.",
    )
    def webhook_deliveries(
        self,
        info: Info,
        webhook_id: Annotated[strawberry.ID, strawberry.argument(description="The webhook.")],
    ) -> list[WebhookDeliveryType]:
        return webhook_deliveries_of(  # type: ignore[return-value]
            user=actor_of(info).require_user(), webhook_id=decode_id(webhook_id, "Webhook")
        )
