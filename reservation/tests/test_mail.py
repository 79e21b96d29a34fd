"""Sending recorded notifications through Django's SMTP backend to a real SMTP server on
loopback: the message as it arrives, its .ics attachment parsed back, failures recorded and
retried with backoff, and a SENT notification never sent again."""

import hashlib
import os
import re
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import icalendar
import procrastinate.utils
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.db import connection, transaction
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.jobs import Job
from pytest_django.fixtures import Settings

from reservation import tasks
from reservation.actors import Actor
from reservation.models import (
    CandidateSlot,
    Event,
    EventAccessToken,
    EventStatus,
    Notification,
    Participant,
    User,
)
from reservation.notify_text import LINK_PLACEHOLDER, event_invitation, event_update
from reservation.services.events import (
    access_token_authenticate,
    access_token_issue,
    event_link,
    event_notify,
    notify_participants,
)
from reservation.services.notifications import notification_enqueue
from reservation.tests.event_factories import propose
from reservation.tests.factories import NOW, actor_for, at, make_user
from reservation.tests.smtp import Mailbox, calendar_part, send_mail_to, text_body

pytestmark = pytest.mark.django_db

SENT_AT = NOW + timedelta(minutes=1)
LINK = "http://testserver/e/1/?token=rdve_secret"
FROM = "Rendezvous <rendezvous@localhost>"


@pytest.fixture
def mailbox(settings: Settings) -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    send_mail_to(settings, box)
    settings.MAIL_DOMAIN = "mail.test"
    settings.DEFAULT_FROM_EMAIL = FROM
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The task reads the real clock; the tests read SENT_AT."""
    monkeypatch.setattr(tasks, "utcnow", lambda: SENT_AT)


@pytest.fixture
def olga() -> User:
    return make_user(email="olga@example.com", name="Olga", time_zone="Europe/Berlin")


@pytest.fixture
def ann() -> User:
    return make_user(email="ann@example.com", name="Ann")


def make_event(
    *,
    organizer: User,
    parties: list[tuple[User, str]],
    status: str = EventStatus.PROPOSED,
    span: tuple[datetime, datetime] | None = None,
    version: int = 1,
) -> Event:
    """An event with its organizer (RSVP YES) and parties given as (user, rsvp)."""
    start, end = span or (None, None)
    event = Event.objects.create(
        organizer=organizer,
        title="Budget, Q1; review",
        description="Bring the numbers.",
        status=status,
        version=version,
        start=start,
        end=end,
        created_at=NOW,
        updated_at=NOW,
    )
    Participant.objects.create(
        event=event, user=organizer, role=Participant.Role.ORGANIZER, rsvp=Participant.Rsvp.YES
    )
    for user, rsvp in parties:
        Participant.objects.create(event=event, user=user, role=Participant.Role.PARTY, rsvp=rsvp)
    return event


def scheduled(olga: User, ann: User, bob: User) -> Event:
    return make_event(
        organizer=olga,
        parties=[(ann, Participant.Rsvp.UNDECIDED), (bob, Participant.Rsvp.MAYBE)],
        status=EventStatus.SCHEDULED,
        span=(at(8, 9), at(8, 10)),
        version=3,
    )


def enqueue_update(event: Event, recipient: User, kind: str) -> Notification:
    subject, body = event_update(event=event, recipient=recipient, kind=kind)
    return notification_enqueue(
        kind=kind, recipient=recipient, subject=subject, body=body, event=event, now=NOW
    )


def parsed_calendar(part: object) -> icalendar.Calendar:
    content = part.get_content()  # type: ignore[attr-defined]
    return icalendar.Calendar.from_ical(content)


def row(notification: Notification) -> tuple[object, ...]:
    notification.refresh_from_db()
    return (
        notification.status,
        notification.attempts,
        notification.last_error,
        notification.sent_at,
    )


# --- what arrives -----------------------------------------------------------------------------


def secret_in(message: object) -> str:
    """The access token of the one link in a mail's text."""
    [secret] = re.findall(r"[?&]token=(\S+)", text_body(message))  # type: ignore[arg-type]
    return secret


