from typing import Annotated

import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.ids import decode_id
from api.payloads import payload
from reservation.services import feeds

from .types import CalendarFeedCreated, CalendarFeedType


@strawberry.type
class FeedMutation:
    @strawberry_django.mutation(
        description="Create a private calendar feed of your events and bookings; its URL is "
        "returned once."
    )
    def calendar_feed_create(self, info: Info) -> payload(
        "CalendarFeedCreatePayload", CalendarFeedCreated, "The feed and its URL, or why not."
    ):
        feed, secret = feeds.calendar_feed_create(actor=actor_of(info))
        return CalendarFeedCreated(
            feed=feed,  # type: ignore[arg-type]
            url=feeds.calendar_feed_url(secret=secret),
        )

    @strawberry_django.mutation(
        description="Revoke one of your calendar feeds (idempotent): its URL stops working."
    )
    def calendar_feed_revoke(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The feed's ID.")],
    ) -> payload("CalendarFeedRevokePayload", CalendarFeedType, "The revoked feed, or why not."):
        return feeds.calendar_feed_revoke(  # type: ignore[return-value]
            actor=actor_of(info), feed_id=decode_id(id, "CalendarFeed")
        )
