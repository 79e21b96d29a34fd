"""Turning lapsed holds into EXPIRED: the service and the periodic Procrastinate task."""

import threading
import time
from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from reservation import tasks
from reservation.models import (
    AuditEntry,
    Client,
    Notification,
    Provider,
    Reservation,
    ReservationStatus,
)
from reservation.services import expiry
from reservation.services.expiry import SweepResult, expire_sweep
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
    # One statement does it all (mark, audit, mails, their jobs); plus the end-of-sweep check.
    sweeps = [q["sql"] for q in queries if q["sql"].lstrip().startswith("WITH due AS")]
    assert len(sweeps) == 1
    assert "SKIP LOCKED" in sweeps[0]
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


# --- The set-based sweep (services.expiry) ---------------------------------------------------


def lapsed_holds(count: int, *, provider: Provider, client: Client) -> list[Reservation]:
    return [
        make_reservation(
            provider=provider,
            client=client,
            start=at(8, 0) + index * HOUR,
            status=HELD,
            expires_at=NOW - MINUTE,
        )
        for index in range(count)
    ]


HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("client_zone", "display_name", "expires_at"),
    [
        ("Europe/Berlin", "Dr Pat", NOW - MINUTE),
        ("America/St_Johns", "", NOW - timedelta(microseconds=1500)),  # half-hour zone, ms
        ("Asia/Kathmandu", 'Ö\'Brien, "Ltd"', NOW - timedelta(microseconds=3)),  # 0 ms
        ("", "Dr Pat", NOW),  # no zone: UTC
        ("Not/AZone", "Dr Pat", NOW),  # unknown to both: UTC, labelled with the stored name
    ],
)
def test_the_sql_writes_the_mail_and_audit_entry_python_would(
    client_zone: str, display_name: str, expires_at: datetime
) -> None:
    from reservation.notify_text import reservation_update
    from reservation.services.audit import _jsonable

    provider = make_provider(email="pat@example.com", time_zone="Asia/Tokyo")
    Provider.objects.filter(pk=provider.pk).update(display_name=display_name)
    client = make_client(time_zone=client_zone)
    hold = make_reservation(
        provider=provider,
        client=client,
        start=at(8, 10, 30),
        length=timedelta(minutes=45),
        status=HELD,
        expires_at=expires_at,
    )

    assert reservation_expire_due(now=NOW) == 1

    hold = Reservation.objects.select_related("client__user", "provider__user").get(pk=hold.pk)
    note = Notification.objects.get()
    assert (note.kind, note.recipient_id, note.reservation_id, note.status, note.created_at) == (
        Notification.Kind.RESERVATION_EXPIRED,
        client.user_id,
        hold.pk,
        Notification.Status.PENDING,
        NOW,
    )
    assert (note.subject, note.body) == reservation_update(
        reservation=hold, recipient=client.user, kind=Notification.Kind.RESERVATION_EXPIRED
    )
    entry = AuditEntry.objects.get()
    assert entry.changes == _jsonable({"status": "EXPIRED", "expires_at": expires_at})
    assert list(ProcrastinateJob.objects.values_list("task_name", "args", "status")) == [
        ("reservation.send_notification", {"notification_id": note.pk}, "todo")
    ]


def test_the_sweep_works_in_batches_and_each_row_once() -> None:
    provider, client = make_provider(), make_client()
    holds = lapsed_holds(5, provider=provider, client=client)
    live = make_reservation(provider=provider, client=client, start=at(9, 9), status=HELD)

    with CaptureQueriesContext(connection) as queries:
        result = expire_sweep(now=NOW, batch=2)

    assert result == SweepResult(expired=5, batches=3, finished=True)
    batches = [q["sql"] for q in queries if q["sql"].lstrip().startswith("WITH due AS")]
    assert len(batches) == 3
    assert statuses() == {**{h.pk: EXPIRED for h in holds}, live.pk: HELD}
    assert sorted(AuditEntry.objects.values_list("subject_id", flat=True)) == [h.pk for h in holds]
    assert sorted(Notification.objects.values_list("reservation_id", flat=True)) == [
        h.pk for h in holds
    ]
    notes = sorted(Notification.objects.values_list("pk", flat=True))
    assert sorted(ProcrastinateJob.objects.values_list("args__notification_id", flat=True)) == notes
    assert expire_sweep(now=NOW, batch=2) == SweepResult(expired=0, batches=1, finished=True)


def test_a_sweep_out_of_time_stops_between_batches_and_the_next_resumes() -> None:
    provider, client = make_provider(), make_client()
    holds = lapsed_holds(5, provider=provider, client=client)

    first = expire_sweep(now=NOW, batch=2, max_seconds=0)

    assert first == SweepResult(expired=2, batches=1, finished=False)
    assert [s for _, s in sorted(statuses().items())] == [EXPIRED] * 2 + [HELD] * 3
    second = expire_sweep(now=NOW, batch=2)
    assert second == SweepResult(expired=3, batches=2, finished=True)
    assert set(statuses().values()) == {EXPIRED}
    assert AuditEntry.objects.count() == Notification.objects.count() == len(holds)


