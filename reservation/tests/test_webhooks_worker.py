"""A real Procrastinate worker (a subprocess) delivering a webhook to a real receiver on
loopback that is down at first: the job fails, retries after its backoff, and the receiver
gets exactly one delivery once it is back, with the log showing both attempts. Commits
(transaction=True) so the worker sees the rows."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob
from pytest_django.fixtures import Settings

from reservation.models import WebhookDelivery, WebhookEventType
from reservation.services import reservations, webhooks
from reservation.tests.conftest import empty_job_tables
from reservation.tests.factories import NOW, actor_for, at, make_client, make_provider
from reservation.tests.http_receiver import Receiver
from reservation.tests.test_worker import database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_jobs_but_ours() -> Iterator[None]:
    empty_job_tables()
    yield
    empty_job_tables()


def wait_until(condition: Callable[[], bool], *, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s; worker log:\n{log.read_text()}")
        time.sleep(0.05)


def jobs() -> list[tuple[str, int]]:
    return list(
        ProcrastinateJob.objects.filter(task_name="reservation.deliver_webhook").values_list(
            "status", "attempts"
        )
    )


def test_a_receiver_down_for_a_while_gets_the_delivery_once_when_it_is_back(
    tmp_path: Path, settings: Settings
) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = True  # the receiver is on loopback
    receiver = Receiver()  # not started: connections to its port are refused
    provider, client = make_provider(), make_client()
    webhooks.webhook_create(
        actor=actor_for(provider.user),
        url=receiver.url + "/hook",
        events=[WebhookEventType.RESERVATION_CREATED],
        secret="0123456789abcdef",
        now=NOW,
    )
    reservations.reservation_create(
        actor=actor_for(client), provider_id=provider.pk, start=at(8, 9), now=NOW
    )
    [delivery] = WebhookDelivery.objects.all()
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "REMINDER_ALLOW_PRIVATE_NETWORKS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--queues", "webhooks"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: jobs() == [("todo", 1)], timeout=30, log=log)
            delivery.refresh_from_db()
            assert (delivery.status, delivery.attempts) == ("FAILED", 1)
            # The first retry waits 2 s (WEBHOOK_RETRY): time enough to bring it back.
            receiver.start()
            wait_until(lambda: jobs() == [("succeeded", 2)], timeout=20, log=log)
        finally:
            worker.terminate()
            worker.wait(timeout=15)
            receiver.stop()

    assert len(receiver.requests) == 1
    assert receiver.requests[0].path == "/hook"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("DELIVERED", 2)
    attempts = list(delivery.attempt_log.values_list("number", "status_code"))  # type: ignore[attr-defined]
    assert attempts == [(1, None), (2, 200)]
