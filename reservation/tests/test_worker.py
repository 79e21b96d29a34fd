"""Real Procrastinate workers (subprocesses) sending through a real SMTP server on loopback:
a worker killed mid-send loses no mail and sends none twice; with the SMTP server down, jobs
retry and deliver once it is back.

Each test commits (transaction=True) so that the worker, on its own connection, sees the
rows; each kills its workers in a `finally` and waits at most a few seconds for anything.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from reservation import tasks
from reservation.models import Notification, User
from reservation.services.mail import notification_send
from reservation.services.notifications import notification_enqueue
from reservation.tests.conftest import empty_job_tables
from reservation.tests.factories import NOW, make_user
from reservation.tests.smtp import Mailbox, text_body

pytestmark = pytest.mark.django_db(transaction=True)

STARTUP = 30.0  # seconds a worker may take to start and reach the first job


@pytest.fixture(autouse=True)
def no_jobs_but_ours() -> Iterator[None]:
    """Workers take any job in the queue: start from an empty one, leave it empty."""
    empty_job_tables()
    yield
    empty_job_tables()


def database_url() -> str:
    """The test database, for a worker process (override_settings cannot reach it)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    host = db["HOST"] or db["OPTIONS"].get("host") or "127.0.0.1"
    if host.startswith("/"):  # a Unix socket folder: the embedded server of make test
        return f"postgresql://{quote(db['USER'])}{password}@/{db['NAME']}?host={quote(host)}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{quote(db['USER'])}{password}@{host}{port}/{db['NAME']}"


