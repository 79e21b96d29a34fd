from typing import Annotated

import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.ids import decode_id
from api.payloads import payload
from reservation.services import external_calendars

from .types import CalendarConnectionKind, CalendarConnectionType, ExternalCalendarType


@strawberry.type
class ConnectionMutation:
    @strawberry_django.mutation(
        description="Connect a CalDAV account (its calendars are discovered; use an app "
        "password) or an .ics subscription URL. Every calendar blocks your time until you "
        "deselect it; the first sync runs in the background."
    )
    def calendar_connection_create(
        self,
        info: Info,
        kind: Annotated[CalendarConnectionKind, strawberry.argument(description="Which kind.")],
        url: Annotated[
            str, strawberry.argument(description="The CalDAV server or .ics URL (https).")
        ],
        username: Annotated[
            str, strawberry.argument(description="CalDAV user name (not for ICS).")
        ] = "",
        password: Annotated[
            str,
            strawberry.argument(
                description="CalDAV (app) password; stored encrypted, never shown."
            ),
        ] = "",
    ) -> payload(
        "CalendarConnectionCreatePayload", CalendarConnectionType, "The connection, or why not."
    ):
        return external_calendars.calendar_connection_create(  # type: ignore[return-value]
            actor=actor_of(info),
            kind=kind.value,
            url=url,
            username=username,
            password=password,
        )

    @strawberry_django.mutation(
        description="Choose whether a connected calendar blocks your time and whether your "
        "confirmed bookings are written to it (one CalDAV calendar at most)."
    )
    def external_calendar_update(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The calendar's ID.")],
        busy: Annotated[
            bool | None, strawberry.argument(description="Its events block your time.")
        ] = None,
        write_back: Annotated[
            bool | None, strawberry.argument(description="Write your bookings to it.")
        ] = None,
    ) -> payload(
        "ExternalCalendarUpdatePayload", ExternalCalendarType, "The calendar, or why not."
    ):
        return external_calendars.external_calendar_update(  # type: ignore[return-value]
            actor=actor_of(info),
            calendar_id=decode_id(id, "ExternalCalendar"),
            busy=busy,
            write_back=write_back,
        )

    @strawberry_django.mutation(description="Sync a connection now, in the background.")
    def calendar_connection_sync(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The connection's ID.")],
    ) -> payload(
        "CalendarConnectionSyncPayload", CalendarConnectionType, "The connection, or why not."
    ):
        return external_calendars.calendar_connection_sync_request(  # type: ignore[return-value]
            actor=actor_of(info), connection_id=decode_id(id, "CalendarConnection")
        )

    @strawberry_django.mutation(
        description="Disconnect: its busy time stops counting (events already written stay)."
    )
    def calendar_connection_delete(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The connection's ID.")],
    ) -> payload(
        "CalendarConnectionDeletePayload", CalendarConnectionType, "The removed connection."
    ):
        return external_calendars.calendar_connection_delete(  # type: ignore[return-value]
            actor=actor_of(info), connection_id=decode_id(id, "CalendarConnection")
        )
