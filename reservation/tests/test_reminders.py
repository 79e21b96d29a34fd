"""Reminders: deliveries scheduled as Procrastinate jobs for `occurrence start - offset`,
rescheduled when the event moves, dropped when it is cancelled, chained for a recurring
event, retried while the receiver is down, and sent over a real HTTP server on loopback.

Most tests drive the jobs as a worker would at a chosen moment (`run_due`): each job whose
`scheduled_at` has come runs `reminder_send` with the clock at that moment; a failure pushes
the job back as Procrastinate's retry would. The last test runs a real worker instead.

The receiver is on loopback, so the tests that use it turn REMINDER_ALLOW_PRIVATE_NETWORKS on
(as for local testing); the SSRF tests turn it off and check that nothing reaches it.
"""

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection, transaction
from procrastinate.contrib.django.models import ProcrastinateJob
from pytest_django.fixtures import Settings

from reservation.actors import utcnow
from reservation.errors import ErrorCode
from reservation.models import (
    Channel,
    ChannelAddress,
    Event,
    EventStatus,
    OccurrenceChange,
    Participant,
    Reminder,
    ReminderDelivery,
    User,
)
from reservation.services import reminders as service
from reservation.services.events import event_cancel
from reservation.tests.conftest import empty_job_tables
from reservation.tests.factories import NOW, actor_for, make_user, rejected
from reservation.tests.http_receiver import Receiver
from reservation.tests.test_worker import database_url

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
START = NOW + DAY  # 2030-01-08 08:00 UTC
TASK = "reservation.send_reminder"
Status = ReminderDelivery.Status


@pytest.fixture
def receiver(settings: Settings) -> Iterator[Receiver]:
    """The loopback receiver, reachable: REMINDER_ALLOW_PRIVATE_NETWORKS on (local testing)."""
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = True
    server = Receiver().start()
    yield server
    server.stop()


def make_event(
    organizer: User,
    *parties: User,
    start: datetime = START,
    recurrence: str = "",
    status: str = EventStatus.SCHEDULED,
) -> Event:
    event = Event.objects.create(
        organizer=organizer,
        title="Planning",
        status=status,
        start=start,
        end=start + HOUR,
        recurrence=recurrence,
        created_at=NOW,
        updated_at=NOW,
    )
    Participant.objects.create(event=event, user=organizer, role=Participant.Role.ORGANIZER)
    for party in parties:
        Participant.objects.create(event=event, user=party)
    return event


def hook(user: User, receiver: Receiver, *, secret: str = "k") -> ChannelAddress:  # noqa: S107
    return ChannelAddress.objects.create(
        user=user, channel=Channel.WEBHOOK, address=f"{receiver.url}/u{user.pk}", secret=secret
    )


def replace(event: Event, reminders: list[tuple[int, ...]], now: datetime = NOW) -> None:
    with transaction.atomic():
        service.reminders_replace(event=event, reminders=reminders, now=now)


def move(event: Event, by: timedelta, now: datetime = NOW) -> None:
    """What event_update does: the new time, then reminders_reschedule, in one transaction."""
    with transaction.atomic():
        event.start += by
        event.end += by
        event.save(update_fields=["start", "end"])
        service.reminders_reschedule(event=event, now=now)


def deliveries() -> list[tuple[int, datetime, datetime, str, int]]:
    """(recipient, occurrence start, due, status, attempts) of every delivery, by id."""
    return list(
        ReminderDelivery.objects.order_by("pk").values_list(
            "recipient_id", "occurrence_start", "due_at", "status", "attempts"
        )
    )


def jobs() -> list[tuple[int, datetime, str]]:
    """(delivery id, scheduled_at, status) of every reminder job, by id."""
    return [
        (args["delivery_id"], scheduled_at, status)
        for args, scheduled_at, status in ProcrastinateJob.objects.filter(task_name=TASK)
        .order_by("pk")
        .values_list("args", "scheduled_at", "status")
    ]


