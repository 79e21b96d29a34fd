from datetime import datetime
from enum import Enum

import strawberry
import strawberry_django
from strawberry import relay

from reservation import models


@strawberry.enum(description="What kind of calendar a connection is.")
class CalendarConnectionKind(Enum):
    CALDAV = strawberry.enum_value(
        "CALDAV",
        description="A CalDAV account (Nextcloud, "
        "Fastmail, iCloud, Radicale, ...): read and written.",
    )
    ICS = strawberry.enum_value("ICS", description="An iCalendar subscription URL: read only.")


@strawberry.enum(description="How the last sync of a connection went.")
class CalendarSyncState(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Not synced yet.")
    OK = strawberry.enum_value("OK", description="The last sync succeeded.")
    ERROR = strawberry.enum_value(
        "ERROR", description="The last sync failed; the last good copy still counts."
    )


@strawberry.enum(description="A booking's copy in the provider's calendar.")
class CalendarWritebackState(Enum):
    OK = strawberry.enum_value("OK", description="In the calendar as booked.")
    CHANGED = strawberry.enum_value(
        "CHANGED", description="Moved or edited there by its owner; not overwritten."
    )
    MISSING = strawberry.enum_value("MISSING", description="Deleted there by its owner.")
    ERROR = strawberry.enum_value("ERROR", description="Could not be written (retried).")


@strawberry_django.type(
    models.ExternalCalendar,
    name="ExternalCalendar",
    description="One calendar of a connection.",
)
class ExternalCalendarType(relay.Node):
    name: str = strawberry_django.field(description="Its display name on the server.")
    href: str = strawberry_django.field(description="Its URL on the server.")
    busy: bool = strawberry_django.field(description="Its events block your time.")
    write_back: bool = strawberry_django.field(
        description="Your confirmed bookings (as a provider) are written to it."
    )


@strawberry_django.type(
    models.CalendarConnection,
    name="CalendarConnection",
    description="A calendar account or subscription of yours; its password is never shown.",
)
class CalendarConnectionType(relay.Node):
    kind: CalendarConnectionKind = strawberry_django.field(description="Account or subscription.")
    url: str = strawberry_django.field(description="The server or subscription URL.")
    username: str = strawberry_django.field(description="The account's user name (CalDAV).")
    state: CalendarSyncState = strawberry_django.field(description="How the last sync went.")
    last_synced_at: datetime | None = strawberry_django.field(
        description="When the last successful sync ended (UTC)."
    )
    last_attempt_at: datetime | None = strawberry_django.field(
        description="When a sync was last tried (UTC)."
    )
    last_error: str = strawberry_django.field(description="Why the last sync failed, or empty.")
    calendars: list[ExternalCalendarType] = strawberry_django.field(
        description="Its calendars (an .ics subscription has one)."
    )


@strawberry_django.type(
    models.CalendarWriteback,
    name="CalendarWriteback",
    description="A booking of yours whose copy in your calendar needs a look.",
)
class CalendarWritebackType:
    uid: str = strawberry_django.field(description="The event's UID in your calendar.")
    state: CalendarWritebackState = strawberry_django.field(description="What happened to it.")
    last_error: str = strawberry_django.field(description="Details, or empty.")
    start: datetime | None = strawberry_django.field(description="The booked start written (UTC).")
    end: datetime | None = strawberry_django.field(description="The booked end written (UTC).")

    @strawberry_django.field(description="The reservation's global ID.", only=["reservation_id"])
    def reservation_id(self) -> strawberry.ID:
        return strawberry.ID(relay.to_base64("Reservation", self.reservation_id))  # type: ignore[attr-defined]
