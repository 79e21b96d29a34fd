"""`manage.py worker`: the Procrastinate worker, made to be supervised.

Procrastinate's own `manage.py procrastinate worker` stops with exit status 0 when its
database connection fails (a PostgreSQL restart: "Side task listener failed … stopping
worker"), which a supervisor takes for a wanted stop. This command runs the same worker
(every queue unless --queues), and:

- exits 0 only after a stop signal (SIGTERM, SIGINT: jobs in flight finish first);
- exits 75 (EX_TEMPFAIL) when the worker stopped by itself or could not reach the database,
  so that the supervisor (compose's restart policy, devops/scripts/supervise.py under
  `make run`) starts it again; a new worker reconnects, and the jobs of the old one are
  retried (tasks.retry_stalled_mail);
- logs one line per job run with its outcome and duration, and counts them in metrics
  (api.metrics.observe_job), served on METRICS_WORKER_PORT when that is set;
- writes its Procrastinate worker id to WORKER_STATE_FILE, for the health check:

`manage.py worker --check [--max-age SECONDS]` exits 0 when the worker of this host (the id
in WORKER_STATE_FILE) sent a heartbeat within SECONDS (READYZ_WORKER_MAX_AGE_SECONDS), else 1
with the reason on stderr. The database's clock is used on both sides.
"""

import asyncio
import json
import logging
import os
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connection

logger = logging.getLogger("rendezvous.worker")

EX_TEMPFAIL = 75


class _StoppedByItself(logging.Filter):
    """Notices Procrastinate's "side task failed, stopping worker" line (its `action` is
    part of Procrastinate's structured logging): the stop was not asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "action", None) == "side_task_failed":
            self.reason = record.getMessage()
        return True


def state_file() -> Path:
    return Path(settings.WORKER_STATE_FILE)


async def _publish_id(worker: Any) -> None:
    """Once the worker has registered, write its id where `--check` reads it."""
    while worker.worker_id is None:
        await asyncio.sleep(0.1)
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"worker_id": worker.worker_id, "pid": os.getpid()}))
    temporary.replace(path)
    logger.info("worker %s registered", worker.worker_id, extra={"worker_id": worker.worker_id})


async def _run(options: dict[str, Any]) -> int:
    from procrastinate.contrib.django import app

    from api.metrics import observe_job

    watcher = _StoppedByItself()
    try:
        async with app.open_async():
            app.perform_import_paths()
            # App._worker merges the app's worker_defaults (Django's connection cleanup).
            worker = app._worker(worker_middleware=[observe_job], **options)
            # Its own logger (procrastinate.worker.<name>): a parent's filters never see it.
            worker.logger.addFilter(watcher)
            publisher = asyncio.create_task(_publish_id(worker))
            try:
                await worker.run()
            finally:
                publisher.cancel()
                with suppress(asyncio.CancelledError):
                    await publisher
    except Exception:
        logger.exception("the worker failed; exiting for the supervisor to restart it")
        return EX_TEMPFAIL
    finally:
        with suppress(OSError):
            state_file().unlink()
    if watcher.reason:
        logger.error(
            "the worker stopped by itself (%s); exiting for the supervisor to restart it",
            watcher.reason,
        )
        return EX_TEMPFAIL
    logger.info("the worker stopped")
    return 0


def check(max_age: int) -> tuple[bool, str]:
    """Whether this host's worker heartbeated within max_age seconds, and why not."""
    try:
        state = json.loads(state_file().read_text())
        worker_id = int(state["worker_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return False, f"no worker runs here ({state_file()} is missing or unreadable)"
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXTRACT(EPOCH FROM now() - last_heartbeat) FROM procrastinate_workers "
                "WHERE id = %s",
                [worker_id],
            )
            row = cursor.fetchone()
    except DatabaseError as exc:
        return False, f"the database is unreachable: {exc}".strip()
    if row is None:
        return False, f"worker {worker_id} is not registered (stopped, or pruned as stalled)"
    age = float(row[0])
    if age > max_age:
        return False, f"worker {worker_id}: last heartbeat {age:.0f} s ago (limit {max_age} s)"
    return True, f"worker {worker_id}: last heartbeat {age:.0f} s ago"


class Command(BaseCommand):
    help = "Run the Procrastinate worker (exit 75 when it must be restarted), or --check it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queues", default="", help="comma-separated; default: all")
        parser.add_argument("--concurrency", type=int, default=1)
        parser.add_argument("--check", action="store_true", help="health check, see above")
        parser.add_argument("--max-age", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            max_age = options["max_age"] or settings.READYZ_WORKER_MAX_AGE_SECONDS
            healthy, reason = check(max_age)
            (self.stdout if healthy else self.stderr).write(reason)
            sys.exit(0 if healthy else 1)

        from procrastinate.contrib.django import app

        if settings.METRICS_ENABLED and settings.METRICS_WORKER_PORT:
            from api.metrics import serve_worker_metrics

            serve_worker_metrics(settings.METRICS_WORKER_ADDRESS, settings.METRICS_WORKER_PORT)
        worker_options: dict[str, Any] = {"concurrency": options["concurrency"]}
        queues = [q.strip() for q in options["queues"].split(",") if q.strip()]
        if queues:
            worker_options["queues"] = queues
        with app.replace_connector(app.connector.get_worker_connector()):
            status = asyncio.run(_run(worker_options))
        sys.exit(status)