def test_an_invitation_arrives_with_its_link_and_the_secret_is_never_in_the_outbox(
    mailbox: Mailbox, olga: User, ann: User
) -> None:
    event = make_event(organizer=olga, parties=[(ann, Participant.Rsvp.UNDECIDED)])
    CandidateSlot.objects.create(event=event, start=at(8, 9), end=at(8, 10))
    token = EventAccessToken.objects.create(
        event=event, user=ann, digest="d" * 64, created_at=NOW, expires_at=NOW + timedelta(days=5)
    )
    subject, body = event_invitation(
        event=event, recipient=ann, message="", sender=Actor(user=olga)
    )
    notification = notification_enqueue(
        kind=Notification.Kind.EVENT_INVITATION,
        recipient=ann,
        subject=subject,
        body=body,
        event=event,
        access_token=token,
        now=NOW,
    )

    assert tasks.send_notification(notification_id=notification.pk) == "SENT"

    [message] = mailbox.wait_for(1, timeout=5)
    assert mailbox.recipients == [["ann@example.com"]]
    assert (message["To"], message["From"], message["Subject"], message["Message-ID"]) == (
        "ann@example.com",
        FROM,
        "Find a time: Budget, Q1; review",
        f"<notification-{notification.pk}@mail.test>",
    )
    assert text_body(message) == (
        "Olga asks you to find a time for: Budget, Q1; review\n"
        "\n"
        "Candidate times:\n"
        "  - Tue 08 Jan 2030, 09:00 (UTC), 60 min\n"
        "\n"
        "Open this link to see the event, vote, or narrow the candidates:\n"
        f"{event_link(event=event, secret=secret_in(message))}\n"
        "\n"
        "The link is personal: it lets whoever holds it act as you on this event only.\n"
    )
    assert calendar_part(message) is None  # candidates are not calendar entries yet
    assert row(notification) == ("SENT", 1, "", SENT_AT)
    # The secret was minted as the mail went, into the mail only: the outbox never had it.
    token.refresh_from_db()
    assert token.digest == hashlib.sha256(secret_in(message).encode()).hexdigest()
    assert access_token_authenticate(secret=secret_in(message), now=SENT_AT) == token
    assert notification.body == body
    assert ("rdve_" in notification.body, notification.body.count(LINK_PLACEHOLDER)) == (False, 1)


def test_a_scheduled_event_mail_carries_an_ics_request(
    mailbox: Mailbox, olga: User, ann: User
) -> None:
    bob = make_user(email="bob@example.com", time_zone="America/New_York")
    event = scheduled(olga, ann, bob)
    notification = enqueue_update(event, bob, Notification.Kind.EVENT_SCHEDULED)

    assert tasks.send_notification(notification_id=notification.pk) == "SENT"

    [message] = mailbox.wait_for(1, timeout=5)
    assert (message["To"], message["Subject"]) == (
        "bob@example.com",
        "Scheduled: Budget, Q1; review",
    )
    assert text_body(message) == (
        "Budget, Q1; review is scheduled for Tue 08 Jan 2030, 04:00 (America/New_York), "
        "60 min.\n\nThe attached .ics file adds it to your calendar.\n"
    )
    part = calendar_part(message)
    assert part is not None
    assert (part.get_content_type(), part.get_param("method"), part.get_filename()) == (
        "text/calendar",
        "REQUEST",
        "invite.ics",
    )
    calendar = parsed_calendar(part)
    assert (str(calendar["METHOD"]), str(calendar["VERSION"])) == ("REQUEST", "2.0")
    [vevent] = calendar.walk("VEVENT")
    assert {
        "uid": str(vevent["UID"]),
        "start": vevent.decoded("DTSTART"),
        "end": vevent.decoded("DTEND"),
        "stamp": vevent.decoded("DTSTAMP"),
        "summary": str(vevent["SUMMARY"]),
        "description": str(vevent["DESCRIPTION"]),
        "sequence": vevent.decoded("SEQUENCE"),
        "status": str(vevent["STATUS"]),
        "organizer": (str(vevent["ORGANIZER"]), dict(vevent["ORGANIZER"].params)),
        "attendees": [(str(a), dict(a.params)) for a in vevent["ATTENDEE"]],
    } == {
        "uid": f"event-{event.pk}@mail.test",
        "start": at(8, 9),
        "end": at(8, 10),
        "stamp": SENT_AT,
        "summary": "Budget, Q1; review",
        "description": "Bring the numbers.",
        "sequence": 3,
        "status": "CONFIRMED",
        "organizer": ("mailto:olga@example.com", {"CN": "Olga"}),
        "attendees": [
            (
                "mailto:olga@example.com",
                {"CN": "Olga", "CUTYPE": "INDIVIDUAL", "ROLE": "CHAIR", "PARTSTAT": "ACCEPTED"},
            ),
            (
                "mailto:ann@example.com",
                {
                    "CN": "Ann",
                    "CUTYPE": "INDIVIDUAL",
                    "ROLE": "REQ-PARTICIPANT",
                    "PARTSTAT": "NEEDS-ACTION",
                    "RSVP": "TRUE",
                },
            ),
            (
                "mailto:bob@example.com",
                {
                    "CUTYPE": "INDIVIDUAL",
                    "ROLE": "REQ-PARTICIPANT",
                    "PARTSTAT": "TENTATIVE",
                    "RSVP": "TRUE",
                },
            ),
        ],
    }
    # Written in UTC, whatever the zones of the people and the event.
    assert "DTSTART:20300108T090000Z" in part.get_content().splitlines()


