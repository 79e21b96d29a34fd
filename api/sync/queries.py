from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info, actor_of
from api.pagination import keyset_connection
from reservation.selectors.sync import tombstones_for

from .types import TombstoneType


@strawberry.type
class SyncQuery:
    @keyset_connection(
        TombstoneType,
        description="Events, time off and availability windows you could see that were "
        "deleted at or after `since`, oldest first: with updatedSince on reservations, events "
        "and availabilityWindows, keeps a local copy exact.",
    )
    def deleted_since(
        self,
        info: Info,
        since: Annotated[datetime, strawberry.argument(description="Deleted at or after this.")],
    ) -> list[TombstoneType]:
        user = actor_of(info).require_user()
        return tombstones_for(user=user, since=since)  # type: ignore[return-value]
