"""Webhook subscriptions, service level, against a real HTTP receiver on loopback: what is
queued by which change and for whom (in the change's transaction), the signed envelope as the
owner would read it, retries while the receiver is down and exactly one delivery when it is
back, the delivery log, redelivery, and the automatic switch-off with its mail."""

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django.models import ProcrastinateJob
from pytest_django.fixtures import Settings

from api.webhooks.render import render_as_owner
from reservation.errors import AccessDenied, ErrorCode, NotFound
from reservation.models import (
    Notification,
    Provider,
    Reservation,
    User,
    Webhook,
    WebhookDelivery,
    WebhookEventType,
)
from reservation.services import calendar, events, reservations, webhooks
from reservation.services.events import SlotInput
from reservation.services.reservations import reservation_expire_due
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    make_client,
    make_provider,
    make_staff,
    make_user,
    rejected,
)
from reservation.tests.http_receiver import Receiver

SECRET = "s3cret-s3cret-s3cret"
E = WebhookEventType
ALL = list(E.values)


@pytest.fixture
def receiver(settings: Settings) -> Iterator[Receiver]:
    """The loopback receiver, reachable: REMINDER_ALLOW_PRIVATE_NETWORKS on (local testing)."""
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = True
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def pat(db: None) -> Provider:
    return make_provider(email="pat@example.com")


@pytest.fixture
def cleo(db: None) -> User:
    return make_client(email="cleo@example.com").user


def hook(owner: User, url: str, events: list[str] = ALL, **kwargs: Any) -> Webhook:
    return webhooks.webhook_create(
        actor=actor_for(owner), url=url, events=events, secret=SECRET, now=NOW, **kwargs
    )


def book(client: User, provider: Provider, hour: int = 9) -> Reservation:
    return reservations.reservation_create(
        actor=actor_for(client), provider_id=provider.pk, start=at(8, hour), now=NOW
    )


def queued() -> list[tuple[int, str, str, int]]:
    """(webhook, type, subject type, subject id) of every delivery, oldest first."""
    return list(
        WebhookDelivery.objects.order_by("id").values_list(
            "webhook_id", "event_type", "subject_type", "subject_id"
        )
    )


def webhook_jobs() -> list[int]:
    return sorted(
        job.args["delivery_id"]
        for job in ProcrastinateJob.objects.filter(task_name="reservation.deliver_webhook")
    )


def deliver(delivery: WebhookDelivery, *, now: Any = NOW) -> webhooks.Outcome:
    return webhooks.webhook_deliver(delivery_id=delivery.pk, render=render_as_owner, now=now)


def log(delivery: WebhookDelivery) -> list[tuple[int, int | None, str]]:
    return [
        (a.number, a.status_code, a.error)
        for a in delivery.attempt_log.order_by("number")  # type: ignore[attr-defined]
    ]


def test_a_booking_queues_one_delivery_per_subscribed_webhook_that_may_see_it(
    pat: Provider, cleo: User
) -> None:
    # Given Pat's webhook, Cleo's, a stranger's, staff's global one, and Pat's second one that
    # only hears about cancellations
    root = make_staff(email="root@example.com")
    url = "https://hooks.example.com/in"
    pats = hook(pat.user, url)
    cleos = hook(cleo, url)
    hook(make_user(email="stranger@example.com"), url)
    roots = hook(root, url, is_global=True)
    hook(pat.user, url, events=[E.RESERVATION_CANCELLED])

    # When Cleo books Pat
    reservation = book(cleo, pat)

    # Then the parties' webhooks and the global one are told, each with a job; the stranger's
    # and the cancellations-only one are not
    created = E.RESERVATION_CREATED
    assert queued() == [
        (pats.pk, created, "reservation", reservation.pk),
        (cleos.pk, created, "reservation", reservation.pk),
        (roots.pk, created, "reservation", reservation.pk),
    ]
    assert webhook_jobs() == sorted(WebhookDelivery.objects.values_list("pk", flat=True))
    # One change, one event id, whoever hears about it
    assert {d.event_id for d in WebhookDelivery.objects.all()} == {
        f"evt_{WebhookDelivery.objects.first().audit_entry_id}"  # type: ignore[union-attr]
    }


