"""Delivering recorded notifications through Django's e-mail backend (console for `make run`,
SMTP from the EMAIL_* environment variables in production)."""

import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from email.mime.text import MIMEText

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import DatabaseError, InterfaceError, connection, transaction

from reservation.ical import notification_invite
from reservation.models import EventAccessToken, Notification
from reservation.notify_text import LINK_PLACEHOLDER, with_link, without_links
from reservation.services.events import access_token_mint, event_link
from reservation.services.manage_links import with_manage_link

logger = logging.getLogger(__name__)

# Recorded on an invitation not sent because its link can no longer work.
LINK_GONE = (
    "Not sent: link superseded/expired (a newer mail carries the person's link, or the link "
    "was revoked, has expired or its event is gone)."
)


def message_id(notification: Notification) -> str:
    """The same for every attempt, so a resend is recognisable as the same message."""
    return f"<notification-{notification.pk}@{settings.MAIL_DOMAIN}>"


def build_message(
    notification: Notification, *, now: datetime, link: str | None = None
) -> EmailMessage:
    """The e-mail for a notification: its plain-text body (with `link` in place of an
    invitation's placeholder) and, for a scheduled event or a confirmed booking (or their
    cancellation), an .ics attachment built from the rows as they are now."""
    body = notification.body if link is None else with_link(notification.body, link)
    message = EmailMessage(
        subject=notification.subject,
        body=with_manage_link(body, notification, now=now),  # booking mails: client's link
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


def _live_token(notification: Notification, *, now: datetime) -> EventAccessToken | None:
    """The invitation's access token, locked, if its link can still work: not revoked (as a
    newer invitation to the person revokes it), not expired, its event still there."""
    if notification.access_token_id is None:
        return None
    return (
        EventAccessToken.objects.select_for_update(of=("self",))
        .select_related("event")
        .filter(pk=notification.access_token_id, revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )


def notification_send(*, notification_id: int, now: datetime, final_attempt: bool = False) -> str:
    """Send a notification unless it was sent already, and record the attempt: SENT with
    `sent_at`, or, on failure, RETRYING (the job will run again) or FAILED (`final_attempt`:
    the job's retries are used up) with `last_error`; `attempts` counts every attempt.
    Returns the new status, or "skipped" when there is nothing to send. A failure is
    recorded, then re-raised so that the job is retried with backoff (tasks.send_notification).

    A FAILED row stays FAILED with its attempts and last error, visible in the admin;
    deferring `send_notification` again for it sends it.

    An invitation's link is made here, never stored: with its access token locked, a new
    secret is minted (only its digest is written) and the link goes into the outgoing body
    only; the stored body keeps its placeholder. An invitation whose token was revoked (a
    newer invitation superseded it), expired or went with its event is not sent: it is
    recorded FAILED with LINK_GONE and not retried. A failed send rolls the new digest back,
    so a secret that did not go out never works; the next attempt mints another.

    Delivery guarantee. The row is locked and checked before the SMTP hand-off and marked
    SENT in the same transaction, so two jobs for one notification never both send it, and a
    worker that dies before the SMTP server has accepted the message leaves the row unsent
    for the retried job. If the database goes away after the server accepted the message
    (the commit fails), this process knows the mail went out: it records SENT (and the
    link's digest) on a new connection as soon as the database is back, trying for up to
    MAIL_RECORD_SENT_TIMEOUT_SECONDS, so a database restart sends nothing twice. What remains
    is a worker that dies itself (killed, machine lost) between the SMTP acceptance and the
    commit, or a database down for longer than that: the retry sends the mail again, with
    the same Message-ID (message_id), so mail clients can recognise the duplicate; for an
    invitation, the first mail's link is dead (its digest was never committed) and the
    retry's works.
    """
    accepted: _Accepted | None = None
    try:
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
            needs_link = (
                notification.access_token_id is not None or LINK_PLACEHOLDER in notification.body
            )
            token = _live_token(notification, now=now) if needs_link else None
            if (
                needs_link
                and token is None
                and notification.kind != Notification.Kind.EVENT_INVITATION
            ):
                # A calendar update whose answer links died (a newer link was sent): the
                # update itself must still reach the calendar, without the links.
                notification.body = without_links(notification.body)
                needs_link = False
            if needs_link and token is None:
                notification.status = Notification.Status.FAILED
                notification.last_error = LINK_GONE
                notification.save(update_fields=["status", "last_error"])
                return notification.status  # no retry: a later attempt could not do better
            notification.attempts += 1
            try:
                with transaction.atomic():  # a failed send keeps no digest of its secret
                    link = None
                    if token is not None:
                        link = event_link(event=token.event, secret=access_token_mint(token=token))
                    build_message(notification, now=now, link=link).send(fail_silently=False)
                    accepted = _Accepted(
                        notification_id=notification.pk,
                        attempts=notification.attempts,
                        token_id=token.pk if token is not None else None,
                        digest=token.digest if token is not None else "",
                    )
            except Exception as exc:  # any failure is recorded, then retried
                if accepted is not None:
                    raise  # the database failed after the hand-off: see below
                notification.status = (
                    Notification.Status.FAILED if final_attempt else Notification.Status.RETRYING
                )
                notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                notification.save(update_fields=["status", "attempts", "last_error"])
                failure = exc
            else:
                notification.status = Notification.Status.SENT
                notification.sent_at = now
                notification.last_error = ""
                notification.save(update_fields=["status", "attempts", "sent_at", "last_error"])
                return notification.status
    except (DatabaseError, InterfaceError):
        if accepted is None:
            raise
        _record_sent_after_outage(accepted, now=now)
        return Notification.Status.SENT
    raise failure


@dataclass(frozen=True)
class _Accepted:
    """What must be recorded of a mail the SMTP server accepted."""

    notification_id: int
    attempts: int
    token_id: int | None
    digest: str


def _record_sent_after_outage(accepted: _Accepted, *, now: datetime) -> None:
    """Record as SENT a mail the SMTP server accepted when the commit saying so failed (the
    database went away): on a new connection, retried until MAIL_RECORD_SENT_TIMEOUT_SECONDS
    have passed. Re-raises the last database error if it never gets through."""
    deadline = time.monotonic() + settings.MAIL_RECORD_SENT_TIMEOUT_SECONDS
    logger.warning(
        "notification %s was accepted by SMTP but the database failed before it was recorded; "
        "recording it as sent once the database is back",
        accepted.notification_id,
        extra={"notification_id": accepted.notification_id},
    )
    while True:
        with suppress(DatabaseError, InterfaceError):
            connection.close()
        try:
            with transaction.atomic():
                if accepted.token_id is not None:
                    # The link that went out must work: its digest is the one to keep.
                    EventAccessToken.objects.filter(pk=accepted.token_id).update(
                        digest=accepted.digest
                    )
                Notification.objects.filter(pk=accepted.notification_id).update(
                    status=Notification.Status.SENT,
                    sent_at=now,
                    attempts=accepted.attempts,
                    last_error="",
                )
        except (DatabaseError, InterfaceError):
            if time.monotonic() >= deadline:
                logger.exception(
                    "notification %s: could not record the sent mail; its retry will send it "
                    "again with the same Message-ID",
                    accepted.notification_id,
                    extra={"notification_id": accepted.notification_id},
                )
                raise
            time.sleep(0.5)
        else:
            logger.info(
                "notification %s recorded as sent after the database came back",
                accepted.notification_id,
                extra={"notification_id": accepted.notification_id},
            )
            return
