from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django
from strawberry_django.relay import DjangoListConnection

from api.audit.types import AuditEntryType
from api.context import Info, actor_of
from api.ids import decode_id
from api.sync.types import UpdatedSince
from reservation.selectors import events as event_selectors
from reservation.selectors.sync import changed_since
from reservation.services import events

from .types import EventStatus, EventType

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

    @strawberry_django.connection(
        DjangoListConnection[EventType],
        description="The events you organise or are a party to, newest first (not through "
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
        updated_since: UpdatedSince = None,
    ) -> list[EventType]:
        user = actor_of(info).require_user()
        listed = event_selectors.event_list(
            user=user, statuses=[s.value for s in status] if status else None, start=start, end=end
        )
        return changed_since(listed, since=updated_since)  # type: ignore[return-value]

    @strawberry_django.connection(
        DjangoListConnection[AuditEntryType],
        description="Everything that happened to an event, oldest first, each with the "
        "candidate list of that moment: for its organizer and parties (a link: its own event) "
        "and staff. Staff can still read it after the event is deleted.",
    )
    def event_log(self, info: Info, id: EventId) -> list[AuditEntryType]:
        return event_selectors.event_log(  # type: ignore[return-value]
            actor=actor_of(info), event_id=decode_id(id, "Event")
        )