def run_due(at: datetime) -> list[str]:
    """Run, as a worker would at `at`, every waiting reminder job due by then, including
    jobs that those runs defer; a failed one is put back 2 s later (Procrastinate's first
    retry). Returns the outcomes."""
    outcomes = []
    while True:
        job = (
            ProcrastinateJob.objects.filter(task_name=TASK, status="todo", scheduled_at__lte=at)
            .order_by("scheduled_at", "pk")
            .first()
        )
        if job is None:
            return outcomes
        try:
            outcome = service.reminder_send(delivery_id=job.args["delivery_id"], now=at)
        except Exception as exc:  # noqa: BLE001 - as the worker does: retry
            outcomes.append(f"error: {exc}")
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE procrastinate_jobs SET scheduled_at = %s, attempts = attempts + 1 "
                    "WHERE id = %s",
                    [at + timedelta(seconds=2), job.pk],
                )
            return outcomes
        outcomes.append(outcome)
        with connection.cursor() as cursor:
            cursor.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', false)", [job.pk])


def bodies(receiver: Receiver) -> list[dict[str, object]]:
    return [json.loads(request.body) for request in receiver.requests]


# --- Scheduling ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_participant_gets_a_job_scheduled_for_the_due_time() -> None:
    ann, bob = make_user(email="ann@example.com"), make_user(email="bob@example.com")
    event = make_event(ann, bob)

    replace(event, [(15, Channel.EMAIL), (24 * 60, Channel.EMAIL)])

    due_15, due_day = START - 15 * MINUTE, START - DAY
    assert deliveries() == [
        (ann.pk, START, due_15, Status.SCHEDULED, 0),
        (bob.pk, START, due_15, Status.SCHEDULED, 0),
        (ann.pk, START, due_day, Status.SCHEDULED, 0),
        (bob.pk, START, due_day, Status.SCHEDULED, 0),
    ]
    rows = ReminderDelivery.objects.order_by("pk")
    assert jobs() == [(d.pk, d.due_at, "todo") for d in rows]
    assert [d.job_id for d in rows] == list(
        ProcrastinateJob.objects.filter(task_name=TASK).order_by("pk").values_list("pk", flat=True)
    )
    assert set(
        ProcrastinateJob.objects.filter(task_name=TASK).values_list("queue_name", flat=True)
    ) == {"reminders"}


@pytest.mark.django_db
def test_a_due_time_already_past_is_skipped_and_one_just_now_is_kept() -> None:
    ann = make_user()
    event = make_event(ann, start=NOW + 30 * MINUTE)

    replace(event, [(31, Channel.EMAIL), (30, Channel.EMAIL), (29, Channel.EMAIL)])

    assert [due for _, _, due, _, _ in deliveries()] == [NOW, NOW + MINUTE]


@pytest.mark.django_db
def test_a_participant_who_declined_gets_none() -> None:
    ann, bob, cid = make_user(), make_user(), make_user()
    event = make_event(ann, bob, cid)
    Participant.objects.filter(event=event, user=bob).update(rsvp=Participant.Rsvp.NO)
    Participant.objects.filter(event=event, user=cid).update(rsvp=Participant.Rsvp.MAYBE)

    replace(event, [(15, Channel.EMAIL)])

    assert [recipient for recipient, *_ in deliveries()] == [ann.pk, cid.pk]


@pytest.mark.django_db
def test_a_channel_reaches_only_people_with_an_address_on_it(receiver: Receiver) -> None:
    ann, bob = make_user(), make_user()
    hook(bob, receiver)
    event = make_event(ann, bob)

    replace(event, [(15, Channel.WEBHOOK), (15, Channel.SMS)])

    assert [recipient for recipient, *_ in deliveries()] == [bob.pk]


@pytest.mark.django_db
def test_a_proposed_event_has_reminders_but_no_deliveries() -> None:
    ann = make_user()
    event = make_event(ann, status=EventStatus.PROPOSED)

    replace(event, [(15, Channel.EMAIL)])

    assert list(Reminder.objects.values_list("offset_minutes", "channel")) == [(15, "EMAIL")]
    assert deliveries() == []
    assert jobs() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "reminders",
    [[(-1, "EMAIL")], [(50 * 24 * 60 + 1, "EMAIL")], [(15, "PIGEON")], [(1.5, "EMAIL")]],
)
def test_bad_reminders_are_refused_and_nothing_is_written(
    reminders: list[tuple[int, str]],
) -> None:
    event = make_event(make_user())
    replace(event, [(15, Channel.EMAIL)])
    before = (deliveries(), jobs(), list(Reminder.objects.values_list("pk", flat=True)))

    with rejected(ErrorCode.INVALID_INPUT):
        replace(event, reminders)

    assert (deliveries(), jobs(), list(Reminder.objects.values_list("pk", flat=True))) == before


