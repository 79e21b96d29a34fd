"""Background jobs (Procrastinate). Enqueue them inside the transaction of the action that
causes them: the job table is the outbox, so a rollback drops them and a commit keeps them."""

import logging

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

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


@app.task(
    queue="mail",
    name="reservation.send_notification",
    retry=RetryStrategy(max_attempts=8, exponential_wait=5),
)
def send_notification(notification_id: int) -> str:
    """Send one recorded e-mail. Idempotent: a notification already SENT is not sent again,
    so a job retried after a crash does not mail twice (short of a crash between the SMTP
    hand-off and the commit). Failures are recorded and re-raised for the retry."""
    from reservation.services.mail import notification_send

    return notification_send(notification_id=notification_id, now=utcnow())
