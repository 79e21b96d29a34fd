"""What people are told, and when: the text of each mail in the recipient's time zone, the
reservation mails (confirm, cancel, move to client and provider; expiry to the client), and
the outbox rule: a notification and its job are written with the action, or not at all."""

from collections.abc import Iterator
from datetime import datetime, timedelta

import icalendar
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob
from pytest_django.fixtures import Settings

from reservation import tasks
from reservation.actors import Actor
from reservation.errors import ErrorCode
from reservation.models import (
    CandidateSlot,
    Client,
    Event,
    EventStatus,
    Notification,
    Provider,
    Reservation,
    ReservationStatus,
    User,
)
from reservation.notify_text import event_invitation, event_update, with_link
from reservation.services.manage_links import manage_token_read
from reservation.services.notifications import notification_enqueue, reservation_notify
from reservation.services.reservations import (
    reservation_cancel,
    reservation_confirm,
    reservation_create,
    reservation_expire_due,
    reservation_reschedule,
)
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
    make_staff,
    make_user,
    rejected,
)
from reservation.tests.smtp import Mailbox, calendar_part, send_mail_to, text_body

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
BASE = "https://rdv.example"
JOB = ("mail", "reservation.send_notification", "todo")


@pytest.fixture(autouse=True)
def setup(settings: Settings) -> None:
    """Default booking policy (60-minute slots, 24 h notice, 30-minute holds), links to BASE."""
    make_policy(provider=None)
    settings.PUBLIC_BASE_URL = BASE
    settings.MAIL_DOMAIN = "mail.test"


@pytest.fixture
def provider() -> Provider:
    """Dr Pat, Mon–Fri 09–17 UTC."""
    provider = make_provider(email="pat@example.com", name="Pat")
    Provider.objects.filter(pk=provider.pk).update(display_name="Dr Pat")
    provider.refresh_from_db()
    return provider


@pytest.fixture
def carla() -> Client:
    """A client in Berlin (UTC+1 in January)."""
    return make_client(email="carla@example.com", name="Carla", time_zone="Europe/Berlin")


@pytest.fixture
def mailbox(settings: Settings) -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    send_mail_to(settings, box)
    yield box
    box.stop()


def notifications() -> list[tuple[str, str, str, str, str]]:
    """Every notification as (kind, recipient, subject, body, status), oldest first."""
    return list(
        Notification.objects.order_by("id").values_list(
            "kind", "recipient__email", "subject", "body", "status"
        )
    )


def jobs() -> list[tuple[str, str, dict[str, int], str]]:
    """Every Procrastinate job as (queue, task, args, status), oldest first."""
    return list(
        ProcrastinateJob.objects.order_by("id").values_list(
            "queue_name", "task_name", "args", "status"
        )
    )


def mail_jobs_for(*notes: Notification | int) -> list[tuple[str, str, dict[str, int], str]]:
    ids = [n if isinstance(n, int) else n.pk for n in notes]
    return [(JOB[0], JOB[1], {"notification_id": pk}, JOB[2]) for pk in ids]


def outbox_size() -> tuple[int, int]:
    return Notification.objects.count(), ProcrastinateJob.objects.count()


def hold(client: Client, provider: Provider, start: datetime) -> Reservation:
    return reservation_create(
        actor=actor_for(client), provider_id=provider.pk, start=start, now=NOW
    )


def booked(client: Client, provider: Provider, start: datetime) -> Reservation:
    """Held at NOW, confirmed a minute later; the outbox emptied of the confirm mails."""
    reservation = hold(client, provider, start)
    reservation_confirm(actor=actor_for(client), reservation_id=reservation.pk, now=NOW + MINUTE)
    Notification.objects.all().delete()
    return reservation


# --- times in the recipient's zone ------------------------------------------------------------


