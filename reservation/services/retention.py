"""Retention: what is kept only for a while (see tasks.prune_old_data)."""

from datetime import datetime

from reservation.models import Notification


def notification_bodies_prune(*, sent_before: datetime) -> int:
    """Empty the bodies of notifications SENT before `sent_before` (a mail's text is the
    recipient's business once delivered); the row, subject and status stay. Returns how many
    were emptied."""
    return (
        Notification.objects.filter(status=Notification.Status.SENT, sent_at__lt=sent_before)
        .exclude(body="")
        .update(body="")
    )
