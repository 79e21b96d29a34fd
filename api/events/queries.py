from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django

from api.audit.types import AuditEntryType, AuditOrder
from api.context import Info, actor_of
from api.ids import decode_id
from api.pagination import keyset_connection
from api.sync.types import UpdatedSince
from reservation.selectors import events as event_selectors
from reservation.selectors.sync import changed_since
from reservation.services import events

from .types import EventOrder, EventStatus, EventType

EventId = Annotated[strawberry.ID, strawberry.argument(description="The event's ID.")]


@strawberry.type
class EventQuery:
    @strawberry_django.field(
        description="One event: for its organizer and parties (a link opens its own event "
        "only) and staff. Opening it through a link is recorded in its log."
    )
    def event(self, info: Info, id: EventId) -> EventType:
        event = events.event_view(actor=actor_of(info), event_id=decode_id(id, "Event"))
        # Re-read as a queryset, so the optimizer fetches what the response shows.
        return event_selectors.event_by_id(event_id=event.pk)  # type: ignore[return-value]

    @keyset_connection(
        EventType,
        description="The events you organise or are a party to, newest first unless orderBy says "
        "otherwise (not through "
        "a link). With a range: scheduled events overlapping it, and proposed ones with a "
        "candidate overlapping it.",
    )
    def events(
        self,
        info: Info,
        status: Annotated[
            list[EventStatus] | None,
            strawberry.argument(description="Only these statuses (null: all)."),
        ] = None,
        start: Annotated[
            datetime | None, strawberry.argument(description="Only those ending after this.")
        ] = None,
        end: Annotated[
            datetime | None, strawberry.argument(description="Only those starting before this.")
        ] = None,
        order_by: Annotated[
            EventOrder,  # type: ignore[valid-type]
            strawberry.argument(description="The order (the ID breaks ties)."),
        ] = EventOrder.CREATED_DESC,  # type: ignore[attr-defined]
        updated_since: UpdatedSince = None,
    ) -> list[EventType]:
        user = actor_of(info).require_user()
        found = event_selectors.event_list(
            user=user, statuses=[s.value for s in status] if status else None, start=start, end=end
        )
        found = changed_since(found, since=updated_since)
        return order_by.apply(found)  # type: ignore[return-value]

    @keyset_connection(
        AuditEntryType,
        description="Everything that happened to an event, oldest first unless orderBy says "
        "otherwise, each with the "
        "candidate list of that moment: for its organizer and parties (a link: its own event) "
        "and staff. Staff can still read it after the event is deleted.",
    )
    def event_log(
        self,
        info: Info,
        id: EventId,
        order_by: Annotated[
            AuditOrder,  # type: ignore[valid-type]
            strawberry.argument(description="The order (the ID breaks ties)."),
        ] = AuditOrder.AT_ASC,  # type: ignore[attr-defined]
    ) -> list[AuditEntryType]:
        found = event_selectors.event_log(actor=actor_of(info), event_id=decode_id(id, "Event"))
        return order_by.apply(found)  # type: ignore[return-value]