def test_a_rolled_back_change_queues_nothing(pat: Provider, cleo: User) -> None:
    hook(pat.user, "https://hooks.example.com/in")

    def book_then_fail() -> None:
        with transaction.atomic():
            book(cleo, pat)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        book_then_fail()

    assert queued() == []
    assert webhook_jobs() == []


def test_without_webhooks_a_booking_spends_no_statement_on_them_and_writes_nothing_more(
    pat: Provider, cleo: User
) -> None:
    with CaptureQueriesContext(connection) as with_none:
        book(cleo, pat, hour=9)
    lookups = [q["sql"] for q in with_none if "reservation_webhook" in q["sql"]]
    # The question "does any webhook hear of this?" rides in the booking's one slot-data
    # statement (selectors.booking.slot_query), not a statement of its own.
    assert len(lookups) == 1
    assert lookups[0].lstrip().startswith("WITH pol AS")
    assert queued() == []


def test_every_event_type_is_emitted(pat: Provider, cleo: User) -> None:
    # Given webhooks of Pat, Cleo and Olga (organizer) hearing everything
    olga = make_user(email="olga@example.com")
    for user in (pat.user, cleo, olga):
        hook(user, "https://hooks.example.com/in")
    cleo_actor = actor_for(cleo)

    # When reservations go through their lives
    held = book(cleo, pat, hour=9)
    reservations.reservation_confirm(actor=cleo_actor, reservation_id=held.pk, now=NOW)
    reservations.reservation_reschedule(
        actor=cleo_actor, reservation_id=held.pk, start=at(8, 13), now=NOW
    )
    reservations.reservation_cancel(actor=cleo_actor, reservation_id=held.pk, now=NOW)
    lapsing = book(cleo, pat, hour=11)
    assert reservation_expire_due(now=NOW + timedelta(hours=1)) == 1
    # and an event is proposed to Cleo, narrowed, extended, agreed; Cleo answers another; one
    # is cancelled
    olga_actor = actor_for(olga)
    event = events.event_propose(
        actor=olga_actor,
        parties=[cleo.email],
        slots=[SlotInput(start=at(9, 9 + h), duration_minutes=60) for h in range(3)],
        title="Planning",
        now=NOW,
    )
    slots = sorted(event.candidates.values_list("pk", flat=True))  # type: ignore[attr-defined]
    events.event_narrow(
        actor=olga_actor, event_id=event.pk, keep_slot_ids=slots[:2], expected_version=1, now=NOW
    )
    events.event_extend(
        actor=olga_actor,
        event_id=event.pk,
        slots=[SlotInput(start=at(10, 9), duration_minutes=60)],
        expected_version=2,
        now=NOW,
    )
    events.event_agree(
        actor=olga_actor, event_id=event.pk, slot_id=slots[0], expected_version=3, now=NOW
    )
    standup = calendar.event_create(
        actor=olga_actor,
        title="Standup",
        start=at(14, 9),
        end=at(14, 10),
        time_zone="UTC",
        participants=[cleo.email],
        now=NOW,
    )
    calendar.event_respond(actor=cleo_actor, event_id=standup.pk, decision="YES", now=NOW)
    events.event_cancel(actor=olga_actor, event_id=standup.pk, now=NOW)

    # Then each webhook heard of what its owner is part of, in order
    def types_for(user: User) -> list[tuple[str, int]]:
        return list(
            WebhookDelivery.objects.filter(webhook__owner=user)
            .order_by("id")
            .values_list("event_type", "subject_id")
        )

    reservation_life = [
        (E.RESERVATION_CREATED, held.pk),
        (E.RESERVATION_CONFIRMED, held.pk),
        (E.RESERVATION_RESCHEDULED, held.pk),
        (E.RESERVATION_CANCELLED, held.pk),
        (E.RESERVATION_CREATED, lapsing.pk),
        (E.RESERVATION_EXPIRED, lapsing.pk),
    ]
    event_life = [
        (E.EVENT_PROPOSED, event.pk),
        (E.EVENT_NARROWED, event.pk),
        (E.EVENT_EXTENDED, event.pk),
        (E.EVENT_AGREED, event.pk),
        (E.RSVP_ANSWERED, standup.pk),
        (E.EVENT_CANCELLED, standup.pk),
    ]
    assert types_for(pat.user) == reservation_life
    assert types_for(cleo) == reservation_life + event_life
    assert types_for(olga) == event_life