class Worker:
    """`manage.py worker --queues mail` (the supervised worker), sending mail to `mailbox`,
    logging JSON lines to `log`."""

    def __init__(self, mailbox: Mailbox, log: Path) -> None:
        self.env = env = {
            **os.environ,
            "DEBUG": "1",
            "LOG_FORMAT": "json",
            "WORKER_STATE_FILE": str(log.with_suffix(".state.json")),
            "DATABASE_URL": database_url(),
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mailbox.port),
            "EMAIL_TIMEOUT": "5",
            "MAIL_DOMAIN": "mail.test",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("EMAIL_BACKEND", None)  # EMAIL_HOST set: the settings pick SMTP
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--queues", "mail"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def check(self) -> subprocess.CompletedProcess[str]:
        """`manage.py worker --check` on this worker's host (its state file)."""
        return subprocess.run(
            [sys.executable, "manage.py", "worker", "--check"],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as when a machine dies."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log_file.close()

    def stop(self) -> int:
        """SIGTERM: Procrastinate's graceful shutdown; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        finally:
            self.kill()


def wait_until(condition: Callable[[], bool], *, timeout: float, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s; worker log:\n{worker.output()}")
        time.sleep(0.05)


def mail_jobs() -> list[tuple[int, str, int]]:
    """(notification id, status, attempts) of each mail job, by notification."""
    return sorted(
        (args["notification_id"], status, attempts)
        for args, status, attempts in ProcrastinateJob.objects.filter(
            task_name="reservation.send_notification"
        ).values_list("args", "status", "attempts")
    )


def rows(ids: list[int]) -> list[tuple[int, str, int, str]]:
    return list(
        Notification.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "status", "attempts", "last_error")
    )


def enqueue(people: list[User]) -> list[Notification]:
    """One mail each, committed together (as an action would)."""
    with transaction.atomic():
        return [
            notification_enqueue(
                kind=Notification.Kind.EVENT_INVITATION,
                recipient=person,
                subject=f"Mail {i}",
                body=f"Body {i}: https://rdv.example/e/1/\n",
                now=NOW,
            )
            for i, person in enumerate(people)
        ]


def test_a_worker_killed_mid_send_loses_no_mail_and_sends_none_twice(tmp_path: Path) -> None:
    """The first worker is killed while the SMTP server holds its first message unanswered:
    the crash happens before the hand-off, where the design guarantees exactly once (see
    services.mail.notification_send for the window after it). The killed worker's job is put
    back by retry_stalled_mail; a second worker sends everything, each mail once."""
    mailbox = Mailbox()
    mailbox.hold_first = True
    mailbox.start()
    people = [make_user(email=f"person{i}@example.com") for i in range(3)]
    notes = enqueue(people)
    ids = [n.pk for n in notes]
    first = Worker(mailbox, tmp_path / "first.log")
    second = None
    try:
        assert mailbox.holding.wait(STARTUP), first.output()
        [(stalled_job_id, stalled_notification)] = ProcrastinateJob.objects.filter(
            status="doing"
        ).values_list("id", "args__notification_id")

        first.kill()

        # Its transaction died with it: nothing recorded as sent, nothing accepted by SMTP.
        assert rows(ids) == [(pk, "PENDING", 0, "") for pk in ids]
        assert mailbox.messages == []
        assert mail_jobs() == sorted(
            (pk, "doing" if pk == stalled_notification else "todo", 0) for pk in ids
        )
        # Nothing else would ever run the job: a dead worker's jobs stay "doing".
        assert async_to_sync(tasks.retry_stalled_mail.func)(timestamp=0) == []
        # Its heartbeat stops; after 30 s it counts as dead (dated back here, not waited for).
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = NOW() - INTERVAL '1 minute'"
            )
        assert async_to_sync(tasks.retry_stalled_mail.func)(timestamp=0) == [stalled_job_id]

        second = Worker(mailbox, tmp_path / "second.log")
        messages = mailbox.wait_for(3, timeout=STARTUP)
        wait_until(
            lambda: [status for _, status, _ in mail_jobs()] == ["succeeded"] * 3,
            timeout=10,
            worker=second,
        )
        assert second.stop() == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()
        mailbox.stop()

    # Exactly once: every notification's message arrived, none twice.
    assert len(mailbox.messages) == 3
    assert sorted(m["Message-ID"] for m in messages) == sorted(
        f"<notification-{pk}@mail.test>" for pk in ids
    )
    by_id = {m["Message-ID"]: m for m in messages}
    assert [
        (m["To"], m["Subject"], text_body(m))
        for m in (by_id[f"<notification-{pk}@mail.test>"] for pk in ids)
    ] == [
        (f"person{i}@example.com", f"Mail {i}", f"Body {i}: https://rdv.example/e/1/\n")
        for i in range(3)
    ]
    # The killed attempt left no trace on the row (rolled back); the job counts it.
    assert rows(ids) == [(pk, "SENT", 1, "") for pk in ids]
    assert mail_jobs() == sorted(
        (pk, "succeeded", 2 if pk == stalled_notification else 1) for pk in ids
    )


def test_while_smtp_is_down_the_job_retries_and_delivers_once_when_it_returns(
    tmp_path: Path,
) -> None:
    mailbox = Mailbox()  # not started yet: connections to its port are refused
    [note] = enqueue([make_user(email="ann@example.com")])
    worker = Worker(mailbox, tmp_path / "worker.log")
    try:
        wait_until(
            lambda: mail_jobs() == [(note.pk, "todo", 1)] and rows([note.pk])[0][1] == "RETRYING",
            timeout=STARTUP,
            worker=worker,
        )
        assert mailbox.messages == []
        assert rows([note.pk]) == [
            (note.pk, "RETRYING", 1, "ConnectionRefusedError: [Errno 111] Connection refused")
        ]
        # The first retry waits 2 s (MAIL_RETRY): time enough to bring the server back.
        mailbox.start()

        [message] = mailbox.wait_for(1, timeout=20)
        wait_until(lambda: mail_jobs() == [(note.pk, "succeeded", 2)], timeout=10, worker=worker)
        assert worker.stop() == 0
    finally:
        worker.kill()
        mailbox.stop()

    assert len(mailbox.messages) == 1
    assert (message["To"], message["Message-ID"]) == (
        "ann@example.com",
        f"<notification-{note.pk}@mail.test>",
    )
    assert rows([note.pk]) == [(note.pk, "SENT", 2, "")]


def test_stalled_mail_is_looked_for_every_minute() -> None:
    periodic = app.periodic_registry.periodic_tasks[
        ("reservation.retry_stalled_mail", "retry_stalled_mail")
    ]

    assert (periodic.cron, periodic.task) == ("* * * * *", tasks.retry_stalled_mail)
    assert (tasks.retry_stalled_mail.queue, tasks.retry_stalled_mail.queueing_lock) == (
        "maintenance",
        "retry_stalled_mail",
    )
    assert tasks.STALLED_AFTER_SECONDS == 30


def test_a_worker_killed_after_sending_but_before_finishing_its_job_sends_nothing_again(
    tmp_path: Path,
) -> None:
    """The worker sends the mail and commits SENT, then dies before it can mark its job done
    (here: the job row is locked until the worker is dead and its connections are gone). The
    job is retried as stalled, finds the notification SENT, and sends nothing."""
    mailbox = Mailbox()
    mailbox.hold_first = True
    mailbox.start()
    [note] = enqueue([make_user(email="ann@example.com")])
    first = Worker(mailbox, tmp_path / "first.log")
    second = None
    try:
        assert mailbox.holding.wait(STARTUP), first.output()
        with transaction.atomic():
            # Hold the job row: the worker's "finished" update will wait behind this lock.
            [job_id] = (
                ProcrastinateJob.objects.select_for_update()
                .filter(status="doing")
                .values_list("id", flat=True)
            )
            mailbox.release.set()
            wait_until(lambda: rows([note.pk])[0][1] == "SENT", timeout=10, worker=first)
            first.kill()
            with connection.cursor() as cursor:  # the dead worker's connections go too
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        assert mail_jobs() == [(note.pk, "doing", 0)]
        assert len(mailbox.messages) == 1
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = NOW() - INTERVAL '1 minute'"
            )
        assert async_to_sync(tasks.retry_stalled_mail.func)(timestamp=0) == [job_id]

        second = Worker(mailbox, tmp_path / "second.log")
        wait_until(
            lambda: mail_jobs() == [(note.pk, "succeeded", 2)], timeout=STARTUP, worker=second
        )
        assert second.stop() == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()
        mailbox.stop()

    assert [m["Message-ID"] for m in mailbox.messages] == [f"<notification-{note.pk}@mail.test>"]
    assert rows([note.pk]) == [(note.pk, "SENT", 1, "")]


def terminate_other_connections() -> int:
    """What a PostgreSQL restart does to every connection but ours: cut them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@contextmanager
def database_down() -> Iterator[None]:
    """As while PostgreSQL restarts: every connection of the test database but ours is cut
    and new ones are refused, until the block ends."""
    name = connection.settings_dict["NAME"]
    admin_url = database_url().replace(f"/{name}", "/postgres", 1)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            terminate_other_connections()
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def test_a_worker_cut_off_from_the_database_exits_75_for_its_supervisor_and_a_new_one_works(
    tmp_path: Path,
) -> None:
    """Procrastinate's own worker stops with status 0 when its connections die (a supervisor
    takes that for a wanted stop); `manage.py worker` exits 75. Its health check says yes
    while it heartbeats, no once it is gone. Each job run is one JSON line with its outcome."""
    mailbox = Mailbox()
    mailbox.start()
    first = Worker(mailbox, tmp_path / "first.log")
    second = None
    try:
        wait_until(
            lambda: Path(first.env["WORKER_STATE_FILE"]).exists(), timeout=STARTUP, worker=first
        )
        healthy = first.check()
        assert (healthy.returncode, healthy.stdout.startswith("worker ")) == (0, True)

        with database_down():
            assert first.process.wait(timeout=60) == 75, first.output()
        assert "exiting for the supervisor to restart it" in first.output()
        unhealthy = first.check()
        assert unhealthy.returncode == 1
        assert "no worker runs here" in unhealthy.stderr

        # What the supervisor does: start another; it connects afresh and sends
        second = Worker(mailbox, tmp_path / "second.log")
        [note] = enqueue([make_user(email="ann@example.com")])
        [message] = mailbox.wait_for(1, timeout=STARTUP)
        wait_until(lambda: mail_jobs() == [(note.pk, "succeeded", 1)], timeout=10, worker=second)
        wait_until(
            lambda: Path(second.env["WORKER_STATE_FILE"]).exists(), timeout=10, worker=second
        )
        assert second.stop() == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()
        mailbox.stop()

    assert message["Message-ID"] == f"<notification-{note.pk}@mail.test>"
    [job_line] = [line for line in second.json_lines() if line["logger"] == "rendezvous.jobs"]
    assert datetime.fromisoformat(job_line.pop("time")).utcoffset() == timedelta(0)
    assert job_line.pop("duration_s") > 0
    assert job_line.pop("job_id") > 0
    assert job_line == {
        "level": "INFO",
        "logger": "rendezvous.jobs",
        "message": job_line["message"],
        "task": "reservation.send_notification",
        "queue": "mail",
        "attempt": 1,
        "outcome": "succeeded",
        "error": None,
    }
    # Nothing but JSON on its output
    assert [line for line in second.output().splitlines() if not line.startswith("{")] == []


def test_a_mail_accepted_while_the_database_went_away_is_recorded_once_it_is_back(
    tmp_path: Path,
) -> None:
    """The SMTP server accepts the message after the database cut the worker's connections
    (its transaction is gone): the worker records SENT on a new connection, so neither it
    nor the restarted worker sends it again."""
    mailbox = Mailbox()
    mailbox.hold_first = True
    mailbox.start()
    [note] = enqueue([make_user(email="ann@example.com")])
    first = Worker(mailbox, tmp_path / "first.log")
    second = None
    try:
        assert mailbox.holding.wait(STARTUP), first.output()
        with database_down():
            mailbox.release.set()
            mailbox.wait_for(1, timeout=10)
            time.sleep(3)  # the worker keeps trying to record it meanwhile
            assert "accepted by SMTP but the database failed" in first.output()
        wait_until(lambda: rows([note.pk])[0][1] == "SENT", timeout=30, worker=first)
        assert "recorded as sent after the database came back" in first.output()
        assert first.process.wait(timeout=60) == 75, first.output()

        second = Worker(mailbox, tmp_path / "second.log")
        wait_until(
            lambda: Path(second.env["WORKER_STATE_FILE"]).exists(),
            timeout=STARTUP,
            worker=second,
        )
        if mail_jobs() != [(note.pk, "succeeded", 1)]:
            # The first could not mark its job done: put back as stalled, nothing to send.
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE procrastinate_workers SET last_heartbeat = NOW() - INTERVAL '1 minute'"
                    " WHERE id NOT IN (SELECT max(id) FROM procrastinate_workers)"
                )
            async_to_sync(tasks.retry_stalled_mail.func)(timestamp=0)
        wait_until(
            lambda: [status for _, status, _ in mail_jobs()] == ["succeeded"],
            timeout=STARTUP,
            worker=second,
        )
        assert second.stop() == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()
        mailbox.stop()

    assert [m["Message-ID"] for m in mailbox.messages] == [f"<notification-{note.pk}@mail.test>"]
    assert rows([note.pk]) == [(note.pk, "SENT", 1, "")]