def test_a_batch_that_fails_leaves_nothing_behind() -> None:
    provider, client = make_provider(), make_client()
    holds = lapsed_holds(3, provider=provider, client=client)
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(
            "ALTER TABLE reservation_auditentry ADD CONSTRAINT no_expiry_audit "
            "CHECK (action <> 'reservation.expire') NOT VALID"
        )

    with pytest.raises(IntegrityError, match="no_expiry_audit"):
        expire_sweep(now=NOW)

    assert statuses() == {h.pk: HELD for h in holds}
    assert (Notification.objects.count(), ProcrastinateJob.objects.count()) == (0, 0)


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_share_the_work_without_waiting_for_each_other() -> None:
    provider, client = make_provider(), make_client()
    holds = lapsed_holds(6, provider=provider, client=client)
    locked = holds[:2]
    ready, release = threading.Event(), threading.Event()

    def other_sweep_mid_batch() -> None:  # holds its batch's row locks until told to go
        try:
            with transaction.atomic():
                list(
                    Reservation.objects.select_for_update()
                    .filter(pk__in=[h.pk for h in locked])
                    .values_list("pk")
                )
                ready.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_sweep_mid_batch)
    thread.start()
    try:
        assert ready.wait(timeout=30)
        started = time.monotonic()
        result = expire_sweep(now=NOW, batch=10)
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join(timeout=30)

    assert waited < 5  # it skipped the locked rows instead of waiting for them
    assert result == SweepResult(expired=4, batches=1, finished=True)
    assert statuses() == {h.pk: HELD if h in locked else EXPIRED for h in holds}
    assert expire_sweep(now=NOW).expired == 2  # the rows freed are swept next time
    assert set(statuses().values()) == {EXPIRED}


def test_a_big_batch_defers_one_fan_out_job_that_defers_the_mail_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(expiry, "DIRECT_MAIL_JOBS_MAX", 2)
    provider, client = make_provider(), make_client()
    lapsed_holds(3, provider=provider, client=client)

    assert expire_sweep(now=NOW).expired == 3

    notes = list(Notification.objects.order_by("id").values_list("pk", flat=True))
    assert list(ProcrastinateJob.objects.values_list("queue_name", "task_name", "args")) == [
        ("mail", "reservation.defer_notification_sends", {"notification_ids": notes})
    ]
    Notification.objects.filter(pk=notes[0]).update(status=Notification.Status.SENT, sent_at=NOW)

    assert tasks.defer_notification_sends(notification_ids=notes) == 2

    sends = ProcrastinateJob.objects.filter(task_name="reservation.send_notification")
    assert list(sends.order_by("id").values_list("queue_name", "args", "status")) == [
        ("mail", {"notification_id": pk}, "todo") for pk in notes[1:]
    ]


# --- Webhook deliveries of expiries, in the batch statement ----------------------------------


def test_the_sweep_writes_the_deliveries_webhooks_emit_would_in_its_one_statement() -> None:
    from reservation.models import Webhook, WebhookDelivery, WebhookEventType
    from reservation.services import webhooks
    from reservation.tests.factories import make_staff, make_user

    provider, client = make_provider(), make_client()
    holds = lapsed_holds(2, provider=provider, client=client)
    stranger = make_user()
    expired_type, other_type = (
        WebhookEventType.RESERVATION_EXPIRED,
        WebhookEventType.RESERVATION_CREATED,
    )

    def webhook(owner_id: int, events: list[str], **flags: bool) -> int:
        return Webhook.objects.create(
            owner_id=owner_id,
            url="https://hooks.example.com/in",
            secret="s" * 20,
            events=events,
            created_at=NOW,
            updated_at=NOW,
            **flags,
        ).pk

    hears = [
        webhook(client.user_id, [other_type, expired_type]),  # the client's
        webhook(provider.user_id, [expired_type]),  # the provider's
        webhook(make_staff().pk, [expired_type], is_global=True),  # staff, every change
    ]
    # and near misses: another event type, someone else's, switched off
    webhook(client.user_id, [other_type])
    webhook(stranger.pk, [expired_type])
    webhook(make_staff().pk, [expired_type], is_global=True, is_active=False)
    webhook(provider.user_id, [expired_type], is_active=False)

    with CaptureQueriesContext(connection) as queries:
        assert expire_sweep(now=NOW) == SweepResult(expired=2, batches=1, finished=True)

    # one statement did it all (in the test's savepoint), nothing read the entries back
    statements = [q["sql"].lstrip()[:12] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert statements == ["WITH due AS "]
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.subject_id for e in entries] == [h.pk for h in holds]
    deliveries = WebhookDelivery.objects.order_by("id")
    assert list(
        deliveries.values_list(
            "webhook_id",
            "audit_entry_id",
            "event_type",
            "subject_type",
            "subject_id",
            "occurred_at",
            "created_at",
            "status",
            "body",
            "attempts",
        )
    ) == [
        (pk, e.pk, expired_type, "reservation", e.subject_id, NOW, NOW, "PENDING", "", 0)
        for e in entries
        for pk in hears
    ]
    assert list(
        ProcrastinateJob.objects.filter(task_name="reservation.deliver_webhook")
        .order_by("id")
        .values_list("queue_name", "args")
    ) == [("webhooks", {"delivery_id": pk}) for pk in deliveries.values_list("pk", flat=True)]

    # Python's emitter, given the same entries, picks the same webhooks in the same order
    with transaction.atomic():
        WebhookDelivery.objects.all().delete()
        emitted = webhooks.webhooks_emit(entries)
        assert [(d.webhook_id, d.audit_entry_id) for d in emitted] == [
            (pk, e.pk) for e in entries for pk in hears
        ]
        transaction.set_rollback(True)