def test_the_ics_describes_the_event_as_it_is_when_the_mail_goes(
    mailbox: Mailbox, olga: User, ann: User
) -> None:
    """A mail delayed by retries must not put back an event cancelled meanwhile: its .ics is
    built at send time, so it cancels, with the newer SEQUENCE."""
    bob = make_user(email="bob@example.com")
    event = scheduled(olga, ann, bob)
    notification = enqueue_update(event, ann, Notification.Kind.EVENT_SCHEDULED)
    Event.objects.filter(pk=event.pk).update(status=EventStatus.CANCELLED, version=4)

    tasks.send_notification(notification_id=notification.pk)

    [message] = mailbox.wait_for(1, timeout=5)
    part = calendar_part(message)
    assert part is not None
    [vevent] = parsed_calendar(part).walk("VEVENT")
    assert (
        part.get_param("method"),
        str(vevent["UID"]),
        vevent.decoded("SEQUENCE"),
        str(vevent["STATUS"]),
    ) == ("CANCEL", f"event-{event.pk}@mail.test", 4, "CANCELLED")


def test_cancelling_a_scheduled_event_sends_an_ics_cancel_and_a_proposed_one_none(
    mailbox: Mailbox, olga: User, ann: User
) -> None:
    bob = make_user(email="bob@example.com")
    was_scheduled = scheduled(olga, ann, bob)
    Event.objects.filter(pk=was_scheduled.pk).update(status=EventStatus.CANCELLED, version=4)
    was_scheduled.refresh_from_db()
    only_proposed = make_event(
        organizer=olga, parties=[(ann, Participant.Rsvp.UNDECIDED)], status=EventStatus.CANCELLED
    )
    first = enqueue_update(was_scheduled, ann, Notification.Kind.EVENT_CANCELLED)
    second = enqueue_update(only_proposed, ann, Notification.Kind.EVENT_CANCELLED)

    tasks.send_notification(notification_id=first.pk)
    tasks.send_notification(notification_id=second.pk)

    cancel, no_time = mailbox.wait_for(2, timeout=5)
    part = calendar_part(cancel)
    assert part is not None
    calendar = parsed_calendar(part)
    [vevent] = calendar.walk("VEVENT")
    assert (str(calendar["METHOD"]), str(vevent["STATUS"]), vevent.decoded("SEQUENCE")) == (
        "CANCEL",
        "CANCELLED",
        4,
    )
    assert (text_body(cancel), calendar_part(no_time)) == (
        "Budget, Q1; review was cancelled.\n",
        None,
    )


# --- failures, retries, idempotence -------------------------------------------------------


