"""Background jobs (Procrastinate). Enqueue them inside the transaction of the action that
causes them: the job table is the outbox, so a rollback drops them and a commit keeps them."""

import json
import logging
from datetime import timedelta

from asgiref.sync import sync_to_async
from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Status
from procrastinate.manager import JobManager
from procrastinate.tasks import Task

from reservation.actors import utcnow
from reservation.services.reservations import reservation_expire_sweep
from reservation.signals import holds_expired

logger = logging.getLogger(__name__)


# The sweep stops starting batches after this long, well before the next tick: a backlog is
# finished by the following runs, batch by batch (each batch commits on its own).
EXPIRE_BUDGET_SECONDS = 45
# Sweeps sharing a backlog within the job (threads, each with its own connection; one more
# connection while a backlog lasts): the database does the work, on as many cores as it gets.
EXPIRE_SWEEPERS = 2


@app.periodic(cron="* * * * *", periodic_id="expire_holds")
@app.task(queue="maintenance", queueing_lock="expire_holds", name="reservation.expire_holds")
def expire_holds(timestamp: int) -> int:
    """Every minute: turn holds whose time ran out into EXPIRED, in batches (services.expiry).

    Procrastinate defers each period once however many workers run, and the queueing lock
    keeps a late tick from stacking a second run behind a slow one; should two sweeps still
    meet, each skips the rows the other has locked. Listing and booking do not wait for this
    job: they already treat a lapsed hold as free.
    """
    result = reservation_expire_sweep(
        now=utcnow(), max_seconds=EXPIRE_BUDGET_SECONDS, workers=EXPIRE_SWEEPERS
    )
    holds_expired.send(sender=expire_holds, count=result.expired)
    if result.expired:
        logger.info(
            "expired %d holds in %d batches%s",
            result.expired,
            result.batches,
            "" if result.finished else " (time budget used up; the next run continues)",
        )
    return result.expired


# Ten retries, 2 s after the first failure, then waits growing to about 21 minutes: the last
# attempt runs about 57 minutes after the first (wait = 30 s × attempts + 2 s ** (attempts + 1),
# Procrastinate's formula; `max_attempts` counts the retries, so 11 runs in all).
MAIL_RETRY = RetryStrategy(max_attempts=10, linear_wait=30, exponential_wait=2)


@app.task(queue="mail", name="reservation.send_notification", retry=MAIL_RETRY, pass_context=True)
def send_notification(context: JobContext | None = None, /, *, notification_id: int) -> str:
    """Send one recorded e-mail (services.mail.notification_send). Idempotent: a notification
    already SENT is not sent again, so a retried job does not mail twice. A failure is recorded
    on the row (RETRYING), then raised, and Procrastinate retries the job per MAIL_RETRY; the
    last attempt records FAILED and the job ends `failed`. Called directly (no job context),
    a failure is taken for one that will be retried."""
    from reservation.services.mail import notification_send

    return notification_send(
        notification_id=notification_id, now=utcnow(), final_attempt=_is_last_attempt(context)
    )


def _is_last_attempt(context: JobContext | None) -> bool:
    """Whether a failure of this run is final: the job's retries are used up."""
    if context is None or context.job is None:
        return False
    return context.job.attempts >= (MAIL_RETRY.max_attempts or 0)


@app.task(queue="mail", name="reservation.defer_notification_sends", retry=MAIL_RETRY)
def defer_notification_sends(notification_ids: list[int]) -> int:
    """The expiry sweep's fan-out: defer one send_notification job per mail of a big batch
    that is still PENDING (services.expiry). Returns how many were deferred."""
    from reservation.services.expiry import expiry_mails_defer

    return expiry_mails_defer(notification_ids=notification_ids)


# Reminders: eight retries, 2 s after the first failure, then 14 s, 28 s, ... growing to about
# 5 minutes; the last attempt runs about 13 minutes after the first (same formula as
# MAIL_RETRY). A reminder much later than that is worth little.
REMINDER_RETRY = RetryStrategy(max_attempts=8, linear_wait=10, exponential_wait=2)