def test_an_invitation_lists_the_candidates_in_each_recipients_zone(settings: Settings) -> None:
    olga = make_user(email="olga@example.com", name="Olga", time_zone="Europe/Berlin")
    # Someone invited by address only: an inactive user, zone unknown, so UTC (labelled).
    stranger = User.objects.create_user("new@example.com", None, is_active=False)
    event = Event.objects.create(organizer=olga, title="Budget", created_at=NOW, updated_at=NOW)
    CandidateSlot.objects.bulk_create(
        [
            CandidateSlot(event=event, start=at(8, 9), end=at(8, 10)),
            CandidateSlot(event=event, start=at(8, 22, 30), end=at(8, 23)),
        ]
    )
    link_ = f"{BASE}/e/{event.pk}/?token=rdve_x"

    def body(recipient: User) -> str:
        stored = event_invitation(
            event=event, recipient=recipient, message="Bring the numbers.", sender=Actor(user=olga)
        )[1]
        assert "rdve_" not in stored  # the link goes in as the mail is sent, never stored
        return with_link(stored, link_)

    assert stranger.time_zone == "UTC"
    assert event_invitation(event=event, recipient=stranger, message="", sender=Actor(user=olga))[
        0
    ] == ("Find a time: Budget")
    assert body(olga) == (
        "Olga asks you to find a time for: Budget\n"
        "\n"
        "Candidate times:\n"
        "  - Tue 08 Jan 2030, 10:00 (Europe/Berlin), 60 min\n"
        "  - Tue 08 Jan 2030, 23:30 (Europe/Berlin), 30 min\n"
        "\n"
        "Message:\n"
        "Bring the numbers.\n"
        "\n"
        "Open this link to see the event, vote, or narrow the candidates:\n"
        f"{link_}\n"
        "\n"
        "The link is personal: it lets whoever holds it act as you on this event only.\n"
    )
    assert body(stranger) == (
        "Olga asks you to find a time for: Budget\n"
        "\n"
        "Candidate times:\n"
        "  - Tue 08 Jan 2030, 09:00 (UTC), 60 min\n"
        "  - Tue 08 Jan 2030, 22:30 (UTC), 30 min\n"
        "\n"
        "Message:\n"
        "Bring the numbers.\n"
        "\n"
        "Open this link to see the event, vote, or narrow the candidates:\n"
        f"{link_}\n"
        "\n"
        "The link is personal: it lets whoever holds it act as you on this event only.\n"
    )


def test_the_scheduled_time_is_in_the_recipients_zone_across_midnight() -> None:
    olga = make_user(email="olga@example.com", time_zone="Europe/Berlin")
    tokyo = make_user(email="kenji@example.com", time_zone="Asia/Tokyo")
    event = Event.objects.create(
        organizer=olga,
        title="Budget",
        status=EventStatus.SCHEDULED,
        start=at(8, 16),
        end=at(8, 17, 30),
        created_at=NOW,
        updated_at=NOW,
    )

    assert event_update(event=event, recipient=tokyo, kind=Notification.Kind.EVENT_SCHEDULED) == (
        "Scheduled: Budget",
        "Budget is scheduled for Wed 09 Jan 2030, 01:00 (Asia/Tokyo), 90 min.\n\n"
        "The attached .ics file adds it to your calendar.\n",
    )
    assert event_update(event=event, recipient=olga, kind=Notification.Kind.EVENT_SCHEDULED)[
        1
    ].startswith("Budget is scheduled for Tue 08 Jan 2030, 17:00 (Europe/Berlin), 90 min.\n")


# --- reservations -----------------------------------------------------------------------------


