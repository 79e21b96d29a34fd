"""Prometheus metrics, served at /metrics (prometheus_client).

- `rendezvous_graphql_operation_duration_seconds{operation,type}`: a histogram per GraphQL
  operation, timed by the OperationMetrics schema extension.
- `rendezvous_graphql_errors_total{code}`: top-level GraphQL errors by their `code`
  (counted by api.errors.ErrorCodes).
- `rendezvous_holds_expired_total`: holds the expiry job turned into EXPIRED.
- `rendezvous_procrastinate_jobs{queue,status}`, `rendezvous_reservations{status}`,
  `rendezvous_procrastinate_worker_heartbeat_age_seconds`: read from the database when
  scraped, so they are right whichever process asks.

gunicorn runs several worker processes, each with its own counters. With
PROMETHEUS_MULTIPROC_DIR set (an empty directory, shared by gunicorn and the Procrastinate
worker, created fresh at each start), every process writes its values there and /metrics
adds them up (MultiProcessCollector); devops/gunicorn.conf.py cleans up after dead workers.
Without it each process reports only its own counts: fine for `runserver` and tests.
"""

import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from strawberry.extensions import SchemaExtension

from api.observability import set_operation

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Metrics of this process (in multiprocess mode their values live in files instead, and
# /metrics reads those). Our own registry, not the global one: nothing else can register
# into it by accident.
REGISTRY = CollectorRegistry()

OPERATION_DURATION = Histogram(
    "rendezvous_graphql_operation_duration_seconds",
    "Time to answer one GraphQL operation (parse, validate, execute), by operation name.",
    ["operation", "type"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GRAPHQL_ERRORS = Counter(
    "rendezvous_graphql_errors",
    "Top-level GraphQL errors, by their extensions.code.",
    ["code"],
    registry=REGISTRY,
)
HOLDS_EXPIRED = Counter(
    "rendezvous_holds_expired",
    "Holds whose time ran out, marked EXPIRED by the expiry job.",
    registry=REGISTRY,
)

# --- bounded labels --------------------------------------------------------------------------

ANONYMOUS = "anonymous"
OTHER = "other"
# A GraphQL name, shortened: operation names come from clients.
_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
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


def operation_label(name: str | None) -> str:
    if not name or not _OPERATION_NAME.fullmatch(name):
        return ANONYMOUS
    return _operation_names(name)


def record_graphql_error(code: object) -> None:
    """Count one top-level GraphQL error under its code."""
    code = str(code) if code else "UNKNOWN"
    GRAPHQL_ERRORS.labels(code=_error_codes(code) if _ERROR_CODE.fullmatch(code) else OTHER).inc()


def record_holds_expired(count: int, **_: object) -> None:
    """Receiver of reservation.signals.holds_expired (connected in ApiConfig.ready)."""
    if count:
        HOLDS_EXPIRED.inc(count)


class OperationMetrics(SchemaExtension):
    """Times each GraphQL operation and names it in the request's log context. Put it first
    in the schema's extensions: it is then the outermost, and its time covers the others."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        set_operation(name=self.execution_context.operation_name)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            OPERATION_DURATION.labels(
                operation=operation_label(self.execution_context.operation_name),
                type=self._operation_type(),
            ).observe(elapsed)

    def on_execute(self) -> Iterator[None]:
        # The document is parsed and valid: an unnamed request may have a named operation.
        set_operation(name=self.execution_context.operation_name)
        yield

    def _operation_type(self) -> str:
        try:
            return self.execution_context.operation_type.value
        except RuntimeError:  # no document (a syntax error), or no such operation
            return "unknown"


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

        from reservation.models import ReservationStatus

        timeout_ms = int(getattr(settings, "METRICS_DB_TIMEOUT_MS", 2000))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            cursor.execute(
                "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs GROUP BY 1, 2"
            )
            job_rows = cursor.fetchall()
            cursor.execute("SELECT status, count(*) FROM reservation_reservation GROUP BY 1")
            reservation_rows = dict(cursor.fetchall())
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

        families: list[Metric] = [jobs, reservations]
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
