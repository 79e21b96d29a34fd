"""Delivering recorded notifications through Django's e-mail backend."""

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from reservation.models import Notification


def build_message(notification: Notification) -> EmailMessage:
    """The e-mail for a notification; its Message-ID is stable, so a resend is recognisable."""
    return EmailMessage(
        subject=notification.subject,
        body=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
        headers={"Message-ID": f"<notification-{notification.pk}@{settings.MAIL_DOMAIN}>"},
    )


def notification_send(*, notification_id: int, now: datetime) -> str:
    """Send a notification unless it was sent already, and record the outcome. A failure is
    recorded (FAILED, attempts, last error) and then re-raised so the job retries."""
    with transaction.atomic():
        # The row lock keeps two workers from sending the same mail at once.
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("recipient")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None or notification.status == Notification.Status.SENT:
            return "skipped"
        notification.attempts += 1
        try:
            build_message(notification).send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, then retried
            notification.status = Notification.Status.FAILED
            notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            notification.save(update_fields=["status", "attempts", "last_error"])
            failure = exc
        else:
            notification.status = Notification.Status.SENT
            notification.sent_at = now
            notification.last_error = ""
            if notification.link:
                # The link's secret stays in the outbox only until the mail has gone.
                notification.body = notification.body.replace(notification.link, "[link]")
                notification.link = ""
            notification.save(
                update_fields=["status", "attempts", "sent_at", "last_error", "link", "body"]
            )
            return notification.status
    raise failure
