from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django
from strawberry import relay

from reservation import models

UpdatedSince = Annotated[
    datetime | None,
    strawberry.argument(
        description="Only those changed at or after this (their updatedAt), cancelled and "
        "expired ones included; deletions: deletedSince."
    ),
]


@strawberry_django.type(
    models.Tombstone,
    name="Tombstone",
    description="Something you could see that was deleted: drop it from your copy.",
)
class TombstoneType(relay.Node):
    subject_type: str = strawberry_django.field(
        description="Its type: Event, TimeOff or AvailabilityWindow."
    )
    deleted_at: datetime = strawberry_django.field(description="When it was deleted (UTC).")

    @strawberry_django.field(
        description="Its ID, as the API showed it.", only=["subject_type", "subject_id"]
    )
    def subject_id(self, root: models.Tombstone) -> strawberry.ID:
        return strawberry.ID(str(relay.GlobalID(root.subject_type, str(root.subject_id))))
