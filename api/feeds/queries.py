import strawberry

from api.context import Info, actor_of
from api.pagination import keyset_connection
from reservation.selectors.feeds import calendar_feeds_of

from .types import CalendarFeedType


@strawberry.type
class FeedQuery:
    @keyset_connection(
        CalendarFeedType,
        description="Your calendar feeds, newest first (revoked ones included).",
    )
    def calendar_feeds(self, info: Info) -> list[CalendarFeedType]:
        user = actor_of(info).require_user()
        return calendar_feeds_of(user=user)  # type: ignore[return-value]