def test_while_the_smtp_server_is_down_attempts_fail_are_recorded_and_retry_then_deliver_once(
    settings: Settings, ann: User
) -> None:
    down = Mailbox()  # not started: its port refuses connections
    send_mail_to(settings, down)
    notification = notification_enqueue(
        kind=Notification.Kind.EVENT_INVITATION,
        recipient=ann,
        subject="Hello",
        body=f"Open {LINK}\n",
        now=NOW,
    )

    for attempt in (1, 2):
        with pytest.raises(ConnectionRefusedError):
            tasks.send_notification(notification_id=notification.pk)
        assert row(notification) == (
            "RETRYING",
            attempt,
            "ConnectionRefusedError: [Errno 111] Connection refused",
            None,
        )

    down.start()
    try:
        assert tasks.send_notification(notification_id=notification.pk) == "SENT"
        assert tasks.send_notification(notification_id=notification.pk) == "skipped"

        [message] = down.wait_for(1, timeout=5)
        assert (message["To"], message["Subject"], text_body(message)) == (
            "ann@example.com",
            "Hello",
            f"Open {LINK}\n",
        )
        # No access token: nothing secret in the body, so the outbox keeps it as it was.
        assert row(notification) == ("SENT", 3, "", SENT_AT)
        assert notification.body == f"Open {LINK}\n"
        assert len(down.wait_for(2, timeout=0.5)) == 1
    finally:
        down.stop()


class RejectingMailbox(Mailbox):
    """Reads each message, then refuses it (554) while `rejecting`, as a server that will
    not take the mail."""

    rejecting = True

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        accepted = await super().handle_DATA(server, session, envelope)
        return "554 5.7.1 Rejected" if self.rejecting else accepted


def test_a_refused_invitation_leaves_its_link_dead_until_a_later_attempt_delivers_one(
    settings: Settings, olga: User, ann: User
) -> None:
    box = RejectingMailbox()
    box.start()
    send_mail_to(settings, box)
    try:
        event = propose(olga, "ann@example.com")
        [invitation] = event_notify(
            actor=actor_for(olga),
            event_id=event.pk,
            parties=["ann@example.com"],
            expected_version=1,
            now=NOW,
        )
        token = invitation.access_token
        unrevealed = token.digest

        with pytest.raises(smtplib.SMTPDataError):
            tasks.send_notification(notification_id=invitation.pk)

        [refused] = box.wait_for(1, timeout=5)
        assert row(invitation) == ("RETRYING", 1, "SMTPDataError: (554, b'5.7.1 Rejected')", None)
        # The refused mail's secret was rolled back with the attempt: it never works
        token.refresh_from_db()
        assert token.digest == unrevealed
        assert access_token_authenticate(secret=secret_in(refused), now=SENT_AT) is None

        box.rejecting = False
        assert tasks.send_notification(notification_id=invitation.pk) == "SENT"

        _, arrived = box.wait_for(2, timeout=5)
        assert secret_in(arrived) != secret_in(refused)
        assert access_token_authenticate(secret=secret_in(arrived), now=SENT_AT) == token
        assert access_token_authenticate(secret=secret_in(refused), now=SENT_AT) is None
        assert row(invitation) == ("SENT", 2, "", SENT_AT)
        assert "rdve_" not in repr(list(Notification.objects.values_list()))
    finally:
        box.stop()


def test_a_missing_or_sent_notification_is_skipped(mailbox: Mailbox, ann: User) -> None:
    notification = notification_enqueue(
        kind=Notification.Kind.EVENT_INVITATION, recipient=ann, subject="Hi", body="Hi\n", now=NOW
    )
    Notification.objects.filter(pk=notification.pk).update(status="SENT", sent_at=NOW)

    assert tasks.send_notification(notification_id=notification.pk) == "skipped"
    assert tasks.send_notification(notification_id=notification.pk + 1000) == "skipped"

    assert mailbox.wait_for(1, timeout=0.5) == []
    assert row(notification) == ("SENT", 0, "", NOW)


def test_mail_jobs_retry_ten_times_with_backoff_over_about_an_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    then = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    monkeypatch.setattr(procrastinate.utils, "utcnow", lambda: then)
    strategy = tasks.send_notification.retry_strategy
    job = Job(id=1, queue="mail", lock=None, queueing_lock=None, task_name="t", task_kwargs={})

    waits = []
    for attempts in range(12):
        decision = strategy.get_retry_decision(
            exception=ConnectionRefusedError(), job=job.evolve(attempts=attempts)
        )
        waits.append(None if decision is None else (decision.retry_at - then).total_seconds())

    assert strategy is tasks.MAIL_RETRY
    assert waits == [2, 34, 68, 106, 152, 214, 308, 466, 752, 1294, None, None]
    assert sum(w for w in waits if w) == 3396  # 56.6 minutes from first failure to last try