def test_confirming_tells_client_and_provider_each_in_their_zone(
    provider: Provider, carla: Client, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    reservation = hold(carla, provider, at(8, 10))
    assert outbox_size() == (0, 0)  # a hold alone tells nobody

    reservation_confirm(actor=actor_for(carla), reservation_id=reservation.pk, now=NOW + MINUTE)

    assert notifications() == [
        (
            "RESERVATION_CONFIRMED",
            "carla@example.com",
            "Booking confirmed: Dr Pat, Tue 08 Jan 2030, 11:00 (Europe/Berlin)",
            "Your booking with Dr Pat is confirmed:\n"
            "  Tue 08 Jan 2030, 11:00 (Europe/Berlin), 60 min\n"
            "\n"
            f"Reference: reservation #{reservation.pk}\n"
            "\n"
            "The attached .ics file adds it to your calendar.\n"
            "\n"
            "Cancel or move it, without signing in:\n"
            "[manage link: added when this mail is sent]\n",
            "PENDING",
        ),
        (
            "RESERVATION_CONFIRMED",
            "pat@example.com",
            "Booking confirmed: Carla, Tue 08 Jan 2030, 10:00 (UTC)",
            "Your booking with Carla is confirmed:\n"
            "  Tue 08 Jan 2030, 10:00 (UTC), 60 min\n"
            "\n"
            f"Reference: reservation #{reservation.pk}\n"
            "\n"
            "The attached .ics file adds it to your calendar.\n",
            "PENDING",
        ),
    ]
    to_carla, to_pat = Notification.objects.order_by("id")
    assert (to_carla.reservation_id, to_carla.created_at) == (reservation.pk, NOW + MINUTE)
    assert jobs() == mail_jobs_for(to_carla, to_pat)

    # Sent through SMTP, each with an .ics for the booking.
    monkeypatch.setattr(tasks, "utcnow", lambda: NOW + 2 * MINUTE)
    assert [tasks.send_notification(notification_id=n.pk) for n in (to_carla, to_pat)] == [
        "SENT",
        "SENT",
    ]
    messages = mailbox.wait_for(2, timeout=5)
    assert [(m["To"], m["Subject"]) for m in messages] == [
        ("carla@example.com", to_carla.subject),
        ("pat@example.com", to_pat.subject),
    ]
    # The client's copy carries her manage link in place of the placeholder (issue 11).
    sent_to_carla, sent_to_pat = (text_body(m) for m in messages)
    head, _, tail = to_carla.body.partition("[manage link: added when this mail is sent]")
    assert sent_to_carla.startswith(head + "https://rdv.example/book/manage/")
    assert sent_to_carla.endswith("/" + tail)
    token = sent_to_carla.removeprefix(head).removesuffix(tail).split("/")[-2]
    assert manage_token_read(token=token, now=NOW) == reservation
    assert sent_to_pat == to_pat.body
    calendars = []
    for message in messages:
        part = calendar_part(message)
        assert part is not None
        [vevent] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
        calendars.append(
            (
                part.get_param("method"),
                str(vevent["UID"]),
                vevent.decoded("DTSTART"),
                vevent.decoded("DTEND"),
                str(vevent["SUMMARY"]),
                vevent.decoded("SEQUENCE"),
                str(vevent["ORGANIZER"]),
                [str(a) for a in vevent["ATTENDEE"]],
            )
        )
    booking = (f"reservation-{reservation.pk}@mail.test", at(8, 10), at(8, 11))
    people = ("mailto:pat@example.com", ["mailto:pat@example.com", "mailto:carla@example.com"])
    # SEQUENCE 2: the reservation's two recorded changes (create, confirm).
    assert calendars == [
        ("REQUEST", *booking, "Appointment with Dr Pat", 2, *people),
        ("REQUEST", *booking, "Appointment with Carla", 2, *people),
    ]


def test_confirming_or_cancelling_twice_tells_nobody_twice(
    provider: Provider, carla: Client
) -> None:
    reservation = booked(carla, provider, at(8, 10))
    before = outbox_size()

    reservation_confirm(actor=actor_for(carla), reservation_id=reservation.pk, now=NOW + MINUTE)
    assert outbox_size() == before

    reservation_cancel(actor=actor_for(carla), reservation_id=reservation.pk, now=NOW + MINUTE)
    reservation_cancel(actor=actor_for(carla), reservation_id=reservation.pk, now=NOW + MINUTE)
    assert [kind for kind, *_ in notifications()] == ["RESERVATION_CANCELLED"] * 2


def test_a_cancelled_booking_tells_both_who_cancelled_and_why(
    provider: Provider, carla: Client, mailbox: Mailbox
) -> None:
    reservation = booked(carla, provider, at(8, 10))

    reservation_cancel(
        actor=actor_for(provider), reservation_id=reservation.pk, reason=" Ill. ", now=NOW
    )

    assert [(kind, to, subject, body) for kind, to, subject, body, *_ in notifications()] == [
        (
            "RESERVATION_CANCELLED",
            "carla@example.com",
            "Booking cancelled: Dr Pat, Tue 08 Jan 2030, 11:00 (Europe/Berlin)",
            "Your booking with Dr Pat was cancelled by Dr Pat:\n"
            "  Tue 08 Jan 2030, 11:00 (Europe/Berlin), 60 min\n"
            "\n"
            "Reason: Ill.\n"
            "\n"
            f"Reference: reservation #{reservation.pk}\n"
            "\n"
            "The attached .ics file removes it from your calendar.\n"
            "\n"
            "See it, or book another time:\n"
            "[manage link: added when this mail is sent]\n",
        ),
        (
            "RESERVATION_CANCELLED",
            "pat@example.com",
            "Booking cancelled: Carla, Tue 08 Jan 2030, 10:00 (UTC)",
            "Your booking with Carla was cancelled by you:\n"
            "  Tue 08 Jan 2030, 10:00 (UTC), 60 min\n"
            "\n"
            "Reason: Ill.\n"
            "\n"
            f"Reference: reservation #{reservation.pk}\n"
            "\n"
            "The attached .ics file removes it from your calendar.\n",
        ),
    ]
    to_carla = Notification.objects.order_by("id").first()
    assert to_carla is not None
    tasks.send_notification(notification_id=to_carla.pk)
    [message] = mailbox.wait_for(1, timeout=5)
    part = calendar_part(message)
    assert part is not None
    [vevent] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    # create, confirm, cancel: SEQUENCE 3, above the REQUEST's 2.
    assert (part.get_param("method"), str(vevent["STATUS"]), vevent.decoded("SEQUENCE")) == (
        "CANCEL",
        "CANCELLED",
        3,
    )


def test_a_hold_cancelled_by_staff_says_staff_and_carries_no_ics(
    provider: Provider, carla: Client, mailbox: Mailbox
) -> None:
    reservation = hold(carla, provider, at(8, 10))

    reservation_cancel(actor=actor_for(make_staff()), reservation_id=reservation.pk, now=NOW)

    assert notifications()[0][1:4] == (
        "carla@example.com",
        "Hold cancelled: Dr Pat, Tue 08 Jan 2030, 11:00 (Europe/Berlin)",
        "Your hold with Dr Pat was cancelled by staff:\n"
        "  Tue 08 Jan 2030, 11:00 (Europe/Berlin), 60 min\n"
        "\n"
        f"Reference: reservation #{reservation.pk}\n"
        "\n"
        "See it, or book another time:\n"
        "[manage link: added when this mail is sent]\n",
    )
    first = Notification.objects.order_by("id").first()
    assert first is not None
    tasks.send_notification(notification_id=first.pk)
    [message] = mailbox.wait_for(1, timeout=5)
    assert calendar_part(message) is None


def test_moving_tells_both_the_old_and_the_new_time(provider: Provider, carla: Client) -> None:
    held = hold(carla, provider, at(8, 10))
    confirmed = booked(carla, provider, at(9, 10))

    reservation_reschedule(actor=actor_for(carla), reservation_id=held.pk, start=at(8, 15), now=NOW)
    reservation_reschedule(
        actor=actor_for(make_staff()), reservation_id=confirmed.pk, start=at(9, 16), now=NOW
    )

    assert [(to, subject, body) for _, to, subject, body, *_ in notifications()] == [
        (
            "carla@example.com",
            "Hold moved: Dr Pat, Tue 08 Jan 2030, 16:00 (Europe/Berlin)",
            "Your hold with Dr Pat was moved by you:\n"
            "  from Tue 08 Jan 2030, 11:00 (Europe/Berlin), 60 min\n"
            "  to   Tue 08 Jan 2030, 16:00 (Europe/Berlin), 60 min\n"
            "\n"
            "It is not confirmed yet: confirm it before Mon 07 Jan 2030, 09:30 (Europe/Berlin).\n"
            "\n"
            f"Reference: reservation #{held.pk}\n"
            "\n"
            "Cancel or move it, without signing in:\n"
            "[manage link: added when this mail is sent]\n",
        ),
        (
            "pat@example.com",
            "Hold moved: Carla, Tue 08 Jan 2030, 15:00 (UTC)",
            "Your hold with Carla was moved by Carla:\n"
            "  from Tue 08 Jan 2030, 10:00 (UTC), 60 min\n"
            "  to   Tue 08 Jan 2030, 15:00 (UTC), 60 min\n"
            "\n"
            "It is not confirmed yet: confirm it before Mon 07 Jan 2030, 08:30 (UTC).\n"
            "\n"
            f"Reference: reservation #{held.pk}\n",
        ),
        (
            "carla@example.com",
            "Booking moved: Dr Pat, Wed 09 Jan 2030, 17:00 (Europe/Berlin)",
            "Your booking with Dr Pat was moved by staff:\n"
            "  from Wed 09 Jan 2030, 11:00 (Europe/Berlin), 60 min\n"
            "  to   Wed 09 Jan 2030, 17:00 (Europe/Berlin), 60 min\n"
            "\n"
            f"Reference: reservation #{confirmed.pk}\n"
            "\n"
            "The attached .ics file updates your calendar.\n"
            "\n"
            "Cancel or move it, without signing in:\n"
            "[manage link: added when this mail is sent]\n",
        ),
        (
            "pat@example.com",
            "Booking moved: Carla, Wed 09 Jan 2030, 16:00 (UTC)",
            "Your booking with Carla was moved by staff:\n"
            "  from Wed 09 Jan 2030, 10:00 (UTC), 60 min\n"
            "  to   Wed 09 Jan 2030, 16:00 (UTC), 60 min\n"
            "\n"
            f"Reference: reservation #{confirmed.pk}\n"
            "\n"
            "The attached .ics file updates your calendar.\n",
        ),
    ]
    assert jobs()[-4:] == mail_jobs_for(*Notification.objects.order_by("id"))


def test_expiry_tells_each_client_once_in_bulk(provider: Provider, carla: Client) -> None:
    other_provider = make_provider(email="quinn@example.com")
    dan = make_client(email="dan@example.com")
    lapsed = make_reservation(
        provider=provider,
        client=carla,
        start=at(8, 10),
        status=ReservationStatus.HELD,
        expires_at=NOW - MINUTE,
    )
    also_lapsed = make_reservation(
        provider=other_provider,
        client=dan,
        start=at(8, 10),
        status=ReservationStatus.HELD,
        expires_at=NOW,
    )
    make_reservation(  # still live
        provider=provider,
        client=dan,
        start=at(8, 12),
        status=ReservationStatus.HELD,
        expires_at=NOW + MINUTE,
    )

    with CaptureQueriesContext(connection) as queries:
        assert reservation_expire_due(now=NOW) == 2

    assert [(kind, to, subject, body) for kind, to, subject, body, *_ in notifications()] == [
        (
            "RESERVATION_EXPIRED",
            "carla@example.com",
            "Hold expired: Dr Pat, Tue 08 Jan 2030, 11:00 (Europe/Berlin)",
            "Your hold with Dr Pat expired at Mon 07 Jan 2030, 08:59 (Europe/Berlin) before "
            "it was confirmed:\n"
            "  Tue 08 Jan 2030, 11:00 (Europe/Berlin), 60 min\n"
            "\n"
            "The time is free again; reserve it again if you still want it.\n"
            "\n"
            f"Reference: reservation #{lapsed.pk}\n",
        ),
        (
            "RESERVATION_EXPIRED",
            "dan@example.com",
            f"Hold expired: Provider {other_provider.user_id}, Tue 08 Jan 2030, 10:00 (UTC)",
            f"Your hold with Provider {other_provider.user_id} expired at Mon 07 Jan 2030, "
            "08:00 (UTC) before it was confirmed:\n"
            "  Tue 08 Jan 2030, 10:00 (UTC), 60 min\n"
            "\n"
            "The time is free again; reserve it again if you still want it.\n"
            "\n"
            f"Reference: reservation #{also_lapsed.pk}\n",
        ),
    ]
    assert jobs() == mail_jobs_for(*Notification.objects.order_by("id"))
    sql = [q["sql"] for q in queries]
    assert sum('INSERT INTO "reservation_notification"' in s for s in sql) == 1
    assert sum("procrastinate_defer_jobs" in s for s in sql) == 1
    # Expired once, told once.
    assert reservation_expire_due(now=NOW) == 0
    assert outbox_size() == (2, 2)


def test_confirming_a_lapsed_hold_fails_but_the_client_hears_it_expired(
    provider: Provider, carla: Client
) -> None:
    reservation = hold(carla, provider, at(8, 10))

    with pytest.raises(Exception) as info:  # noqa: PT011 - the code is checked below
        reservation_confirm(
            actor=actor_for(carla), reservation_id=reservation.pk, now=NOW + 31 * MINUTE
        )

    assert info.value.error_code == ErrorCode.HOLD_EXPIRED  # type: ignore[attr-defined]
    assert [(kind, to) for kind, to, *_ in notifications()] == [
        ("RESERVATION_EXPIRED", "carla@example.com")
    ]
    assert jobs() == mail_jobs_for(*Notification.objects.all())


# --- the outbox: written with the action or not at all ---------------------------------------


def test_rejected_actions_notify_nobody(provider: Provider, carla: Client) -> None:
    reservation = booked(carla, provider, at(8, 10))
    cancelled = booked(carla, provider, at(8, 12))
    reservation_cancel(actor=actor_for(carla), reservation_id=cancelled.pk, now=NOW)
    stranger = make_client()
    before = outbox_size()

    with rejected(ErrorCode.NOT_FOUND):
        reservation_cancel(actor=actor_for(stranger), reservation_id=reservation.pk, now=NOW)
    with rejected(ErrorCode.PERMISSION_DENIED):
        reservation_confirm(actor=actor_for(provider), reservation_id=reservation.pk, now=NOW)
    with rejected(ErrorCode.SLOT_UNAVAILABLE):  # 03:00 UTC: outside working hours
        reservation_reschedule(
            actor=actor_for(carla), reservation_id=reservation.pk, start=at(9, 3), now=NOW
        )
    with rejected(ErrorCode.RESERVATION_NOT_ACTIVE):
        reservation_reschedule(
            actor=actor_for(carla), reservation_id=cancelled.pk, start=at(9, 10), now=NOW
        )

    assert outbox_size() == before


def test_a_booking_that_fails_after_expiring_holds_sends_no_expiry_mail(
    provider: Provider, carla: Client
) -> None:
    """reservation_create expires the provider's lapsed holds first (queueing their mails),
    then finds the slot unbookable: the whole transaction, mails included, rolls back."""
    lapsed = make_reservation(
        provider=provider,
        client=carla,
        start=at(8, 10),
        status=ReservationStatus.HELD,
        expires_at=NOW - MINUTE,
    )

    dan = make_client()

    with rejected(ErrorCode.SLOT_UNAVAILABLE):  # 03:00 UTC: outside working hours
        hold(dan, provider, at(9, 3))

    lapsed.refresh_from_db()
    assert lapsed.status == ReservationStatus.HELD
    assert outbox_size() == (0, 0)
    # The same expiry, committed, does tell the client.
    hold(dan, provider, at(8, 11))
    assert [(kind, to) for kind, to, *_ in notifications()] == [
        ("RESERVATION_EXPIRED", "carla@example.com")
    ]


class Abandoned(Exception):
    pass


def enqueue_then_fail(recipient: User) -> None:
    """An action that records a mail and then fails, in one transaction."""
    with transaction.atomic():
        notification_enqueue(
            kind=Notification.Kind.EVENT_INVITATION,
            recipient=recipient,
            subject="Hi",
            body="Hi\n",
            now=NOW,
        )
        assert Notification.objects.count() == 1
        assert ProcrastinateJob.objects.count() == 1
        raise Abandoned


def test_a_rolled_back_enqueue_leaves_no_row_and_no_job(carla: Client) -> None:
    with pytest.raises(Abandoned):
        enqueue_then_fail(carla.user)

    assert outbox_size() == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_inside_the_worker_a_job_still_commits_with_its_rows(carla: Client) -> None:
    """In the worker process Procrastinate's app has its own connection pool; a mail deferred
    there by a task (expire_holds) must still go through Django's connection, or it would
    commit before its Notification row and could run before the row exists."""
    job_ids_before = set(ProcrastinateJob.objects.values_list("id", flat=True))
    worker_connector = app.connector.get_worker_connector()  # type: ignore[attr-defined]
    try:
        # What `manage.py procrastinate worker` does before it runs tasks.
        with (
            app.replace_connector(worker_connector),
            app.open(),
            pytest.raises(Abandoned),
        ):
            enqueue_then_fail(carla.user)
    finally:
        new = set(ProcrastinateJob.objects.values_list("id", flat=True)) - job_ids_before
        with connection.cursor() as cursor:  # unmanaged table: the flush would leave it
            cursor.execute("DELETE FROM procrastinate_jobs WHERE id = ANY(%s)", [list(new)])

    assert (Notification.objects.count(), new) == (0, set())


def test_someone_who_books_their_own_time_is_told_once() -> None:
    both = make_user(email="self@example.com")
    provider = Provider.objects.create(user=both, display_name="Me")
    make_reservation(provider=provider, client=Client.objects.create(user=both), start=at(8, 10))
    reservation = Reservation.objects.select_related("client__user", "provider__user").get()

    notes = reservation_notify(
        reservation=reservation, kind=Notification.Kind.RESERVATION_CONFIRMED, now=NOW
    )

    assert [n.recipient_id for n in notes] == [both.pk]
    assert jobs() == mail_jobs_for(*notes)