@app.task(queue="reminders", name="reservation.send_reminder", retry=REMINDER_RETRY)
def send_reminder(delivery_id: int) -> str:
    """Send one reminder delivery (services.reminders.reminder_send), deferred for its due
    time. Idempotent and cancellable: a delivery already SENT or CANCELLED is skipped. A
    failure is recorded on the row (FAILED, attempts, last error), then raised for a retry.
    Its first attempt schedules the reminder's next occurrence for a recurring event."""
    from reservation.services.reminders import reminder_send

    return reminder_send(delivery_id=delivery_id, now=utcnow())


# A worker updates its heartbeat every 10 s (Procrastinate's default); one silent for this
# long is taken for dead, and the mail jobs it was running for abandoned.
STALLED_AFTER_SECONDS = 30


@app.periodic(cron="* * * * *", periodic_id="retry_stalled_mail")
@app.task(
    queue="maintenance", queueing_lock="retry_stalled_mail", name="reservation.retry_stalled_mail"
)
async def retry_stalled_mail(timestamp: int) -> list[int]:
    """Every minute: put the mail jobs of dead workers (killed, or cut off from the database)
    back in the queue, so no notification waits forever behind a worker that will not finish
    it. Safe even if such a worker is only slow: notification_send locks the row and skips
    one already SENT. A job that has used up its retries is marked failed instead, so a mail
    that kills its worker cannot loop. Returns the ids of the jobs put back."""
    job_manager = app.job_manager
    retried = []
    # Reminder jobs too: reminder_send locks its row and skips one already SENT, likewise.
    # And webhook deliveries: webhook_deliver locks its row and skips one already DELIVERED.
    for task, strategy in (
        (send_notification, MAIL_RETRY),
        (send_reminder, REMINDER_RETRY),
        (deliver_webhook, WEBHOOK_RETRY),
    ):
        retried += await _retry_stalled(job_manager, task=task, strategy=strategy)
    return retried


async def _retry_stalled(
    job_manager: JobManager, *, task: Task, strategy: RetryStrategy
) -> list[int]:
    stalled = await job_manager.get_stalled_jobs(
        queue=task.queue,
        task_name=task.name,
        seconds_since_heartbeat=STALLED_AFTER_SECONDS,
    )
    retried = []
    for job in stalled:
        try:
            if job.attempts >= (strategy.max_attempts or 0):
                await job_manager.finish_job(job=job, status=Status.FAILED, delete_job=False)
                if task is send_notification:
                    await sync_to_async(_give_up_notification)(job.task_kwargs)
                logger.error("gave up on stalled job %s after %d runs", job.id, job.attempts + 1)
                continue
            await job_manager.retry_job(job)
        except ConnectorException:  # it finished after all, or another run moved it first
            logger.info("stalled job %s changed before it could be retried", job.id)
            continue
        retried.append(job.id)
        logger.warning("retried stalled job %s", job.id)
    return retried


# --- connected calendars ----------------------------------------------------------------------

# Six retries over about 7 minutes: a calendar server that is briefly down gets the booking.
WRITEBACK_RETRY = RetryStrategy(max_attempts=6, linear_wait=10, exponential_wait=2)


@app.task(queue="calendars", name="reservation.calendar_sync")
def calendar_sync(connection_id: int) -> str:
    """Sync one calendar connection (services.external_calendars.calendar_connection_sync).
    A failure is recorded on the connection and not retried: the next period tries again."""
    from reservation.services.external_calendars import calendar_connection_sync

    return calendar_connection_sync(connection_id=connection_id, now=utcnow())


@app.task(queue="calendars", name="reservation.calendar_writeback", retry=WRITEBACK_RETRY)
def calendar_writeback(reservation_id: int) -> str:
    """Write a reservation's current state to its provider's calendar (idempotent: it puts
    the calendar in line with the reservation as it is when the job runs)."""
    from reservation.services.external_calendars import calendar_writeback as writeback

    return writeback(reservation_id=reservation_id, now=utcnow())