@pytest.mark.django_db
def test_the_limits_themselves_pass() -> None:
    event = make_event(make_user(), start=NOW + 60 * DAY)

    replace(event, [(0, "EMAIL"), (50 * 24 * 60, "EMAIL"), (0, "EMAIL")])

    assert [due for _, _, due, _, _ in deliveries()] == [NOW + 60 * DAY, NOW + 10 * DAY]


@pytest.mark.django_db
def test_replacing_keeps_unchanged_reminders_and_drops_the_others() -> None:
    event = make_event(make_user())
    replace(event, [(15, "EMAIL"), (60, "EMAIL")])
    kept = Reminder.objects.get(offset_minutes=15)

    replace(event, [(15, "EMAIL"), (30, "EMAIL")])

    assert Reminder.objects.get(offset_minutes=15).pk == kept.pk
    assert sorted(Reminder.objects.values_list("offset_minutes", flat=True)) == [15, 30]
    live = ReminderDelivery.objects.filter(status=Status.SCHEDULED)
    assert sorted(live.values_list("due_at", flat=True)) == [
        START - 30 * MINUTE,
        START - 15 * MINUTE,
    ]
    assert {s for _, _, s in jobs() if s != "todo"} == {"cancelled"}


# --- The check -----------------------------------------------------------------------


@pytest.mark.django_db
def test_moved_by_an_hour_fires_once_at_the_new_time(receiver: Receiver) -> None:
    ann = make_user()
    hook(ann, receiver, secret="shh")
    event = make_event(ann)
    replace(event, [(15, Channel.WEBHOOK)])
    [old] = ReminderDelivery.objects.all()

    move(event, HOUR)

    new = ReminderDelivery.objects.get(status=Status.SCHEDULED)
    assert deliveries() == [
        (ann.pk, START, START - 15 * MINUTE, Status.CANCELLED, 0),
        (ann.pk, START + HOUR, START + 45 * MINUTE, Status.SCHEDULED, 0),
    ]
    assert jobs() == [
        (old.pk, START - 15 * MINUTE, "cancelled"),
        (new.pk, START + 45 * MINUTE, "todo"),
    ]
    # At the old time nothing fires, even if the cancelled job ran anyway (a worker had it).
    assert run_due(START - 15 * MINUTE) == []
    assert service.reminder_send(delivery_id=old.pk, now=START - 15 * MINUTE) == "skipped"
    assert receiver.requests == []

    assert run_due(START + 45 * MINUTE) == [Status.SENT]
    assert run_due(START + 2 * HOUR) == []

    [request] = receiver.requests
    assert request.path == f"/u{ann.pk}"
    stamp = request.headers["x-rendezvous-timestamp"]
    assert stamp == str(int((START + 45 * MINUTE).timestamp()))
    mac = hmac.new(b"shh", stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-rendezvous-signature"] == f"sha256={mac}"
    assert json.loads(request.body) == {
        "type": "event.reminder",
        "delivery_id": new.pk,
        "event": {"id": event.pk, "title": "Planning", "time_zone": "UTC"},
        "occurrence": {"start": "2030-01-08T09:00:00+00:00", "end": "2030-01-08T10:00:00+00:00"},
        "offset_minutes": 15,
        "offset_days": 0,
        "text": f"Reminder: Planning starts 2030-01-08 09:00 (UTC).\n"
        f"{settings.PUBLIC_BASE_URL}/e/{event.pk}/",
    }
    assert deliveries()[1] == (ann.pk, START + HOUR, START + 45 * MINUTE, Status.SENT, 1)


@pytest.mark.django_db
def test_with_the_receiver_down_it_retries_then_delivers_once(receiver: Receiver) -> None:
    ann = make_user()
    hook(ann, receiver)
    event = make_event(ann)
    replace(event, [(15, Channel.WEBHOOK)])
    due = START - 15 * MINUTE
    receiver.stop()

    [outcome] = run_due(due)
    assert outcome.startswith("error: unreachable: ")
    [row] = ReminderDelivery.objects.all()
    assert (row.status, row.attempts, row.sent_at) == (Status.FAILED, 1, None)
    assert row.last_error.startswith("ChannelError: unreachable: ")

    receiver.status = 500
    receiver.start()
    assert run_due(due + 2 * timedelta(seconds=1)) == [
        'error: HTTP 500 Internal Server Error: {"ok":false}'
    ]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.FAILED, 2)
    assert row.last_error == 'ChannelError: HTTP 500 Internal Server Error: {"ok":false}'

    receiver.status = 200
    assert run_due(due + 4 * timedelta(seconds=1)) == [Status.SENT]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 3, "")
    assert row.sent_at == due + 4 * timedelta(seconds=1)
    assert len(receiver.requests) == 2  # the 500 and the delivery; none while down
    assert run_due(due + HOUR) == []
    assert len(receiver.requests) == 2


