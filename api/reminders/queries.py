from typing import Annotated

import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.ids import decode_id
from api.pagination import keyset_connection
from reservation.selectors import reminders as selectors

from .types import ChannelAddressType, ReminderDeliveryType, ReminderType

EventId = Annotated[strawberry.ID, strawberry.argument(description="The event's ID.")]


@strawberry.type
class ReminderQuery:
    @strawberry_django.field(
        description="Your reminder addresses, by channel (at most one per channel, so at "
        "most four)."
    )
    def channel_addresses(self, info: Info) -> list[ChannelAddressType]:
        user = actor_of(info).require_user()
        return selectors.channel_addresses_of(user=user)  # type: ignore[return-value]

    @strawberry_django.field(
        description="An event's reminders (its organizer only; at most ten per event)."
    )
    def event_reminders(self, info: Info, event_id: EventId) -> list[ReminderType]:
        user = actor_of(info).require_user()
        return selectors.event_reminders(  # type: ignore[return-value]
            user=user, event_id=decode_id(event_id, "Event")
        )

    @keyset_connection(
        ReminderDeliveryType,
        description="An event's reminder deliveries, latest due first, with their status, "
        "attempts and last error (its organizer only).",
    )
    def event_reminder_deliveries(
        self, info: Info, event_id: EventId
    ) -> list[ReminderDeliveryType]:
        user = actor_of(info).require_user()
        return selectors.event_reminder_deliveries(  # type: ignore[return-value]
            user=user, event_id=decode_id(event_id, "Event")
        )
