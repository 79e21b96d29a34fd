"""Writes of a person's sharing settings."""

from datetime import datetime

from django.db import transaction

from reservation.actors import Actor, utcnow
from reservation.errors import DomainError, ErrorCode
from reservation.models import FreeBusySharing, User
from reservation.services.audit import audit_record


def free_busy_sharing_set(*, actor: Actor, sharing: str, now: datetime | None = None) -> User:
    """Set who may see the acting user's free/busy time (audited when it changes)."""
    now = now or utcnow()
    user = actor.require_user()
    if sharing not in FreeBusySharing.values:
        raise DomainError(ErrorCode.INVALID_INPUT, "Unknown sharing setting.", field="sharing")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.free_busy_sharing != sharing:
            before = user.free_busy_sharing
            user.free_busy_sharing = sharing
            user.save(update_fields=["free_busy_sharing"])
            audit_record(
                actor=actor,
                action="user.free_busy_sharing",
                subject=user,
                changes={"free_busy_sharing": [before, sharing]},
                at=now,
            )
    return user
