"""Prometheus metrics (prometheus_client), one endpoint per process type.

The web processes, at /metrics of the app:
- `rendezvous_graphql_operation_duration_seconds{root_fields,type}`: a histogram per GraphQL
  operation, labelled by the root fields it asked for (`reservationCreate`,
  `availableSlots+me`), never by the name the client chose; timed by OperationMetrics.
- `rendezvous_graphql_errors_total{code}`: top-level GraphQL errors by their `code`
  (counted by api.errors.ErrorCodes).
- `rendezvous_http_responses_total{status}`: every HTTP response by status (401, 413, 429
  and 503 included), counted by HttpMetricsMiddleware.
- `rendezvous_holds_expired_total`: holds the expiry job turned into EXPIRED.
- `rendezvous_procrastinate_jobs{queue,status}`, `rendezvous_reservations{status}`,
  `rendezvous_notifications{status}` (PENDING, RETRYING, SENT, FAILED),
  `rendezvous_procrastinate_worker_heartbeat_age_seconds`: read from the database when
  scraped, so they are right whichever process asks.

The Procrastinate worker (`manage.py worker`), on METRICS_WORKER_PORT:
- `rendezvous_job_duration_seconds{task,outcome}` and `rendezvous_job_runs_total{task,outcome}`
  (outcome: succeeded, retried, failed, aborted), recorded by observe_job.

gunicorn runs several worker processes, each with its own counters: devops/gunicorn.conf.py
gives them a folder of their own (PROMETHEUS_MULTIPROC_DIR, under METRICS_DIR or the
temporary folder, made empty at each start), where every process writes its values and
/metrics adds them up (MultiProcessCollector); it also cleans up after dead workers. No other
process writes there: a `manage.py` command or the worker that finds PROMETHEUS_MULTIPROC_DIR
in its environment (not started by gunicorn.conf.py) ignores it and keeps its metrics in
memory, so short commands leave no files, and containers never share the folder.
"""

import asyncio
import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    get_operation_ast,
)
from procrastinate import JobContext
from procrastinate.exceptions import JobAborted
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from strawberry.extensions import SchemaExtension

from api.observability import set_operation

logger = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
job_logger = logging.getLogger("rendezvous.jobs")

# Metrics of this process (in multiprocess mode their values live in files instead, and
# /metrics reads those). Our own registry, not the global one: nothing else can register
# into it by accident.
REGISTRY = CollectorRegistry()

