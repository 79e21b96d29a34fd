"""Turning lapsed holds into EXPIRED: the service and the periodic Procrastinate task."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django import app

from reservation import tasks
from reservation.models import AuditEntry, Client, Provider, Reservation, ReservationStatus
from reservation.services.reservations import reservation_expire_due
from reservation.tests.factories import (
    NOW,
    at,
    audit_trail,
    json_time,
    make_client,
    make_provider,
    make_reservation,
    row_counts,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HELD, CONFIRMED, CANCELLED, EXPIRED = (
    ReservationStatus.HELD,
    ReservationStatus.CONFIRMED,
    ReservationStatus.CANCELLED,
    ReservationStatus.EXPIRED,
)


def statuses() -> dict[int, str]:
    return dict(Reservation.objects.values_list("pk", "status"))


def calendar(provider: Provider, client: Client) -> dict[str, Reservation]:
    """One reservation of each kind, by name, all held against NOW."""

    def make(hour: int, status: str, expires_at: datetime | None = None) -> Reservation:
        return make_reservation(
            provider=provider,
            client=client,
            start=at(8, hour),
            status=status,
            expires_at=expires_at,
        )

    return {
        "lapsed": make(9, HELD, NOW - MINUTE),
        "lapsing_now": make(10, HELD, NOW),  # expires_at <= now: lapsed
        "live": make(11, HELD, NOW + SECOND),
        "confirmed": make(12, CONFIRMED),
        "cancelled": make(13, CANCELLED),
        "expired_before": make(14, EXPIRED),
    }


def test_expire_due_marks_only_lapsed_holds_in_one_update() -> None:
    provider, client = make_provider(), make_client()
    rows = calendar(provider, client)
    lapsed, lapsing = rows["lapsed"], rows["lapsing_now"]

    with CaptureQueriesContext(connection) as queries:
        expired = reservation_expire_due(now=NOW)

    assert expired == 2
    assert statuses() == {
        lapsed.pk: EXPIRED,
        lapsing.pk: EXPIRED,
        rows["live"].pk: HELD,
        rows["confirmed"].pk: CONFIRMED,
        rows["cancelled"].pk: CANCELLED,
        rows["expired_before"].pk: EXPIRED,
    }
    writes = [q["sql"].split()[0] for q in queries if q["sql"].split()[0] in {"UPDATE", "INSERT"}]
    # One set-based UPDATE; one bulk INSERT of the audit, one of the clients' notifications
    assert writes == ["UPDATE", "INSERT", "INSERT"]
    assert sorted(audit_trail()) == [
        ("reservation.expire", "reservation", lapsed.pk, "SYSTEM"),
        ("reservation.expire", "reservation", lapsing.pk, "SYSTEM"),
    ]
    entries = {e.subject_id: e for e in AuditEntry.objects.all()}
    assert entries[lapsed.pk].changes == {
        "status": "EXPIRED",
        "expires_at": json_time(NOW - MINUTE),
    }
    assert entries[lapsing.pk].changes == {"status": "EXPIRED", "expires_at": json_time(NOW)}
    assert {(e.at, e.actor_user_id, e.actor_token_id) for e in entries.values()} == {
        (NOW, None, None)
    }
    lapsed.refresh_from_db()
    assert (lapsed.updated_at, lapsed.expires_at) == (NOW, NOW - MINUTE)


def test_expire_due_twice_expires_nothing_more() -> None:
    calendar(make_provider(), make_client())
    reservation_expire_due(now=NOW)
    before = row_counts()

    assert reservation_expire_due(now=NOW) == 0

    assert row_counts() == before


def test_expire_due_for_one_provider_leaves_the_others() -> None:
    client = make_client()
    mine, theirs = make_provider(), make_provider()
    own = make_reservation(
        provider=mine, client=client, start=at(8, 9), status=HELD, expires_at=NOW
    )
    other = make_reservation(
        provider=theirs, client=client, start=at(8, 9), status=HELD, expires_at=NOW
    )

    assert reservation_expire_due(now=NOW, provider_id=mine.pk) == 1

    assert statuses() == {own.pk: EXPIRED, other.pk: HELD}
    assert audit_trail() == [("reservation.expire", "reservation", own.pk, "SYSTEM")]


def test_the_expire_holds_task_expires_lapsed_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = calendar(make_provider(), make_client())
    monkeypatch.setattr(tasks, "utcnow", lambda: NOW)  # the task reads the real clock

    # A Procrastinate task object calls its function directly; the periodic timestamp is unused.
    expired = tasks.expire_holds(timestamp=0)

    assert expired == 2
    assert {pk for pk, status in statuses().items() if status == EXPIRED} == {
        rows["lapsed"].pk,
        rows["lapsing_now"].pk,
        rows["expired_before"].pk,
    }
    assert [kind for *_, kind in audit_trail()] == ["SYSTEM", "SYSTEM"]
    assert tasks.expire_holds(timestamp=60) == 0


def test_expire_holds_runs_every_minute_on_the_procrastinate_app() -> None:
    periodic = app.periodic_registry.periodic_tasks[("reservation.expire_holds", "expire_holds")]

    assert periodic.cron == "* * * * *"
    assert periodic.task is tasks.expire_holds
    assert app.tasks["reservation.expire_holds"] is tasks.expire_holds
    assert (tasks.expire_holds.queue, tasks.expire_holds.queueing_lock) == (
        "maintenance",
        "expire_holds",
    )
