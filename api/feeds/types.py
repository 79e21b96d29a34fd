from datetime import datetime

import strawberry
import strawberry_django
from strawberry import relay

from reservation import models


@strawberry_django.type(
    models.CalendarFeed,
    name="CalendarFeed",
    description="A private calendar feed URL of yours (its secret is never shown again).",
)
class CalendarFeedType(relay.Node):
    created_at: datetime = strawberry_django.field(description="When it was created (UTC).")
    revoked_at: datetime | None = strawberry_django.field(
        description="When it was revoked (UTC); a revoked feed's URL answers 404."
    )


@strawberry.type(description="A new calendar feed and its URL, shown this once.")
class CalendarFeedCreated:
    feed: CalendarFeedType = strawberry.field(description="The stored feed.")
    url: str = strawberry.field(
        description="Subscribe to this .ics URL in a calendar app. Not retrievable later."
    )