@app.periodic(cron="*/5 * * * *", periodic_id="calendar_syncs_due")
@app.task(
    queue="maintenance", queueing_lock="calendar_syncs_due", name="reservation.calendar_syncs_due"
)
def calendar_syncs_due(timestamp: int) -> int:
    """Every five minutes: queue a sync of each connection not tried for
    CALENDAR_SYNC_INTERVAL_MINUTES."""
    from reservation.services.external_calendars import calendar_syncs_due as due

    return due(now=utcnow())


def _give_up_notification(task_kwargs: dict | str) -> None:
    """The job of a notification will not run again: its row says FAILED, not RETRYING."""
    from reservation.models import Notification

    if isinstance(task_kwargs, str):  # as some connectors hand back the JSON column
        task_kwargs = json.loads(task_kwargs)
    Notification.objects.filter(
        pk=task_kwargs.get("notification_id"),
        status__in=[Notification.Status.PENDING, Notification.Status.RETRYING],
    ).update(status=Notification.Status.FAILED)


@app.periodic(cron="17 3 * * *", periodic_id="prune_old_data")
@app.task(queue="maintenance", queueing_lock="prune_old_data", name="reservation.prune_old_data")
async def prune_old_data(timestamp: int) -> int:
    """Every night: delete Procrastinate jobs finished (succeeded, failed, cancelled or
    aborted) more than RETENTION_JOBS_DAYS ago, and empty the bodies of notifications sent
    more than RETENTION_NOTIFICATION_BODY_DAYS ago (their row, subject and status stay).
    0 keeps them for ever. Returns the number of bodies emptied."""
    from django.conf import settings

    from reservation.services.retention import notification_bodies_prune

    if settings.RETENTION_JOBS_DAYS > 0:
        await app.job_manager.delete_old_jobs(
            nb_hours=settings.RETENTION_JOBS_DAYS * 24,
            include_failed=True,
            include_cancelled=True,
            include_aborted=True,
        )
    if settings.RETENTION_NOTIFICATION_BODY_DAYS <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=settings.RETENTION_NOTIFICATION_BODY_DAYS)
    pruned = await sync_to_async(notification_bodies_prune)(sent_before=cutoff)
    logger.info("pruned the bodies of %d sent notifications", pruned)
    return pruned


# --- webhooks ------------------------------------------------------------------------------

# Twelve retries, 2 s after the first failure, then 24 s, 48 s, ... growing to about 70
# minutes: the last attempt runs about 3 hours after the first (same formula as MAIL_RETRY).
# A receiver down for longer is usually disabled first (WEBHOOK_DISABLE_AFTER_FAILURES in a
# row across its deliveries), and its owner redelivers once it is back.
WEBHOOK_RETRY = RetryStrategy(max_attempts=12, linear_wait=20, exponential_wait=2)


class WebhookDeliveryFailed(Exception):
    """Raised so Procrastinate retries the delivery (the attempt is already logged)."""


@app.task(queue="webhooks", name="reservation.deliver_webhook", retry=WEBHOOK_RETRY)
def deliver_webhook(delivery_id: int) -> str:
    """POST one webhook delivery (services.webhooks.webhook_deliver): idempotent, each
    attempt logged; a failure is committed to the log, then raised for a retry."""
    from api.webhooks.render import render_as_owner
    from reservation.services.webhooks import webhook_deliver

    outcome = webhook_deliver(delivery_id=delivery_id, render=render_as_owner, now=utcnow())
    if outcome.result == "FAILED":
        raise WebhookDeliveryFailed(outcome.error)
    return outcome.result


@app.task(queue="webhooks", name="reservation.defer_webhook_deliveries", retry=WEBHOOK_RETRY)
def defer_webhook_deliveries(delivery_ids: list[int]) -> int:
    """The expiry sweep's fan-out: defer one deliver_webhook job per delivery of a big batch
    that is still PENDING (services.expiry). Returns how many were deferred."""
    from reservation.services.expiry import expiry_webhooks_defer

    return expiry_webhooks_defer(delivery_ids=delivery_ids)
