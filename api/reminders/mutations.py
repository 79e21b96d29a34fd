from typing import Annotated

import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.ids import decode_id
from api.payloads import payload
from reservation.actors import utcnow
from reservation.services import reminders

from .types import (
    ChannelAddressDeleted,
    ChannelAddressType,
    ReminderChannel,
    ReminderInput,
    ReminderType,
)


@strawberry.type(description="An event's reminders after a change.")
class EventReminders:
    reminders: list[ReminderType] = strawberry.field(description="The reminders, by offset.")


@strawberry.type
class ReminderMutation:
    @strawberry_django.mutation(
        description="Set where you receive reminders on a channel (not EMAIL: that goes to "
        "your account's address). A webhook without a secret gets a random one."
    )
    def channel_address_set(
        self,
        info: Info,
        channel: Annotated[ReminderChannel, strawberry.argument(description="The channel.")],
        address: Annotated[str, strawberry.argument(description="URL, chat id or phone.")],
        secret: Annotated[
            str | None, strawberry.argument(description="Webhooks: the signing key.")
        ] = None,
    ) -> payload("ChannelAddressSetPayload", ChannelAddressType, "The address, or why not."):
        return reminders.channel_address_set(  # type: ignore[return-value]
            actor=actor_of(info), channel=channel.value, address=address, secret=secret or ""
        )

    @strawberry_django.mutation(description="Stop receiving reminders on a channel.")
    def channel_address_delete(
        self,
        info: Info,
        channel: Annotated[ReminderChannel, strawberry.argument(description="The channel.")],
    ) -> payload("ChannelAddressDeletePayload", ChannelAddressDeleted, "Done, or why not."):
        deleted = reminders.channel_address_delete(actor=actor_of(info), channel=channel.value)
        return ChannelAddressDeleted(deleted=bool(deleted))

    @strawberry_django.mutation(
        description="Replace an event's reminders (its organizer only) and reschedule them "
        "for every participant who has not declined."
    )
    def event_reminders_set(
        self,
        info: Info,
        event_id: Annotated[strawberry.ID, strawberry.argument(description="The event's ID.")],
        reminders_: Annotated[
            list[ReminderInput],
            strawberry.argument(name="reminders", description="The reminders (at most ten)."),
        ],
    ) -> payload("EventRemindersSetPayload", EventReminders, "The reminders, or why not."):
        rows = reminders.event_reminders_set(
            actor=actor_of(info),
            event_id=decode_id(event_id, "Event"),
            reminders=[(r.offset_minutes, r.channel.value, r.offset_days) for r in reminders_],
            now=utcnow(),
        )
        return EventReminders(reminders=rows)  # type: ignore[arg-type]
