import strawberry
import strawberry_django
from strawberry_django.relay import DjangoListConnection

from api.context import Info, actor_of
from reservation.selectors.feeds import calendar_feeds_of

from .types import CalendarFeedType


@strawberry.type
class FeedQuery:
    @strawberry_django.connection(
        DjangoListConnection[CalendarFeedType],
        description="Your calendar feeds, newest first (revoked ones included).",
    )
    def calendar_feeds(self, info: Info) -> list[CalendarFeedType]:
        user = actor_of(info).require_user()
        return calendar_feeds_of(user=user)  # type: ignore[return-value]