@pytest.mark.django_db
def test_moving_a_delivery_that_is_retrying_cancels_its_retry(receiver: Receiver) -> None:
    ann = make_user()
    hook(ann, receiver)
    event = make_event(ann)
    replace(event, [(15, Channel.WEBHOOK)])
    receiver.status = 500
    run_due(START - 15 * MINUTE)

    move(event, HOUR, now=START - 14 * MINUTE)

    assert deliveries() == [
        (ann.pk, START, START - 15 * MINUTE, Status.CANCELLED, 1),
        (ann.pk, START + HOUR, START + 45 * MINUTE, Status.SCHEDULED, 0),
    ]
    assert [s for _, _, s in jobs()] == ["cancelled", "todo"]


@pytest.mark.django_db
def test_a_delivery_whose_retries_ran_out_stays_failed_when_the_event_moves() -> None:
    ann = make_user()
    event = make_event(ann)
    replace(event, [(15, Channel.EMAIL)])
    [row] = ReminderDelivery.objects.all()
    with connection.cursor() as cursor:
        cursor.execute("SELECT procrastinate_finish_job_v1(%s, 'failed', false)", [row.job_id])
    ReminderDelivery.objects.filter(pk=row.pk).update(status=Status.FAILED, attempts=9)

    move(event, HOUR)

    assert [status for *_, status, _ in deliveries()] == [Status.FAILED, Status.SCHEDULED]


# --- SSRF: users' URLs are checked again when sent --------------------------------------------

