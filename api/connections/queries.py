import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.pagination import keyset_connection
from reservation.selectors.external_calendars import (
    calendar_connections_of,
    writebacks_needing_attention,
)

from .types import CalendarConnectionType, CalendarWritebackType


@strawberry.type
class ConnectionQuery:
    @keyset_connection(
        CalendarConnectionType,
        description="Your connected calendars, with their calendars and last sync.",
    )
    def calendar_connections(self, info: Info) -> list[CalendarConnectionType]:
        user = actor_of(info).require_user()
        return calendar_connections_of(user=user)  # type: ignore[return-value]

    @strawberry_django.field(
        description="Your bookings whose copy in your calendar was edited, deleted or not "
        "written (at most 100, earliest first)."
    )
    def calendar_writeback_problems(self, info: Info) -> list[CalendarWritebackType]:
        user = actor_of(info).require_user()
        return writebacks_needing_attention(user=user)[:100]  # type: ignore[return-value]