OPERATION_DURATION = Histogram(
    "rendezvous_graphql_operation_duration_seconds",
    "Time to answer one GraphQL operation (parse, validate, execute), by its root fields.",
    ["root_fields", "type"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GRAPHQL_ERRORS = Counter(
    "rendezvous_graphql_errors",
    "Top-level GraphQL errors, by their extensions.code.",
    ["code"],
    registry=REGISTRY,
)
HTTP_RESPONSES = Counter(
    "rendezvous_http_responses",
    "HTTP responses by status code.",
    ["status"],
    registry=REGISTRY,
)
HOLDS_EXPIRED = Counter(
    "rendezvous_holds_expired",
    "Holds whose time ran out, marked EXPIRED by the expiry job.",
    registry=REGISTRY,
)

# The worker's own (served by serve_worker_metrics): nothing database-backed, no web series.
WORKER_REGISTRY = CollectorRegistry()
JOB_DURATION = Histogram(
    "rendezvous_job_duration_seconds",
    "Time one Procrastinate job run took, by task and outcome.",
    ["task", "outcome"],
    registry=WORKER_REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
JOB_RUNS = Counter(
    "rendezvous_job_runs",
    "Procrastinate job runs by task and outcome (succeeded, retried, failed, aborted).",
    ["task", "outcome"],
    registry=WORKER_REGISTRY,
)

# --- bounded labels --------------------------------------------------------------------------

OTHER = "other"
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


class _LabelCap:
    """At most `limit` distinct values per process; later new ones become OTHER. A client
    that invents a name per request cannot blow up the number of series."""

    def __init__(self, setting: str, default: int) -> None:
        self.setting, self.default = setting, default
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        with self.lock:
            if len(self.seen) >= getattr(settings, self.setting, self.default):
                return OTHER
            self.seen.add(value)
        return value


_operation_names = _LabelCap("METRICS_MAX_OPERATION_NAMES", 200)
_error_codes = _LabelCap("METRICS_MAX_ERROR_CODES", 100)
INVALID = "invalid"  # a document that did not parse or validate: no root fields to name


def root_fields(document: DocumentNode, operation_name: str | None) -> list[str]:
    """The distinct root fields an operation selects, sorted (fragments followed,
    `__typename` left out). Only call it on a validated document: its names then exist in
    the schema, so they are a bounded set."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    names: set[str] = set()
    pending = list(operation.selection_set.selections)
    seen_fragments: set[str] = set()
    while pending:
        selection = pending.pop()
        if isinstance(selection, FieldNode):
            if selection.name.value != "__typename":
                names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            pending.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in seen_fragments and name in fragments:
                seen_fragments.add(name)
                pending.extend(fragments[name].selection_set.selections)
    return sorted(names)


def root_fields_label(names: list[str]) -> str:
    """`a+b` for the root fields a and b, capped like every label."""
    if not names:
        return "__typename"
    return _operation_names("+".join(names)[:200])


def record_graphql_error(code: object) -> None:
    """Count one top-level GraphQL error under its code."""
    code = str(code) if code else "UNKNOWN"
    GRAPHQL_ERRORS.labels(code=_error_codes(code) if _ERROR_CODE.fullmatch(code) else OTHER).inc()


def record_holds_expired(count: int, **_: object) -> None:
    """Receiver of reservation.signals.holds_expired (connected in ApiConfig.ready)."""
    if count:
        HOLDS_EXPIRED.inc(count)


class OperationMetrics(SchemaExtension):
    """Times each GraphQL operation under its root fields and names it in the request's log
    context. Put it first in the schema's extensions: it is then the outermost, and its time
    covers the others."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        self._label = INVALID
        set_operation(name=self.execution_context.operation_name)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            OPERATION_DURATION.labels(root_fields=self._label, type=self._operation_type()).observe(
                elapsed
            )

    def on_execute(self) -> Iterator[None]:
        # The document is parsed and valid: its root fields are the schema's, and an unnamed
        # request may have a named operation.
        context = self.execution_context
        set_operation(name=context.operation_name)
        if context.graphql_document is not None:
            self._label = root_fields_label(
                root_fields(context.graphql_document, context.operation_name)
            )
        yield

    def _operation_type(self) -> str:
        try:
            return self.execution_context.operation_type.value
        except RuntimeError:  # no document (a syntax error), or no such operation
            return "unknown"


class HttpMetricsMiddleware:
    """Counts every response by status code (MIDDLEWARE, right after RequestIdMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        HTTP_RESPONSES.labels(status=str(response.status_code)).inc()
        return response


# --- the worker ------------------------------------------------------------------------------


async def observe_job(call_next: Callable[[], Any], context: JobContext, worker: object) -> Any:
    """Procrastinate worker middleware: one log line per job run with its outcome and
    duration, and JOB_DURATION / JOB_RUNS. `retried` means the job failed and will run again
    (its retry strategy), `failed` that it will not."""
    job = context.job
    started = time.perf_counter()
    outcome, error = "succeeded", None
    try:
        return await call_next()
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        if isinstance(exc, JobAborted | asyncio.CancelledError):
            outcome = "aborted"
        else:
            task = context.app.tasks.get(job.task_name)
            will_retry = task is not None and task.get_retry_exception(exception=exc, job=job)
            outcome = "retried" if will_retry else "failed"
        raise
    finally:
        elapsed = time.perf_counter() - started
        JOB_DURATION.labels(task=job.task_name, outcome=outcome).observe(elapsed)
        JOB_RUNS.labels(task=job.task_name, outcome=outcome).inc()
        level = {"succeeded": logging.INFO, "retried": logging.WARNING}.get(outcome, logging.ERROR)
        job_logger.log(
            level,
            "job %s %s: %s in %.3f s",
            job.id,
            job.task_name,
            outcome,
            elapsed,
            extra={
                "job_id": job.id,
                "task": job.task_name,
                "queue": job.queue,
                "attempt": job.attempts + 1,
                "outcome": outcome,
                "duration_s": round(elapsed, 6),
                "error": error,
            },
        )


def serve_worker_metrics(address: str, port: int) -> None:
    """Serve the worker's metrics over HTTP (a daemon thread), for Prometheus to scrape."""
    start_http_server(port, addr=address, registry=WORKER_REGISTRY)
    logger.info("worker metrics on http://%s:%d/metrics", address, port)


# --- read from the database at scrape time ---------------------------------------------------

JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")


class DatabaseCollector(Collector):
    """Gauges counted in PostgreSQL on each scrape: jobs by queue and status, reservations by
    status, the age of the freshest worker heartbeat. A slow or failing database costs the
    scrape at most METRICS_DB_TIMEOUT_MS and shows as rendezvous_metrics_database_up 0."""

    def describe(self) -> list[Metric]:
        return []  # computed per scrape; nothing to check for name clashes up front

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "rendezvous_metrics_database_up",
            "1 when the database gauges below could be read at this scrape, else 0.",
        )
        try:
            families = self._read()
        except DatabaseError:
            logger.warning("metrics: could not read the database gauges", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        from procrastinate.contrib.django import app

        from reservation.models import Notification, ReservationStatus

        timeout_ms = int(getattr(settings, "METRICS_DB_TIMEOUT_MS", 2000))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            cursor.execute(
                "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs GROUP BY 1, 2"
            )
            job_rows = cursor.fetchall()
            cursor.execute("SELECT status, count(*) FROM reservation_reservation GROUP BY 1")
            reservation_rows = dict(cursor.fetchall())
            cursor.execute("SELECT status, count(*) FROM reservation_notification GROUP BY 1")
            notification_rows = dict(cursor.fetchall())
            cursor.execute(
                "SELECT EXTRACT(EPOCH FROM now() - max(last_heartbeat)) FROM procrastinate_workers"
            )
            (heartbeat_age,) = cursor.fetchone()

        jobs = GaugeMetricFamily(
            "rendezvous_procrastinate_jobs",
            "Procrastinate jobs in the database, by queue and status.",
            labels=["queue", "status"],
        )
        # Every status of every known queue, zeros included: a series that vanishes at zero
        # breaks rate() and alerts.
        counts = {(queue, status): count for queue, status, count in job_rows}
        queues = {task.queue for task in app.tasks.values()} | {queue for queue, _ in counts}
        for queue in sorted(queues):
            for status in JOB_STATUSES:
                jobs.add_metric([queue, status], counts.get((queue, status), 0))

        reservations = GaugeMetricFamily(
            "rendezvous_reservations",
            "Reservations in the database, by status.",
            labels=["status"],
        )
        for status in ReservationStatus.values:
            reservations.add_metric([status], reservation_rows.get(status, 0))

        notifications = GaugeMetricFamily(
            "rendezvous_notifications",
            "E-mail notifications by status: PENDING, RETRYING (will be tried again), SENT, "
            "FAILED (given up).",
            labels=["status"],
        )
        for status in Notification.Status.values:
            notifications.add_metric([status], notification_rows.get(status, 0))

        families: list[Metric] = [jobs, reservations, notifications]
        if heartbeat_age is not None:
            age = GaugeMetricFamily(
                "rendezvous_procrastinate_worker_heartbeat_age_seconds",
                "Seconds since the freshest Procrastinate worker heartbeat (absent: no worker).",
            )
            age.add_metric([], max(float(heartbeat_age), 0.0))
            families.append(age)
        return families


REGISTRY.register(DatabaseCollector())


def render() -> bytes:
    """The exposition text: this process's registry, or, in multiprocess mode, the sum over
    every process's files plus the database gauges."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(DatabaseCollector())
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        secret.strip().encode(), token.encode()
    )


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: 404 unless METRICS_ENABLED; 401 without `Authorization: Bearer
    <METRICS_TOKEN>` when that is set."""
    if not settings.METRICS_ENABLED:
        return HttpResponse(status=404)
    token = settings.METRICS_TOKEN
    if token and not _authorized(request, token):
        return HttpResponse(
            "Unauthorized\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