# Rows written before the check existed (or straight into the table): the send refuses them.
UNSAFE = [
    ("https://127.0.0.1:{port}/h", "127.0.0.1 is a loopback address"),
    ("https://10.0.0.5/h", "10.0.0.5 is a private address"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("https://[::1]:{port}/h", "::1 is a loopback address"),
    ("https://localhost:{port}/h", "localhost (127.0.0.1) is a loopback address"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("channel", [Channel.WEBHOOK, Channel.SLACK])
@pytest.mark.parametrize(("url", "reason"), UNSAFE)
def test_a_delivery_to_a_non_public_address_fails_and_reaches_nothing(
    receiver: Receiver, settings: Settings, channel: str, url: str, reason: str
) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False
    ann = make_user()
    ChannelAddress.objects.create(
        user=ann, channel=channel, address=url.format(port=receiver.port), secret="k"
    )
    event = make_event(ann)
    replace(event, [(15, channel)])

    [outcome] = run_due(START - 15 * MINUTE)

    expected = f"refused: {reason}; reminders go to public addresses only."
    assert outcome == f"error: {expected}"
    [row] = ReminderDelivery.objects.all()
    assert (row.status, row.attempts, row.sent_at) == (Status.FAILED, 1, None)
    assert row.last_error == f"UnsafeAddress: {expected}"
    assert receiver.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/h", "The URL must start with https://."),
        (
            "https://u:p@hooks.example/h",
            "The URL must not contain a user name or password (user@host).",
        ),
    ],
)
def test_a_delivery_to_an_http_or_userinfo_url_fails_and_reaches_nothing(
    receiver: Receiver, settings: Settings, url: str, reason: str
) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False
    ann = make_user()
    ChannelAddress.objects.create(
        user=ann, channel=Channel.WEBHOOK, address=url.format(port=receiver.port), secret="k"
    )
    replace(make_event(ann), [(15, Channel.WEBHOOK)])

    assert run_due(START - 15 * MINUTE) == [f"error: {reason}"]
    [row] = ReminderDelivery.objects.all()
    assert (row.status, row.last_error) == (Status.FAILED, f"UnsafeAddress: {reason}")
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_name_re_pointed_to_loopback_after_it_was_set_is_refused_when_sent(
    receiver: Receiver, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set while the name resolved to a public address; by the send it resolves to
    127.0.0.1 (DNS is the outside world: faked)."""
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False
    answers = {"hooks.rdv.test": "93.184.215.14"}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list:
        if host not in answers:
            return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    ann = make_user()
    url = f"https://hooks.rdv.test:{receiver.port}/h"
    service.channel_address_set(actor=actor_for(ann), channel=Channel.WEBHOOK, address=url)
    replace(make_event(ann), [(15, Channel.WEBHOOK)])

    answers["hooks.rdv.test"] = "127.0.0.1"
    run_due(START - 15 * MINUTE)

    [row] = ReminderDelivery.objects.all()
    assert (row.status, row.last_error) == (
        Status.FAILED,
        "UnsafeAddress: refused: hooks.rdv.test (127.0.0.1) is a loopback address; "
        "reminders go to public addresses only.",
    )
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_redirect_from_the_receiver_is_not_followed(receiver: Receiver) -> None:
    ann = make_user()
    hook(ann, receiver)
    replace(make_event(ann), [(15, Channel.WEBHOOK)])
    receiver.status = 302
    receiver.location = f"{receiver.url}/elsewhere"

    run_due(START - 15 * MINUTE)

    [row] = ReminderDelivery.objects.all()
    assert (row.status, row.last_error) == (
        Status.FAILED,
        f"ChannelError: HTTP 302 redirect to '{receiver.url}/elsewhere', not followed",
    )
    assert [request.path for request in receiver.requests] == [f"/u{ann.pk}"]


# --- Setting an address ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/h",
        "https://10.0.0.5/h",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/h",
        "https://localhost/h",
        "http://hooks.example/h",
        "https://u:p@hooks.example/h",
    ],
)
def test_setting_a_url_to_a_non_public_address_is_refused_and_writes_nothing(
    settings: Settings, url: str
) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False
    ann = make_user()

    with rejected(ErrorCode.INVALID_INPUT) as info:
        service.channel_address_set(actor=actor_for(ann), channel=Channel.SLACK, address=url)
    assert list(info.value.message_dict) == ["address"]


@pytest.mark.django_db
def test_with_private_networks_allowed_a_loopback_url_can_be_set(settings: Settings) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = True
    ann = make_user()

    row = service.channel_address_set(
        actor=actor_for(ann), channel=Channel.WEBHOOK, address=" http://127.0.0.1:8080/h "
    )

    assert (row.channel, row.address) == (Channel.WEBHOOK, "http://127.0.0.1:8080/h")


# --- Recurring events, cancelling ------------------------------------------------------------


@pytest.mark.django_db
def test_a_recurring_event_schedules_the_next_occurrence_when_one_is_sent(
    receiver: Receiver,
) -> None:
    ann = make_user()
    hook(ann, receiver)
    event = make_event(ann, recurrence="FREQ=DAILY;COUNT=3")
    replace(event, [(15, Channel.WEBHOOK)])
    assert [due for _, _, due, _, _ in deliveries()] == [START - 15 * MINUTE]

    assert run_due(START - 15 * MINUTE) == [Status.SENT]

    assert deliveries() == [
        (ann.pk, START, START - 15 * MINUTE, Status.SENT, 1),
        (ann.pk, START + DAY, START + DAY - 15 * MINUTE, Status.SCHEDULED, 0),
    ]
    assert [(at, s) for _, at, s in jobs()] == [
        (START - 15 * MINUTE, "succeeded"),
        (START + DAY - 15 * MINUTE, "todo"),
    ]

    assert run_due(START + DAY - 15 * MINUTE) == [Status.SENT]
    assert run_due(START + 2 * DAY - 15 * MINUTE) == [Status.SENT]  # the last: no next
    assert [s for *_, s, _ in deliveries()] == [Status.SENT] * 3
    assert [json.loads(r.body)["occurrence"]["start"][:10] for r in receiver.requests] == [
        "2030-01-08",
        "2030-01-09",
        "2030-01-10",
    ]


@pytest.mark.django_db
def test_a_chain_run_late_skips_the_occurrences_whose_due_time_passed() -> None:
    ann = make_user()
    event = make_event(ann, recurrence="FREQ=DAILY")
    replace(event, [(15, Channel.EMAIL)])

    assert run_due(START + 3 * DAY) == [Status.SENT]  # a worker down for three days

    assert [(o, s) for _, o, _, s, _ in deliveries()] == [
        (START, Status.SENT),
        (START + 4 * DAY, Status.SCHEDULED),  # 3 days on: its due time passed
    ]


@pytest.mark.django_db
def test_a_cancelled_or_moved_occurrence_is_skipped_or_followed() -> None:
    ann = make_user()
    event = make_event(ann, recurrence="FREQ=DAILY")
    OccurrenceChange.objects.create(event=event, original_start=START, cancelled=True)
    OccurrenceChange.objects.create(
        event=event,
        original_start=START + DAY,
        start=START + DAY + HOUR,
        end=START + DAY + HOUR + HOUR,
    )

    replace(event, [(15, Channel.EMAIL)])
    assert [occurrence for _, occurrence, *_ in deliveries()] == [START + DAY + HOUR]

    run_due(START + DAY + HOUR)
    assert [occurrence for _, occurrence, *_ in deliveries()] == [
        START + DAY + HOUR,
        START + 2 * DAY,
    ]


@pytest.mark.django_db
def test_a_reminder_further_out_than_the_next_occurrence_still_chains() -> None:
    """Offset two days on a daily event: the first is the occurrence two days out."""
    ann = make_user()
    event = make_event(ann, recurrence="FREQ=DAILY")

    replace(event, [(2 * 24 * 60, Channel.EMAIL)], now=NOW)

    assert [(o, d) for _, o, d, _, _ in deliveries()] == [(START + DAY, NOW)]
    run_due(NOW)
    assert [(o, d) for _, o, d, _, _ in deliveries()][1] == (START + 2 * DAY, NOW + DAY)


@pytest.mark.django_db
def test_cancelling_the_event_drops_scheduled_deliveries() -> None:
    ann, bob = make_user(), make_user()
    event = make_event(ann, bob)
    replace(event, [(15, Channel.EMAIL)])

    event_cancel(actor=actor_for(ann), event_id=event.pk, now=NOW)

    assert [s for *_, s, _ in deliveries()] == [Status.CANCELLED, Status.CANCELLED]
    assert [s for _, _, s in jobs()] == ["cancelled", "cancelled"]
    assert run_due(START) == []


@pytest.mark.django_db
def test_a_job_for_an_event_cancelled_without_rescheduling_sends_nothing() -> None:
    ann = make_user()
    event = make_event(ann)
    replace(event, [(15, Channel.EMAIL)])
    Event.objects.filter(pk=event.pk).update(status=EventStatus.CANCELLED)

    assert run_due(START) == ["skipped"]
    assert [s for *_, s, _ in deliveries()] == [Status.CANCELLED]


@pytest.mark.django_db
def test_a_rolled_back_change_schedules_nothing() -> None:
    event = make_event(make_user())

    def change_then_fail() -> None:
        with transaction.atomic():
            service.reminders_replace(event=event, reminders=[(15, "EMAIL")], now=NOW)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()

    assert (deliveries(), jobs()) == ([], [])


@pytest.mark.django_db
def test_email_reminder_is_sent_through_django_mail() -> None:
    from django.core import mail

    ann = make_user(email="ann@example.com", time_zone="Europe/Berlin")
    event = make_event(ann)
    replace(event, [(15, Channel.EMAIL)])

    assert run_due(START) == [Status.SENT]

    [message] = mail.outbox
    assert (message.to, message.subject) == (["ann@example.com"], "Reminder: Planning")
    assert message.body.startswith("Reminder: Planning starts 2030-01-08 09:00 (Europe/Berlin).")


# --- A real worker ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_once_at_the_new_time_after_retrying(
    receiver: Receiver, tmp_path: Path
) -> None:
    """The issue's check end to end: a reminder 15 minutes before an event, which is moved an
    hour (earlier, so that the new due time is now); the receiver is down at first, the job
    retries, and the reminder arrives once."""
    empty_job_tables()
    ann = make_user()
    hook(ann, receiver, secret="live")
    now = utcnow()
    event = make_event(ann, start=now + HOUR + 15 * MINUTE + 2 * timedelta(seconds=1))
    replace(event, [(15, Channel.WEBHOOK)], now=now)
    receiver.stop()
    move(event, -HOUR, now=now)
    new = ReminderDelivery.objects.get(status=Status.SCHEDULED)

    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--queues", "reminders"],
            cwd=settings.BASE_DIR,
            env={
                **__import__("os").environ,
                "DEBUG": "1",
                "DATABASE_URL": database_url(),
                "PYTHONUNBUFFERED": "1",
                "REMINDER_ALLOW_PRIVATE_NETWORKS": "1",  # the receiver is on loopback
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 40
        while ReminderDelivery.objects.get(pk=new.pk).attempts < 1:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        failed = ReminderDelivery.objects.get(pk=new.pk)
        assert (failed.status, failed.attempts) == (Status.FAILED, 1)
        assert failed.last_error.startswith("ChannelError: unreachable: ")
        receiver.start()
        assert len(receiver.wait_for(1, timeout=30)) == 1, log.read_text()
        while ReminderDelivery.objects.get(pk=new.pk).status != Status.SENT:
            assert time.monotonic() < deadline + 30, log.read_text()
            time.sleep(0.05)
        time.sleep(1)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    [request] = receiver.requests
    assert json.loads(request.body)["delivery_id"] == new.pk
    mac = hmac.new(
        b"live",
        request.headers["x-rendezvous-timestamp"].encode() + b"." + request.body,
        hashlib.sha256,
    ).hexdigest()
    assert request.headers["x-rendezvous-signature"] == f"sha256={mac}"
    assert [status for *_, status, _ in deliveries()] == [Status.CANCELLED, Status.SENT]
    assert ReminderDelivery.objects.get(pk=new.pk).attempts == 2
    assert [s for _, _, s in jobs()] == ["cancelled", "succeeded"]


# --- reminders in calendar time (issue 10) ---------------------------------------------------


@pytest.mark.django_db
def test_a_day_before_keeps_the_local_time_across_a_dst_change() -> None:
    """09:00 Berlin every day from Saturday 30 March 2030 (DST starts on the 31st): "1 day
    before" fires at 09:00 local the day before (TRIGGER -P1D), not 24 elapsed hours before
    (08:00 local); "90 minutes before" stays elapsed time."""
    ann = make_user(time_zone="Europe/Berlin")
    start = datetime(2030, 3, 30, 8, tzinfo=UTC)  # 09:00 CET
    event = make_event(ann, start=start, recurrence="FREQ=DAILY;COUNT=3")
    event.time_zone = "Europe/Berlin"
    event.save(update_fields=["time_zone"])
    replace(
        event, [(0, Channel.EMAIL, 1), (90, Channel.EMAIL)], now=datetime(2030, 3, 1, tzinfo=UTC)
    )
    [day_before, ninety] = Reminder.objects.order_by("-offset_days")
    assert (day_before.offset_days, day_before.offset_minutes) == (1, 0)
    assert [
        (d.occurrence_start, d.due_at) for d in ReminderDelivery.objects.filter(reminder=day_before)
    ] == [(start, datetime(2030, 3, 29, 8, tzinfo=UTC))]

    # Chained deliveries for the DST day itself: 09:00 CEST is 07:00 UTC; the day before,
    # 09:00 CET is 08:00 UTC (23 elapsed hours earlier, not 24).
    dst_day = datetime(2030, 3, 31, 7, tzinfo=UTC)
    assert service.due_at(
        occurrence_start=dst_day, days=1, minutes=0, tz=ZoneInfo("Europe/Berlin")
    ) == datetime(2030, 3, 30, 8, tzinfo=UTC)
    assert service.due_at(
        occurrence_start=dst_day, days=1, minutes=30, tz=ZoneInfo("Europe/Berlin")
    ) == datetime(2030, 3, 30, 7, 30, tzinfo=UTC)
    assert [
        (d.occurrence_start, d.due_at) for d in ReminderDelivery.objects.filter(reminder=ninety)
    ] == [(start, start - 90 * MINUTE)]


@pytest.mark.django_db
def test_a_day_offset_whose_due_time_passed_takes_the_next_occurrence() -> None:
    ann = make_user()
    event = make_event(ann, recurrence="FREQ=DAILY;COUNT=3")  # 08:00 UTC from 8 January
    # At 09:00 on the 7th the reminder for the 8th (due 08:00 on the 7th) is past.
    replace(event, [(0, Channel.EMAIL, 1)], now=NOW + HOUR)
    assert [(occurrence, due) for _, occurrence, due, _, _ in deliveries()] == [
        (START + DAY, START)
    ]


@pytest.mark.django_db
def test_offset_days_out_of_bounds_are_refused() -> None:
    ann = make_user()
    event = make_event(ann)
    with rejected(ErrorCode.INVALID_INPUT):
        replace(event, [(0, Channel.EMAIL, 51)])
    assert Reminder.objects.count() == 0