def test_a_big_batch_defers_one_fan_out_job_for_its_webhook_deliveries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reservation.models import Webhook, WebhookDelivery
    from reservation.tests.factories import make_staff

    monkeypatch.setattr(expiry, "DIRECT_WEBHOOK_JOBS_MAX", 2)
    Webhook.objects.create(
        owner=make_staff(),
        url="https://hooks.example.com/in",
        secret="s" * 20,
        events=["reservation.expired"],
        is_global=True,
        created_at=NOW,
        updated_at=NOW,
    )
    provider, client = make_provider(), make_client()
    lapsed_holds(3, provider=provider, client=client)

    assert expire_sweep(now=NOW).expired == 3

    deliveries = list(WebhookDelivery.objects.order_by("id").values_list("pk", flat=True))
    hook_jobs = ProcrastinateJob.objects.filter(queue_name="webhooks")
    assert list(hook_jobs.values_list("task_name", "args")) == [
        ("reservation.defer_webhook_deliveries", {"delivery_ids": deliveries})
    ]
    WebhookDelivery.objects.filter(pk=deliveries[0]).update(status=WebhookDelivery.Status.SKIPPED)

    assert tasks.defer_webhook_deliveries(delivery_ids=deliveries) == 2

    sends = hook_jobs.filter(task_name="reservation.deliver_webhook").order_by("id")
    assert list(sends.values_list("args", "status")) == [
        ({"delivery_id": pk}, "todo") for pk in deliveries[1:]
    ]


def test_a_booking_that_knows_no_webhook_listens_writes_no_delivery_statement() -> None:
    provider, client = make_provider(), make_client()
    lapsed_holds(1, provider=provider, client=client)

    with CaptureQueriesContext(connection) as queries:
        assert expiry.expire_due(now=NOW, provider_id=provider.pk, emit=False) == 1

    (sql,) = [q["sql"] for q in queries if q["sql"].lstrip().startswith("WITH due AS")]
    assert "reservation_webhook" not in sql
    assert "SKIP LOCKED" not in sql  # a booking waits for the holds it must clear


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_a_backlog_is_shared_by_the_sweep_s_threads_and_each_hold_expired_once() -> None:
    provider, client = make_provider(), make_client()
    holds = lapsed_holds(41, provider=provider, client=client)
    threads_seen: set[int] = set()
    batch = expiry._expire_batch

    def recording(**kwargs: object) -> tuple[int, int]:
        threads_seen.add(threading.get_ident())
        return batch(**kwargs)  # type: ignore[arg-type]

    expiry._expire_batch = recording  # type: ignore[assignment]
    try:
        result = expire_sweep(now=NOW, batch=4, workers=3)
    finally:
        expiry._expire_batch = batch  # type: ignore[assignment]

    assert (result.expired, result.finished) == (41, True)
    assert len(threads_seen) == 3  # the caller and two helpers
    assert statuses() == {h.pk: EXPIRED for h in holds}
    assert sorted(AuditEntry.objects.values_list("subject_id", flat=True)) == [h.pk for h in holds]
    assert sorted(Notification.objects.values_list("reservation_id", flat=True)) == [
        h.pk for h in holds
    ]


def test_a_sweep_without_a_backlog_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self))
    provider, client = make_provider(), make_client()
    lapsed_holds(3, provider=provider, client=client)

    assert expire_sweep(now=NOW, batch=4, workers=3) == SweepResult(
        expired=3, batches=1, finished=True
    )
    assert started == []
