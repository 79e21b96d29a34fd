"""CONN_HEALTH_CHECKS without a round trip per request (reservation/db/base.py): a quiet
connection is reused as it is; one the server has closed is replaced before the request's
first query, as Django's own check would."""

import select

import psycopg
import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def health_checks_spied(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Django's health check (`is_usable`, its `SELECT 1`) on the default connection,
    recorded with its answer."""
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    connection.ensure_connection()
    calls: list[bool] = []
    real = connection.is_usable

    def spy() -> bool:
        calls.append(real())
        return calls[-1]

    monkeypatch.setattr(connection, "is_usable", spy)
    return calls


def _request(sql: str = "SELECT pg_backend_pid()") -> int:
    """What one request does around its first query."""
    request_started.send(sender=None)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]
    finally:
        request_finished.send(sender=None)


def test_a_quiet_connection_is_reused_without_a_health_check(health_checks_spied):
    # Django's test client reorders the request_started receivers: no matter.
    assert Client().get("/healthz").status_code == 200
    first = _request()
    assert [_request() for _ in range(3)] == [first] * 3
    assert health_checks_spied == []


def test_a_connection_the_server_closed_is_replaced_before_the_first_query(health_checks_spied):
    before = _request()
    with psycopg.connect(
        dbname=connection.settings_dict["NAME"],
        host=connection.settings_dict["HOST"] or None,
        port=connection.settings_dict["PORT"] or None,
        user=connection.settings_dict["USER"],
        autocommit=True,
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [before]).fetchone() == (True,)
    # The backend sends its reason and exits: the idle socket turns readable.
    assert select.select([connection.connection.fileno()], [], [], 5)[0]
    after = _request()
    assert after != before  # a new backend answered: the request did not fail
    assert health_checks_spied == [False]  # Django's SELECT 1 ran once, and failed
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] > 0