def test_stalled_mail_jobs_of_a_dead_worker_are_retried_until_the_retries_run_out(
    ann: User,
) -> None:
    fresh, used_up, running = (
        notification_enqueue(
            kind=Notification.Kind.EVENT_INVITATION, recipient=ann, subject=s, body=s, now=NOW
        )
        for s in ("fresh", "used up", "running")
    )
    with connection.cursor() as cursor:
        # One worker silent for 31 s (dead), one for 29 s (alive: heartbeats every 10 s).
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat)"
            " VALUES (NOW() - INTERVAL '31 seconds'), (NOW() - INTERVAL '29 seconds')"
            " RETURNING id"
        )
        dead, alive = (worker_id for (worker_id,) in cursor.fetchall())
        # Each job "doing" on its worker, as a worker leaves them when it dies.
        for notification, worker, attempts in (
            (fresh, dead, 3),
            (used_up, dead, 10),
            (running, alive, 0),
        ):
            cursor.execute(
                "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s, attempts = %s"
                " WHERE args->>'notification_id' = %s",
                [worker, attempts, str(notification.pk)],
            )

    retried = async_to_sync(tasks.retry_stalled_mail.func)(timestamp=0)

    jobs = {
        args["notification_id"]: (job_id, status, attempts)
        for job_id, args, status, attempts in ProcrastinateJob.objects.values_list(
            "id", "args", "status", "attempts"
        )
    }
    assert retried == [jobs[fresh.pk][0]]
    # Put back with the retry counted; failed once its retries are used up; left running.
    assert [jobs[n.pk][1:] for n in (fresh, used_up, running)] == [
        ("todo", 4),
        ("failed", 11),
        ("doing", 0),
    ]
    # The given-up one's row says so; the others will still be tried.
    assert [Notification.objects.get(pk=n.pk).status for n in (fresh, used_up, running)] == [
        "PENDING",
        "FAILED",
        "PENDING",
    ]


def test_settings_send_to_the_console_unless_an_smtp_host_is_configured() -> None:
    def backend(**env: str) -> list[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from django.conf import settings as s;"
                " print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS)",
            ],
            cwd=django_settings.BASE_DIR,
            env={**clean, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "settings", **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.split()

    assert backend() == ["django.core.mail.backends.console.EmailBackend", "25", "False"]
    assert backend(EMAIL_HOST="smtp.example.com", EMAIL_PORT="587", EMAIL_USE_TLS="1") == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "587",
        "True",
    ]


def test_a_scheduled_mail_carries_answer_links_or_goes_without_them_when_they_died(
    mailbox: Mailbox, olga: User, ann: User
) -> None:
    bob = make_user(email="bob@example.com", time_zone="America/New_York")
    event = scheduled(olga, ann, bob)
    with transaction.atomic():
        notify_participants(event=event, kind=Notification.Kind.EVENT_SCHEDULED, now=NOW)
    first, second = Notification.objects.filter(event=event).order_by("recipient__email")
    assert (first.recipient, second.recipient) == (ann, bob)
    # Bob is sent a newer link before his update goes: its answer links are dead by then.
    with transaction.atomic():
        access_token_issue(event=event, user=bob, now=NOW)

    assert tasks.send_notification(notification_id=first.pk) == "SENT"
    assert tasks.send_notification(notification_id=second.pk) == "SENT"

    to_ann, to_bob = sorted(mailbox.wait_for(2, timeout=5), key=lambda m: m["To"])
    links = re.findall(r"/e/(\d+)/\?token=([^&\s]+)(?:&rsvp=(\w+))?$", text_body(to_ann), re.M)
    assert [(int(e), answer) for e, _, answer in links] == [
        (event.pk, "YES"),
        (event.pk, "MAYBE"),
        (event.pk, "NO"),
        (event.pk, ""),
    ]
    [secret] = {s for _, s, _ in links}
    assert access_token_authenticate(secret=secret, now=NOW).user == ann  # type: ignore[union-attr]
    assert "token=" not in text_body(to_bob)
    assert text_body(to_bob).startswith("Budget, Q1; review is scheduled for")
    assert calendar_part(to_bob) is not None  # the calendar update itself still arrives
