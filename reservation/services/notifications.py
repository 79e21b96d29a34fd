"""The outbox: a Notification row plus a Procrastinate job, written in the caller's
transaction, so a rolled-back action sends nothing and a committed one always sends."""

from collections.abc import Iterable, Sequence
from datetime import datetime

from procrastinate import jobs, manager
from procrastinate.contrib.django.django_connector import DjangoConnector

from reservation.models import (
    Event,
    EventAccessToken,
    Notification,
    Reservation,
    User,
)
from reservation.notify_text import reservation_update

# Jobs are written through Django's own connection of the calling thread, always. In the web
# process Procrastinate's app does that already; in the worker process its app talks to the
# database through a pool of its own, so a job deferred there by a task (expire_holds expiring
# holds, say) would commit on its own, before the rows it names, and could run and find
# nothing to send. Through this manager the job commits or rolls back with those rows.
_outbox = manager.JobManager(DjangoConnector())


def _defer_sends(notification_ids: Sequence[int]) -> list[int]:
    """One job per notification, in one statement, on the caller's connection."""
    from reservation.tasks import send_notification  # tasks import services: import late

    if not notification_ids:
        return []
    deferrer = jobs.JobDeferrer(job_manager=_outbox, job=send_notification.configure().job)
    return deferrer.batch_defer(*({"notification_id": pk} for pk in notification_ids))


def notification_enqueue(
    *,
    kind: str,
    recipient: User,
    subject: str,
    body: str,
    now: datetime,
    event: Event | None = None,
    reservation: Reservation | None = None,
    access_token: EventAccessToken | None = None,
) -> Notification:
    """Record one e-mail as PENDING and defer the job that sends it (same transaction)."""
    notification = Notification.objects.create(
        kind=kind,
        recipient=recipient,
        subject=subject[:300],
        body=body,
        event=event,
        reservation=reservation,
        access_token=access_token,
        created_at=now,
    )
    _defer_sends([notification.pk])
    return notification


def notification_enqueue_many(notifications: Iterable[Notification]) -> list[Notification]:
    """Record unsaved Notification rows as PENDING in one INSERT and defer their jobs in one
    statement (same transaction as the caller's)."""
    rows = []
    for notification in notifications:
        notification.subject = notification.subject[:300]
        notification.status = Notification.Status.PENDING
        rows.append(notification)
    if not rows:
        return []
    created = Notification.objects.bulk_create(rows)
    _defer_sends([n.pk for n in created])
    return created


def _parties(reservation: Reservation) -> list[User]:
    """Client, then provider; one person once (someone may book their own time)."""
    client, provider = reservation.client.user, reservation.provider.user
    return [client] if client.pk == provider.pk else [client, provider]


def reservation_notify(
    *,
    reservation: Reservation,
    kind: str,
    now: datetime,
    by: User | None = None,
    previous: tuple[datetime, datetime] | None = None,
) -> list[Notification]:
    """Tell a reservation's client and provider, each in their own time zone, that it was
    confirmed, cancelled or moved (`by` whom; `previous` is the old (start, end) of a move).
    Also queues its write-back to the provider's connected calendar, if any. Runs in the
    caller's transaction; needs client.user and provider.user loaded."""
    pending = []
    for recipient in _parties(reservation):
        subject, body = reservation_update(
            reservation=reservation, recipient=recipient, kind=kind, by=by, previous=previous
        )
        pending.append(
            Notification(
                kind=kind,
                recipient=recipient,
                subject=subject,
                body=body,
                reservation=reservation,
                created_at=now,
            )
        )
    from reservation.services.external_calendars import writeback_enqueue  # imports services

    writeback_enqueue(reservation=reservation)
    return notification_enqueue_many(pending)


def reservation_notify_expired(
    *, reservation_ids: Sequence[int], now: datetime
) -> list[Notification]:
    """Tell each client whose hold just expired, one mail per reservation: one read, one
    INSERT and one job statement however many there are (caller's transaction)."""
    if not reservation_ids:
        return []
    expired = Reservation.objects.select_related("client__user", "provider__user").filter(
        pk__in=reservation_ids
    )
    kind = Notification.Kind.RESERVATION_EXPIRED
    pending = []
    for reservation in expired.order_by("id"):
        recipient = reservation.client.user
        subject, body = reservation_update(reservation=reservation, recipient=recipient, kind=kind)
        pending.append(
            Notification(
                kind=kind,
                recipient=recipient,
                subject=subject,
                body=body,
                reservation=reservation,
                created_at=now,
            )
        )
    return notification_enqueue_many(pending)