def verify(received: Any) -> dict[str, Any]:
    """The receiver's side: recompute the signature, then read the body."""
    timestamp = received.headers["x-rendezvous-timestamp"]
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    assert received.headers["x-rendezvous-signature"] == f"sha256={expected}"
    return json.loads(received.body)


def test_a_delivery_is_the_signed_envelope_of_the_object_as_its_owner_reads_it(
    receiver: Receiver, pat: Provider, cleo: User
) -> None:
    webhook = hook(pat.user, receiver.url + "/in")
    reservation = book(cleo, pat)
    [delivery] = WebhookDelivery.objects.all()

    assert deliver(delivery) == webhooks.Outcome("DELIVERED")

    [received] = receiver.requests
    assert received.path == "/in"
    assert received.headers["x-rendezvous-timestamp"] == str(int(NOW.timestamp()))
    from strawberry import relay

    def gid(name: str, pk: int) -> str:
        return str(relay.GlobalID(name, str(pk)))

    assert verify(received) == {
        "id": delivery.event_id,
        "type": "reservation.created",
        "occurredAt": "2030-01-07T08:00:00Z",
        "version": 1,
        "webhookId": webhook.pk,
        "data": {
            "reservation": {
                "id": gid("Reservation", reservation.pk),
                "status": "HELD",
                "start": "2030-01-08T09:00:00+00:00",
                "end": "2030-01-08T10:00:00+00:00",
                "expiresAt": reservation.expires_at.isoformat(),  # type: ignore[union-attr]
                "confirmedAt": None,
                "cancelledAt": None,
                "cancelReason": "",
                "createdAt": reservation.created_at.isoformat(),
                "provider": {"id": gid("Provider", pat.pk)},
                "client": {"id": gid("Client", reservation.client_id)},
            }
        },
    }


def test_while_the_receiver_is_down_attempts_fail_and_it_gets_one_delivery_when_back(
    receiver: Receiver, pat: Provider, cleo: User
) -> None:
    webhook = hook(pat.user, receiver.url)
    book(cleo, pat)
    [delivery] = WebhookDelivery.objects.all()
    receiver.stop()

    first = deliver(delivery)
    second = deliver(delivery, now=NOW + timedelta(seconds=2))
    receiver.start()
    third = deliver(delivery, now=NOW + timedelta(seconds=26))
    again = deliver(delivery, now=NOW + timedelta(seconds=60))  # a stray retry

    assert (first.result, second.result, third.result, again.result) == (
        "FAILED",
        "FAILED",
        "DELIVERED",
        "DELIVERED",
    )
    assert first.error.startswith("unreachable:")
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == (
        WebhookDelivery.Status.DELIVERED,
        3,
        NOW + timedelta(seconds=26),
    )
    assert [(n, code) for n, code, _ in log(delivery)] == [(1, None), (2, None), (3, 200)]
    assert [bool(error) for _, _, error in log(delivery)] == [True, True, False]
    assert json.loads(receiver.requests[0].body)["id"] == delivery.event_id
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 0


def test_an_error_answer_is_logged_with_its_status(
    receiver: Receiver, pat: Provider, cleo: User
) -> None:
    hook(pat.user, receiver.url)
    book(cleo, pat)
    [delivery] = WebhookDelivery.objects.all()
    receiver.status = 503

    outcome = deliver(delivery)

    assert outcome.result == "FAILED"
    assert log(delivery) == [(1, 503, 'HTTP 503 Service Unavailable: {"ok":false}')]


