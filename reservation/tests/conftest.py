"""Keeping Procrastinate's tables empty between tests.

Its tables are unmanaged models, so the flush after a `transaction=True` test leaves them:
the jobs such a test commits (the mails of a reservation moved in a race test, say) would
outlive it and show up in the next test's job list. (Runs use a fresh test database, so nothing
survives from one run into the next.)
"""

from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.db import connection
from pytest_django import DjangoDbBlocker

from reservation.tests.caldav_server import _loopback_allowed, radicale  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _empty_caches() -> None:
    """Rate-limit counters live in the cache: no test inherits another's requests."""
    for cache in caches.all():
        cache.clear()


def empty_job_tables() -> None:
    """Delete every Procrastinate job, event, periodic defer and worker row."""
    with connection.cursor() as cursor:
        # periodic_defers refer to jobs without ON DELETE; events go with their jobs.
        cursor.execute("DELETE FROM procrastinate_periodic_defers")
        cursor.execute("DELETE FROM procrastinate_jobs")
        cursor.execute("DELETE FROM procrastinate_workers")


@pytest.fixture(autouse=True)
def _no_jobs_left_by_transactional_tests(
    request: pytest.FixtureRequest, django_db_blocker: DjangoDbBlocker
) -> Iterator[None]:
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    if transactional:
        with django_db_blocker.unblock():
            empty_job_tables()
