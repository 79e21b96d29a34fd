"""Incremental sync reads: what changed since a time, and what was deleted since."""

from datetime import datetime
from typing import TypeVar

from django.db.models import QuerySet

from reservation.models import Tombstone, User
from reservation.validation import require_aware

Q = TypeVar("Q", bound=QuerySet)


def changed_since(qs: Q, *, since: datetime | None, field: str = "updatedSince") -> Q:
    """`qs` narrowed to rows whose updated_at is at or after `since` (all when None).
    Cancelled and expired rows stay in: their status is the news."""
    if since is None:
        return qs
    return qs.filter(updated_at__gte=require_aware(since, field=field))


def tombstones_for(*, user: User, since: datetime) -> QuerySet[Tombstone]:
    """Objects the user could see that were deleted at or after `since`, oldest first."""
    since = require_aware(since, field="since")
    return Tombstone.objects.filter(deleted_at__gte=since, visible_to__contains=[user.pk]).order_by(
        "deleted_at", "id"
    )
