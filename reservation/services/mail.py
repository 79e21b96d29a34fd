"""Delivering recorded notifications through Django's e-mail backend (console for `make run`,
SMTP from the EMAIL_* environment variables in production)."""

from datetime import datetime
from email.mime.text import MIMEText

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from reservation.ical import notification_invite
from reservation.models import Notification


def message_id(notification: Notification) -> str:
    """The same for every attempt, so a resend is recognisable as the same message."""
    return f"<notification-{notification.pk}@{settings.MAIL_DOMAIN}>"


def build_message(notification: Notification, *, now: datetime) -> EmailMessage:
    """The e-mail for a notification: its plain-text body and, for a scheduled event or a
    confirmed booking (or their cancellation), an .ics attachment built from the rows as they
    are now."""
    message = EmailMessage(
        subject=notification.subject,
        body=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
        headers={"Message-ID": message_id(notification)},
    )
    invite = notification_invite(notification, stamp=now)
    if invite is not None:
        part = MIMEText(invite.content.decode(), "calendar", "utf-8")
        part.set_param("method", invite.method)
        part.add_header("Content-Disposition", "attachment", filename=invite.filename)
        message.attach(part)
    return message


def notification_send(*, notification_id: int, now: datetime) -> str:
    """Send a notification unless it was sent already, and record the attempt: SENT with
    `sent_at`, or FAILED with `last_error`; `attempts` counts both. Returns the new status, or
    "skipped" when there is nothing to send. A failure is recorded, then re-raised so that
    the job is retried with backoff (see tasks.send_notification).

    When the retries are used up the job ends `failed` in Procrastinate and the row stays
    FAILED with its attempts and last error, visible in the admin; deferring
    `send_notification` again for it sends it.

    Exactly once: the row is locked and checked before the SMTP hand-off and marked SENT in
    the same transaction, so two jobs for one notification never both send it, and a worker
    that dies before the SMTP server has accepted the message leaves the row unsent (its
    transaction dies with it) for the retried job. One window remains: a worker that dies
    after the server accepted the message but before the commit sends it again on the retry.
    The Message-ID is then the same, so mail clients can recognise the duplicate.
    """
    with transaction.atomic():
        # The row lock keeps two workers from sending the same mail at once.
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related(
                "recipient",
                "event__organizer",
                "reservation__client__user",
                "reservation__provider__user",
            )
            .filter(pk=notification_id)
            .first()
        )
        if notification is None or notification.status == Notification.Status.SENT:
            return "skipped"
        notification.attempts += 1
        try:
            build_message(notification, now=now).send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, then retried
            notification.status = Notification.Status.FAILED
            notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            notification.save(update_fields=["status", "attempts", "last_error"])
            failure = exc
        else:
            notification.status = Notification.Status.SENT
            notification.sent_at = now
            notification.last_error = ""
            if notification.access_token_id is not None and notification.link:
                # A link with an access token is a secret: it stays in the outbox only until
                # the mail has gone.
                notification.body = notification.body.replace(notification.link, "[link]")
                notification.link = ""
            notification.save(
                update_fields=["status", "attempts", "sent_at", "last_error", "link", "body"]
            )
            return notification.status
    raise failure
