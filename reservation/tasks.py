"""Background jobs (Procrastinate). Enqueue them inside the transaction of the action that
causes them: the job table is the outbox, so a rollback drops them and a commit keeps them."""

import logging

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Status

from reservation.actors import utcnow
from reservation.services.reservations import reservation_expire_due

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
    stalled = await job_manager.get_stalled_jobs(
        queue=send_notification.queue,
        task_name=send_notification.name,
        seconds_since_heartbeat=STALLED_AFTER_SECONDS,
    )
    retried = []
    for job in stalled:
        try:
            if job.attempts >= (MAIL_RETRY.max_attempts or 0):
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