def test_the_last_attempt_records_failed_the_others_retrying(tmp_path: Path) -> None:
    """RETRYING while the job will run again, FAILED once its retries are used up."""
    [note] = enqueue([make_user(email="ann@example.com")])
    job = ProcrastinateJob.objects.get(task_name="reservation.send_notification")
    context = SimpleNamespace(job=SimpleNamespace(attempts=tasks.MAIL_RETRY.max_attempts - 1))
    assert tasks._is_last_attempt(context) is False
    context.job.attempts = tasks.MAIL_RETRY.max_attempts
    assert tasks._is_last_attempt(context) is True
    assert tasks._is_last_attempt(None) is False

    down = Mailbox()  # never started: refused
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=down.port,
    ):
        with pytest.raises(ConnectionRefusedError):
            notification_send(notification_id=note.pk, now=NOW)
        assert rows([note.pk])[0][1:3] == ("RETRYING", 1)
        with pytest.raises(ConnectionRefusedError):
            notification_send(notification_id=note.pk, now=NOW, final_attempt=True)
        assert rows([note.pk])[0][1:3] == ("FAILED", 2)
    assert job.status == "todo"


def test_old_finished_jobs_and_sent_bodies_are_pruned_recent_ones_kept(settings: object) -> None:
    """prune_old_data: finished jobs past RETENTION_JOBS_DAYS go (todo ones never), sent
    notifications past RETENTION_NOTIFICATION_BODY_DAYS lose their body (not their row)."""
    from django.utils import timezone

    settings.RETENTION_JOBS_DAYS = 30  # type: ignore[attr-defined]
    settings.RETENTION_NOTIFICATION_BODY_DAYS = 90  # type: ignore[attr-defined]
    people = [make_user(email=f"p{i}@example.com") for i in range(4)]
    old_sent, new_sent, old_failed, pending = enqueue(people)
    now = timezone.now()
    Notification.objects.filter(pk=old_sent.pk).update(
        status="SENT", sent_at=now - timedelta(days=91)
    )
    Notification.objects.filter(pk=new_sent.pk).update(
        status="SENT", sent_at=now - timedelta(days=89)
    )
    Notification.objects.filter(pk=old_failed.pk).update(status="FAILED")
    with connection.cursor() as cursor:
        for note, status, days in (
            (old_sent, "succeeded", 31),
            (new_sent, "succeeded", 29),
            (old_failed, "failed", 31),
            (pending, "todo", 31),
        ):
            cursor.execute(
                "UPDATE procrastinate_jobs SET status = %s WHERE args->>'notification_id' = %s"
                " RETURNING id",
                [status, str(note.pk)],
            )
            (job_id,) = cursor.fetchone()
            cursor.execute(
                "UPDATE procrastinate_events SET at = NOW() - make_interval(days => %s)"
                " WHERE job_id = %s",
                [days, job_id],
            )

    assert async_to_sync(tasks.prune_old_data.func)(timestamp=0) == 1

    assert [pk for pk, _, _ in mail_jobs()] == sorted([new_sent.pk, pending.pk])
    bodies = dict(Notification.objects.values_list("pk", "body"))
    assert [bodies[n.pk] == "" for n in (old_sent, new_sent, old_failed, pending)] == [
        True,
        False,
        False,
        False,
    ]
    assert Notification.objects.count() == 4
