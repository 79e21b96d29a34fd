"""A live Rendezvous server (Django's live server on a free loopback port, on the test
database) for the terminal client to talk to, and empty job tables and caches around it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from pytest_django import DjangoDbBlocker
from pytest_django.live_server_helper import LiveServer

from rendezvous_tui.tests.screen import Screen, tmux_missing
from reservation.tests.conftest import empty_job_tables


@pytest.fixture
def server(
    live_server: LiveServer, transactional_db: None, django_db_blocker: DjangoDbBlocker
) -> Iterator[str]:
    """The GraphQL URL of a server whose rows this test writes and reads back."""
    for cache in caches.all():
        cache.clear()  # rate-limit counters
    yield f"{live_server.url}/graphql"
    with django_db_blocker.unblock():
        empty_job_tables()  # jobs the client's actions enqueued (the flush leaves them)


@pytest.fixture
def screens(tmp_path: Path) -> Iterator[list[Screen]]:
    """Screens opened by the test, closed (and their tmux servers killed) after it."""
    if reason := tmux_missing():
        pytest.skip(reason)
    opened: list[Screen] = []
    yield opened
    for screen in opened:
        screen.close()
