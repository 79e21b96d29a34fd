"""Background jobs (Procrastinate). Enqueue them inside the transaction of the action that
causes them: the job table is the outbox, so a rollback drops them and a commit keeps them."""

import logging

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Status
from procrastinate.manager import JobManager
from procrastinate.tasks import Task

from reservation.actors import utcnow
from reservation.services.reservations import reservation_expire_due
from reservation.signals import holds_expired

logger = logging.getLogger(__name__)


@app.periodic(cron="* * * * *", periodic_id="expire_holds")
@app.task(queue="maintenance", queueing_lock="expire_holds", name="reservation.expire_holds")
def expire_holds(timestamp: int) -> int:
    """Every minute: turn holds whose time ran out into EXPIRED, in one set-based update.

    Procrastinate defers each period once however many workers run, and the queueing lock
    keeps a late tick from stacking a second run behind a slow one. Listing and booking do not
    wait for this job: they already treat a lapsed hold as free.
    """
    expired = reservation_expire_due(now=utcnow())
    holds_expired.send(sender=expire_holds, count=expired)
    if expired:
        logger.info("expired %d holds", expired)
    return expired


# Ten retries, 2 s after the first failure, then waits growing to about 21 minutes: the last
# attempt runs about 57 minutes after the first (wait = 30 s × attempts + 2 s ** (attempts + 1),
# Procrastinate's formula; `max_attempts` counts the retries, so 11 runs in all).
MAIL_RETRY = RetryStrategy(max_attempts=10, linear_wait=30, exponential_wait=2)


@app.task(queue="mail", name="reservation.send_notification", retry=MAIL_RETRY)
def send_notification(notification_id: int) -> str:
    """Send one recorded e-mail (services.mail.notification_send). Idempotent: a notification
    already SENT is not sent again, so a retried job does not mail twice. A failure is recorded
    on the row, then raised, and Procrastinate retries the job per MAIL_RETRY; once those are
    used up the job ends `failed` and the row stays FAILED with its last error."""
    from reservation.services.mail import notification_send

    return notification_send(notification_id=notification_id, now=utcnow())


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
                logger.error("gave up on stalled job %s after %d runs", job.id, job.attempts + 1)
                continue
            await job_manager.retry_job(job)
        except ConnectorException:  # it finished after all, or another run moved it first
            logger.info("stalled job %s changed before it could be retried", job.id)
            continue
        retried.append(job.id)
        logger.warning("retried stalled job %s", job.id)
    return retried


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
