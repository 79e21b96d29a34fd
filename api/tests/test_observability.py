"""Observability: request ids, JSON log lines, /healthz, /readyz and /metrics."""

import io
import json
import logging
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.test import Client as HttpClient
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings

from api import health, metrics
from api.observability import JsonFormatter, RequestContextFilter
from api.tests.conftest import GraphQL, gid, iso, token_of
from reservation import tasks
from reservation.models import ApiToken, Client, Provider, ReservationStatus
from reservation.selectors import coaching as coaching_selectors
from reservation.tests.factories import NOW, at, make_reservation

SLOTS = """
query Slots($providerId: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $providerId, start: $start, end: $end) { start }
}
"""

MY_RESERVATIONS = """
query MyReservations { reservations(first: 1) { totalCount } }
"""

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture(autouse=True)
def _fresh_migrations_cache() -> Iterator[None]:
    health.migrations_cache.clear()
    yield
    health.migrations_cache.clear()


@pytest.fixture
def metrics_on(settings: Settings) -> None:
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = ""


def slots_variables(provider: Provider) -> dict[str, str]:
    return {
        "providerId": gid("Provider", provider.pk),
        "start": iso(at(8, 0)),
        "end": iso(at(9, 0)),
    }


def scrape(
    http: HttpClient, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics and parse it: {(sample name, sorted labels): value}."""
    response = http.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, tuple(sorted(labels.items())))


def add_worker(*, seconds_ago: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - make_interval(secs => %s))",
            [seconds_ago],
        )


# --- request ids -----------------------------------------------------------------------------


def test_a_request_gets_a_fresh_request_id(http: HttpClient) -> None:
    first = http.get("/healthz")
    second = http.get("/healthz")

    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_sane_request_id_is_echoed(http: HttpClient) -> None:
    response = http.get("/healthz", HTTP_X_REQUEST_ID="edge-7f3a9c:01")

    assert response["X-Request-ID"] == "edge-7f3a9c:01"


@pytest.mark.parametrize(
    "insane", ["", "has space", 'quote"', "x" * 129, "semi;colon", "new\\nline", "é"]
)
def test_an_insane_request_id_is_replaced(http: HttpClient, insane: str) -> None:
    response = http.get("/healthz", HTTP_X_REQUEST_ID=insane)

    assert response["X-Request-ID"] != insane
    assert len(response["X-Request-ID"]) == 32


# --- JSON log lines --------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the production handler writes (the request filter and the JSON formatter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_a_log_line_in_a_graphql_request_names_the_request_the_user_and_the_operation(
    gql: GraphQL,
    provider: Provider,
    client_profile: Client,
    monkeypatch: pytest.MonkeyPatch,
    json_log: io.StringIO,
) -> None:
    # Given a selector that fails, so the API logs an error line, and a client with a token
    def explode(**kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(coaching_selectors, "provider_slots_for", explode)  # availableSlots
    secret = token_of(client_profile.user)
    token = ApiToken.objects.get(user=client_profile.user)

    # When the client asks for slots
    response = gql(SLOTS, slots_variables(provider), token=secret, HTTP_X_REQUEST_ID="req-42")

    # Then the error line is one JSON object with the request's id, who and which operation
    [line] = [
        json.loads(text)
        for text in json_log.getvalue().splitlines()
        if json.loads(text)["logger"] == "api.errors"
    ]
    assert response["X-Request-ID"] == "req-42"
    assert {key: line[key] for key in ("level", "request_id", "user_id", "operation")} == {
        "level": "ERROR",
        "request_id": "req-42",
        "user_id": client_profile.user.pk,
        "operation": "Slots",
    }
    assert (line["token_id"], line["link_token_id"]) == (token.pk, None)
    assert line["message"].startswith("unexpected error ")
    assert "RuntimeError: boom" in line["exception"]
    # ...and never the token's secret
    assert secret not in json_log.getvalue()


def test_a_log_line_outside_a_request_has_no_request_fields() -> None:
    record = logging.LogRecord("jobs", logging.INFO, __file__, 1, "sent %d", (3,), None)
    RequestContextFilter().filter(record)

    line = json.loads(JsonFormatter().format(record))

    assert {key: line[key] for key in ("level", "logger", "message")} == {
        "level": "INFO",
        "logger": "jobs",
        "message": "sent 3",
    }
    assert "request_id" not in line


def test_logging_is_json_unless_debug() -> None:
    code = "from settings import LOGGING as L; print(L['handlers']['console']['formatter'])"

    def formatter(**env: str) -> str:
        environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT"}}
        environment |= {"SECRET_KEY": "x" * 50, **env}
        out = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code],
            env=environment,
            cwd=BASE_DIR,
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    assert formatter(DEBUG="0") == "json"
    assert formatter(DEBUG="1") == "text"
    assert formatter(DEBUG="1", LOG_FORMAT="json") == "json"


# --- health ----------------------------------------------------------------------------------


def test_healthz_answers_without_the_database(http: HttpClient) -> None:
    response = http.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_readyz_is_ok_with_the_database_migrated_and_a_fresh_worker(http: HttpClient) -> None:
    add_worker(seconds_ago=5)

    response = http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
    }


@pytest.mark.django_db
def test_readyz_names_the_worker_without_a_heartbeat(http: HttpClient) -> None:
    response = http.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "failing": ["worker"],
        "checks": {
            "database": "ok",
            "migrations": "ok",
            "worker": "no Procrastinate worker has a heartbeat",
        },
    }


@pytest.mark.django_db
def test_readyz_names_the_worker_with_a_stale_heartbeat(
    http: HttpClient, settings: Settings
) -> None:
    settings.READYZ_WORKER_MAX_AGE_SECONDS = 60
    add_worker(seconds_ago=61)

    response = http.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"] == "last heartbeat 61 s ago (limit 60 s)"


@pytest.mark.django_db
def test_readyz_can_leave_the_worker_out(http: HttpClient, settings: Settings) -> None:
    settings.READYZ_CHECK_WORKER = False

    response = http.get("/readyz")

    assert (response.status_code, response.json()["checks"]) == (
        200,
        {"database": "ok", "migrations": "ok"},
    )


@pytest.mark.django_db
def test_readyz_names_unapplied_migrations(
    http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fresh worker, and one migration `migrate` would still apply
    add_worker(seconds_ago=1)
    pending = Migration("0999_pending", "reservation")
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets: [(pending, False)]
    )

    response = http.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "failing": ["migrations"],
        "checks": {
            "database": "ok",
            "migrations": "1 unapplied: reservation.0999_pending",
            "worker": "ok",
        },
    }


@pytest.mark.django_db
def test_the_migrations_check_is_cached_briefly(
    http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr(health, "unapplied_migrations", lambda: calls.append(1) or [])

    http.get("/readyz")
    http.get("/readyz")

    assert calls == [1]


# --- metrics ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("metrics_on")
def test_metrics_time_each_operation_by_name_and_type(
    gql: GraphQL, http: HttpClient, provider: Provider
) -> None:
    count = sample(
        "rendezvous_graphql_operation_duration_seconds_count", operation="Slots", type="query"
    )
    before = scrape(http).get(count, 0.0)

    assert gql(SLOTS, slots_variables(provider)).status_code == 200

    after = scrape(http)
    assert after[count] == before + 1
    assert (
        sample(
            "rendezvous_graphql_operation_duration_seconds_bucket",
            operation="Slots",
            type="query",
            le="+Inf",
        )
        in after
    )


def test_operation_labels_are_bounded(settings: Settings) -> None:
    settings.METRICS_MAX_OPERATION_NAMES = len(metrics._operation_names.seen) + 1

    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("not a name!") == "anonymous"
    assert metrics.operation_label("x" * 65) == "anonymous"
    assert metrics.operation_label("FirstNewName") == "FirstNewName"
    assert metrics.operation_label("SecondNewName") == "other"
    assert metrics.operation_label("FirstNewName") == "FirstNewName"


@pytest.mark.usefixtures("metrics_on")
def test_metrics_count_errors_by_code(gql: GraphQL, http: HttpClient) -> None:
    unauthenticated = sample("rendezvous_graphql_errors_total", code="UNAUTHENTICATED")
    before = scrape(http).get(unauthenticated, 0.0)

    response = gql(MY_RESERVATIONS)

    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert scrape(http)[unauthenticated] == before + 1


@pytest.mark.django_db
@pytest.mark.usefixtures("metrics_on")
def test_metrics_show_jobs_by_queue_and_status_and_reservations_by_status(
    http: HttpClient, provider: Provider, client_profile: Client
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status) VALUES "
            "('mail', 'reservation.send_notification', 'todo'), "
            "('mail', 'reservation.send_notification', 'todo'), "
            "('mail', 'reservation.send_notification', 'failed')"
        )
    make_reservation(
        provider=provider, client=client_profile, start=at(8, 9), status=ReservationStatus.HELD
    )
    add_worker(seconds_ago=3)

    scraped = scrape(http)

    jobs = {
        status: scraped[sample("rendezvous_procrastinate_jobs", queue="mail", status=status)]
        for status in metrics.JOB_STATUSES
    }
    assert jobs == {
        "todo": 2,
        "doing": 0,
        "succeeded": 0,
        "failed": 1,
        "cancelled": 0,
        "aborted": 0,
    }
    assert scraped[sample("rendezvous_procrastinate_jobs", queue="reminders", status="todo")] == 0
    assert {
        status: scraped[sample("rendezvous_reservations", status=status)]
        for status in ReservationStatus.values
    } == {"HELD": 1, "CONFIRMED": 0, "CANCELLED": 0, "EXPIRED": 0}
    assert 3 <= scraped[sample("rendezvous_procrastinate_worker_heartbeat_age_seconds")] < 60
    assert scraped[sample("rendezvous_metrics_database_up")] == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("metrics_on")
def test_metrics_count_holds_expired_by_the_job(
    http: HttpClient,
    provider: Provider,
    client_profile: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given two lapsed holds
    for hour in (9, 10):
        make_reservation(
            provider=provider,
            client=client_profile,
            start=at(8, hour),
            status=ReservationStatus.HELD,
            expires_at=NOW,
        )
    monkeypatch.setattr(tasks, "utcnow", lambda: NOW)
    expired = sample("rendezvous_holds_expired_total")
    before = scrape(http).get(expired, 0.0)

    # When the expiry job runs
    assert tasks.expire_holds(timestamp=0) == 2

    # Then the counter went up by two
    assert scrape(http)[expired] == before + 2


@pytest.mark.django_db
def test_metrics_are_not_served_unless_enabled(http: HttpClient, settings: Settings) -> None:
    settings.METRICS_ENABLED = False

    assert http.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_metrics_need_the_token_when_one_is_set(http: HttpClient, settings: Settings) -> None:
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = "scrape-secret-0123456789"

    refused = [
        http.get("/metrics"),
        http.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong"),
        http.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-secret-0123456789"),
    ]

    assert [response.status_code for response in refused] == [401, 401, 401]
    assert refused[0]["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"rendezvous_" not in b"".join(response.content for response in refused)
    scraped = scrape(http, HTTP_AUTHORIZATION="Bearer scrape-secret-0123456789")
    assert sample("rendezvous_metrics_database_up") in scraped


# --- several processes -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("metrics_on")
def test_metrics_add_up_the_processes_in_multiprocess_mode(
    http: HttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two processes (a gunicorn worker, the Procrastinate worker) that counted things
    code = (
        "from api import metrics; metrics.record_holds_expired(2); "
        "metrics.record_graphql_error('NOT_FOUND')"
    )
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", code], env=environment, cwd=BASE_DIR, check=True
        )

    # When /metrics is scraped with the same directory
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    scraped = scrape(http)

    # Then it shows their sum, and the database gauges too
    assert scraped[sample("rendezvous_holds_expired_total")] == 4
    assert scraped[sample("rendezvous_graphql_errors_total", code="NOT_FOUND")] == 2
    assert scraped[sample("rendezvous_metrics_database_up")] == 1


def test_gunicorn_drops_a_dead_workers_live_gauges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    config = runpy.run_path(str(BASE_DIR / "devops" / "gunicorn.conf.py"))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")

    config["child_exit"](None, SimpleNamespace(pid=4242))

    assert sorted(path.name for path in tmp_path.iterdir()) == ["counter_4242.db"]
    assert '"request_id":"%({x-request-id}o)s"' in config["access_log_format"]


@pytest.mark.django_db
def test_djangos_response_log_line_carries_the_request_id(
    http: HttpClient, settings: Settings, json_log: io.StringIO
) -> None:
    # Django logs a 4xx/5xx after the middleware has returned: the id comes from the request
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = "scrape-secret-0123456789"

    http.get("/metrics", HTTP_X_REQUEST_ID="req-401")

    [line] = [json.loads(text) for text in json_log.getvalue().splitlines()]
    assert {key: line[key] for key in ("logger", "message", "request_id", "status_code")} == {
        "logger": "django.request",
        "message": "Unauthorized: /metrics",
        "request_id": "req-401",
        "status_code": 401,
    }
