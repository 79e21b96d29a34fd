"""The outbox: a Notification row plus a Procrastinate job, written in the caller's
transaction, so a rolled-back action sends nothing and a committed one always sends."""

from datetime import datetime

from reservation.models import Event, EventAccessToken, Notification, Reservation, User


def notification_enqueue(
    *,
    kind: str,
    recipient: User,
    subject: str,
    body: str,
    now: datetime,
    link: str = "",
    event: Event | None = None,
    reservation: Reservation | None = None,
    access_token: EventAccessToken | None = None,
) -> Notification:
    """Record one e-mail as PENDING and defer the job that sends it (same transaction)."""
    from reservation.tasks import send_notification  # tasks import services: import late

    notification = Notification.objects.create(
        kind=kind,
        recipient=recipient,
        subject=subject[:300],
        body=body,
        link=link,
        event=event,
        reservation=reservation,
        access_token=access_token,
        created_at=now,
    )
    send_notification.defer(notification_id=notification.pk)
    return notification