def test_a_run_of_failures_switches_the_webhook_off_and_mails_its_owner(
    receiver: Receiver, settings: Settings, pat: Provider, cleo: User
) -> None:
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    webhook = hook(pat.user, receiver.url)
    book(cleo, pat, hour=9)
    book(cleo, pat, hour=11)
    first, second = WebhookDelivery.objects.order_by("id")
    receiver.status = 500

    outcomes = [deliver(first).result, deliver(second).result, deliver(first).result]
    after = deliver(second)

    assert outcomes == ["FAILED", "FAILED", "GAVE_UP"]
    assert after == webhooks.Outcome("GAVE_UP", "webhook disabled")
    assert len(receiver.requests) == 3
    webhook.refresh_from_db()
    assert (webhook.is_active, webhook.disabled_at, webhook.consecutive_failures) == (
        False,
        NOW,
        3,
    )
    [mail] = Notification.objects.filter(kind=Notification.Kind.WEBHOOK_DISABLED)
    assert (mail.recipient, mail.subject) == (pat.user, f"Webhook disabled: {receiver.url}")
    assert "failed 3 deliveries in a row" in mail.body
    # Switched back on, its failures are forgotten and a missed delivery goes out again
    receiver.status = 200
    webhooks.webhook_update(actor=actor_for(pat.user), webhook_id=webhook.pk, active=True)
    webhooks.webhook_redeliver(actor=actor_for(pat.user), delivery_id=second.pk)
    assert deliver(second).result == "DELIVERED"
    assert len(receiver.requests) == 4


def test_redeliver_sends_the_same_envelope_again(
    receiver: Receiver, pat: Provider, cleo: User
) -> None:
    hook(pat.user, receiver.url)
    book(cleo, pat)
    [delivery] = WebhookDelivery.objects.all()
    deliver(delivery)

    webhooks.webhook_redeliver(actor=actor_for(pat.user), delivery_id=delivery.pk)

    assert webhook_jobs() == [delivery.pk, delivery.pk]
    assert deliver(delivery, now=NOW + timedelta(minutes=5)).result == "DELIVERED"
    first, second = receiver.requests
    assert first.body == second.body
    assert log(delivery) == [(1, 200, ""), (2, 200, "")]
    # Someone else's delivery is not found, like one that does not exist
    with pytest.raises(NotFound):
        webhooks.webhook_redeliver(actor=actor_for(cleo), delivery_id=delivery.pk)


def test_a_delivery_the_owner_can_no_longer_see_is_skipped(
    receiver: Receiver, pat: Provider, cleo: User
) -> None:
    olga = make_user(email="olga@example.com")
    hook(cleo, receiver.url)
    event = events.event_propose(
        actor=actor_for(olga),
        parties=[cleo.email],
        slots=[SlotInput(start=at(9, 9), duration_minutes=60)],
        title="Planning",
        now=NOW,
    )
    [delivery] = WebhookDelivery.objects.all()
    events.event_delete(actor=actor_for(make_staff()), event_id=event.pk, now=NOW)

    assert deliver(delivery).result == "SKIPPED"
    assert receiver.requests == []


def test_creating_webhooks_is_checked(pat: Provider, cleo: User) -> None:
    actor = actor_for(cleo)
    with pytest.raises(AccessDenied):
        hook(cleo, "https://hooks.example.com/in", is_global=True)
    with rejected(ErrorCode.INVALID_INPUT):
        hook(cleo, "http://127.0.0.1:9/in")  # SSRF guard, as for reminders
    with rejected(ErrorCode.INVALID_INPUT):
        webhooks.webhook_create(actor=actor, url="https://a.example.com", events=["nope"])
    with rejected(ErrorCode.INVALID_INPUT):
        webhooks.webhook_create(
            actor=actor, url="https://a.example.com", events=ALL, secret="short"
        )
    assert Webhook.objects.count() == 0
    created = webhooks.webhook_create(actor=actor, url="https://a.example.com", events=ALL)
    assert created.secret.startswith("whsec_")
    with pytest.raises(NotFound):
        webhooks.webhook_delete(actor=actor_for(pat.user), webhook_id=created.pk)
    assert webhooks.webhook_delete(actor=actor, webhook_id=created.pk) == created.pk
    assert Webhook.objects.count() == 0
