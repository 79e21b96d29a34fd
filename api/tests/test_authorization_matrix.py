"""The authorization matrix: every query and mutation of the schema, run as each kind of
caller, and exactly who gets data and who gets which code.

One world (`world`) holds everything the operations act on; each (operation, persona) case
gets a fresh one, so a mutation that succeeds changes nothing the next case sees. A test fails
when the schema has an operation the matrix does not list, and another proves that guessing
IDs finds nothing: every ID of someone else's object answers like one that does not exist.
"""

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import graphql
import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import Client as HttpClient

from api.schema import schema
from api.tests.conftest import gid, iso, latest_link, post_graphql, token_of
from reservation.models import (
    ApiToken,
    AvailabilityWindow,
    CalendarConnection,
    CalendarFeed,
    CandidateSlot,
    Event,
    EventAccessToken,
    ExternalCalendar,
    Provider,
    Reservation,
    ReservationStatus,
    TimeOff,
    User,
    Webhook,
    WebhookDelivery,
    WebhookEventType,
)
from reservation.services import (
    calendar,
    events,
    external_calendars,
    feeds,
    reminders,
    reservations,
    webhooks,
)
from reservation.services.accounts import api_token_create
from reservation.services.events import SlotInput
from reservation.tests.factories import (
    NOW,
    PASSWORD,
    actor_for,
    at,
    make_client,
    make_provider,
    make_reservation,
    make_staff,
    make_time_off,
    make_user,
    make_window,
)

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
QUINN = "quinn@example.com"  # invited by e-mail only: no account, acts through links

# --- the world --------------------------------------------------------------------------------


@dataclass
class World:
    """Who is who, what they own, and the Bearer secret each persona sends."""

    provider: Provider
    cleo: User
    held: Reservation  # Cleo's live hold with Pat (Tuesday 09:00)
    confirmed: Reservation  # Cleo's confirmed booking with Pat (Tuesday 11:00)
    proposed: Event  # Olga's "Planning" to Cleo and Quinn
    scheduled: Event  # Olga's weekly "Standup" with Cleo and Quinn, a reminder set
    elsewhere: Event  # Sam's "Elsewhere" to Quinn: the other event
    candidates: list[CandidateSlot]  # of `proposed`, earliest first
    spare_token: ApiToken  # Cleo's, not the one she sends
    time_off: TimeOff  # Cleo's
    feed: CalendarFeed  # Cleo's
    window: AvailabilityWindow  # Pat's
    expired: EventAccessToken  # Cleo's link to `proposed`, expired
    bearer: dict[str, str | None]  # persona -> secret (None: anonymous)
    scheduled_link: str  # Quinn's link to `scheduled` (party_link on its operations)
    connection: CalendarConnection  # Cleo's .ics subscription
    webhook: Webhook  # Cleo's, hearing everything
    delivery: WebhookDelivery  # to Cleo's webhook: her hold created


def mint_link(event: Event, email: str) -> str:
    """The organizer e-mails that person a link; the secret as the mail shows it."""
    event.refresh_from_db()
    events.event_notify(
        actor=actor_for(event.organizer),
        event_id=event.pk,
        parties=[email],
        expected_version=event.version,
        now=NOW,
    )
    return latest_link(event, email)


def build_world() -> World:
    """Pat (provider); Cleo (client) with a hold and a confirmed booking with Pat, a spare
    API token, time off, a calendar feed and a Telegram address; Sam (another client); Olga,
    who organises a proposed and a scheduled event with Cleo and quinn@example.com (invited
    only); Sam's event to Quinn; root (staff). Quinn's live links to Olga's two events and to
    Sam's, and Cleo's expired link to the proposed event."""
    provider = make_provider(email="pat@example.com", name="Pat")
    make_window(provider=provider, start=at(12, 9), end=at(12, 12))
    window = AvailabilityWindow.objects.get(provider=provider)
    cleo_client = make_client(email="cleo@example.com", name="Cleo")
    cleo = cleo_client.user
    sam = make_client(email="sam@example.com", name="Sam").user
    webhook = webhooks.webhook_create(
        actor=actor_for(cleo),
        url="https://hooks.example.com/in",
        events=list(WebhookEventType.values),
        now=NOW,
    )
    olga = make_user(email="olga@example.com", name="Olga")
    root = make_staff(email="root@example.com")

    held = reservations.reservation_create(
        actor=actor_for(cleo), provider_id=provider.pk, start=at(8, 9), now=NOW
    )
    confirmed = reservations.reservation_create(
        actor=actor_for(cleo), provider_id=provider.pk, start=at(8, 11), now=NOW
    )
    reservations.reservation_confirm(actor=actor_for(cleo), reservation_id=confirmed.pk, now=NOW)
    confirmed.refresh_from_db()
    assert held.status == ReservationStatus.HELD

    proposed = events.event_propose(
        actor=actor_for(olga),
        parties=[cleo.email, QUINN],
        slots=[SlotInput(start=at(9, 9 + hour), duration_minutes=60) for hour in range(3)],
        title="Planning",
        now=NOW,
    )
    scheduled = calendar.event_create(
        actor=actor_for(olga),
        title="Standup",
        start=at(14, 9),
        end=at(14, 9, 30),
        time_zone="UTC",
        participants=[cleo.email, QUINN],
        recurrence_rule=calendar.recurrence_spec(kind="WEEKLY", weekdays=[0], count=4),
        reminders=[(15, "EMAIL")],
        now=NOW,
    )
    elsewhere = events.event_propose(
        actor=actor_for(sam),
        parties=[QUINN],
        slots=[SlotInput(start=at(10, 9), duration_minutes=60)],
        title="Elsewhere",
        now=NOW,
    )
    party_link = mint_link(proposed, QUINN)
    scheduled_link = mint_link(scheduled, QUINN)
    other_event_link = mint_link(elsewhere, QUINN)
    expired_link = mint_link(proposed, cleo.email)
    expired = EventAccessToken.objects.get(event=proposed, user=cleo, revoked_at__isnull=True)
    # Issued six days ago, it lapsed a minute ago (a token expires after its creation).
    expired.created_at = NOW - timedelta(days=6)
    expired.expires_at = NOW - timedelta(minutes=1)
    expired.save(update_fields=["created_at", "expires_at"])

    spare_token, _ = api_token_create(actor=actor_for(cleo), name="spare")
    feed, _ = feeds.calendar_feed_create(actor=actor_for(cleo), now=NOW)
    reminders.channel_address_set(actor=actor_for(cleo), channel="TELEGRAM", address="12345678")
    connection = external_calendars.calendar_connection_create(
        actor=actor_for(cleo), kind="ICS", url="https://calendar.example.com/cleo.ics", now=NOW
    )
    return World(
        provider=provider,
        cleo=cleo,
        held=held,
        confirmed=confirmed,
        proposed=proposed,
        scheduled=scheduled,
        elsewhere=elsewhere,
        candidates=list(CandidateSlot.objects.filter(event=proposed).order_by("start")),
        spare_token=spare_token,
        time_off=make_time_off(user=cleo, start=at(15, 9), end=at(15, 17)),
        feed=feed,
        window=window,
        expired=expired,
        bearer={
            "anonymous": None,
            "other_client": token_of(sam),
            "owning_client": token_of(cleo),
            "provider": token_of(provider.user),
            "organizer": token_of(olga),
            "party_link": party_link,
            "other_event_link": other_event_link,
            "expired_link": expired_link,
            "staff": token_of(root),
            "read_only_token": api_token_create(
                actor=actor_for(cleo), name="read-only", scope="READ_ONLY"
            )[1],
        },
        scheduled_link=scheduled_link,
        connection=connection,
        webhook=webhook,
        delivery=WebhookDelivery.objects.filter(webhook=webhook).earliest("id"),
    )


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """The world, built once for the module in a transaction that is rolled back after it
    (like TestCase.setUpTestData): each test's own transaction is a savepoint inside it, so
    what a test's mutation changes is undone before the next test."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer._from_testcase = True  # as TestCase marks its own: durable blocks may nest in it
        outer.__enter__()
        try:
            built = build_world()
        except BaseException:
            outer.__exit__(*sys.exc_info())
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


PERSONAS = (
    "anonymous",  # no token, a browser's CSRF token
    "other_client",  # Sam: a client with nothing to do with Cleo's things (organises Elsewhere)
    "owning_client",  # Cleo: client of the bookings, party to Olga's events, owner of the rest
    "provider",  # Pat: provider of Cleo's bookings, on no event
    "organizer",  # Olga: organises Planning and Standup
    "party_link",  # Quinn's link to the operation's event (Planning unless it targets Standup)
    "other_event_link",  # Quinn's link to Sam's Elsewhere
    "expired_link",  # Cleo's link to Planning, expired
    "staff",  # root
    "read_only_token",  # Cleo's READ_ONLY API token: her queries, no mutation at all
)

# --- expectations -----------------------------------------------------------------------------

DEAD = "HTTP 401"  # the request is refused before GraphQL runs
OK = "OK"  # data (a query: some; a mutation: its result, not OperationInfo)
EMPTY = "EMPTY"  # a query answered, with nothing in it
UNAUTH = "UNAUTHENTICATED"
DENIED = "PERMISSION_DENIED"
NOT_FOUND = "NOT_FOUND"
READ_ONLY = "READ_ONLY_TOKEN"


@dataclass(frozen=True)
class Sees:
    """A query answered with exactly this (`Operation.show` of the data)."""

    shown: Any


def expect(default: object = None, **by_persona: object) -> dict[str, object]:
    """One outcome per persona: those named, `default` for the others; an expired link is
    always HTTP 401."""
    outcomes = {persona: by_persona.get(persona, default) for persona in PERSONAS}
    outcomes["expired_link"] = by_persona.get("expired_link", DEAD)
    # Cleo reading with a read-only token sees what she sees (mutations: see `mutation`).
    outcomes["read_only_token"] = by_persona.get("read_only_token", outcomes["owning_client"])
    missing = [persona for persona, outcome in outcomes.items() if outcome is None]
    assert not missing, f"no outcome for {missing}"
    return outcomes


# Signed in with an API token: the common shape of "any signed-in user" operations.
def signed_in(ok: object = OK, **more: object) -> dict[str, object]:
    return expect(
        ok,
        anonymous=UNAUTH,
        party_link=DENIED,
        other_event_link=DENIED,
        **more,
    )


PUBLIC = expect(OK)


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    variables: Callable[[World], dict[str, Any]]
    outcomes: dict[str, object]
    # What a query's data shows (compared with Sees, truthy for OK, falsy for EMPTY).
    show: Callable[[Any], Any] = field(default=lambda data: data)
    mutation: bool = False
    on_scheduled: bool = False  # party_link uses Quinn's link to Standup


RESULT = "{ __typename ... on OperationInfo { messages { code } } }"


def mutation(
    name: str,
    arguments: str,
    variables: Callable[[World], dict[str, Any]],
    outcomes: dict[str, object],
    *,
    declare: str = "",
    on_scheduled: bool = False,
) -> Operation:
    """A mutation document selecting only whether it worked, and the codes when not."""
    header = f"({declare})" if declare else ""
    call = f"({arguments})" if arguments else ""
    return Operation(
        name=name,
        document=f"mutation M{header} {{ {name}{call} {RESULT} }}",
        variables=variables,
        outcomes={**outcomes, "read_only_token": READ_ONLY},
        mutation=True,
        on_scheduled=on_scheduled,
    )


def nodes(data: dict[str, Any], key: str = "id") -> list[Any]:
    return [edge["node"][key] for edge in data["edges"]]


def none(world: World) -> dict[str, Any]:
    return {}


def reservation_id(world: World) -> dict[str, Any]:
    return {"id": gid("Reservation", world.held.pk)}


def proposed_id(world: World) -> dict[str, Any]:
    return {"id": gid("Event", world.proposed.pk)}


def scheduled_id(world: World) -> dict[str, Any]:
    return {"id": gid("Event", world.scheduled.pk)}


def scheduled_event_id(world: World) -> dict[str, Any]:
    return {"eventId": gid("Event", world.scheduled.pk)}


def candidate(world: World, index: int) -> str:
    return gid("CandidateSlot", world.candidates[index].pk)


# Who may act on an event, as the event services decide it: the people on it (signed in, or
# a link to this event), staff looking but not taking part, anyone else NOT_FOUND.
ON_PROPOSED = {
    "anonymous": UNAUTH,
    "other_client": NOT_FOUND,
    "provider": NOT_FOUND,
    "other_event_link": DENIED,
    "staff": DENIED,
}
ORGANIZER_ONLY = expect(
    DENIED, organizer=OK, anonymous=UNAUTH, other_client=NOT_FOUND, provider=NOT_FOUND
)

QUERIES = [
    Operation(
        "me",
        "{ me { email } }",
        none,
        # A link holder is not signed in: the link grants one event, not an identity.
        expect(
            OK,
            anonymous=EMPTY,
            party_link=EMPTY,
            other_event_link=EMPTY,
        ),
        show=lambda data: data and data["email"],
    ),
    Operation(
        "apiTokens",
        "{ apiTokens { edges { node { name } } } }",
        none,
        signed_in(Sees(["test"]), owning_client=Sees(["read-only", "spare", "test"])),
        show=lambda data: sorted(nodes(data, "name")),
    ),
    Operation(
        "providers",
        "{ providers { edges { node { name } } } }",
        none,
        PUBLIC,
        show=lambda data: nodes(data, "name"),
    ),
    Operation(
        "bookingRules",
        "query Q($id: ID!) { bookingRules(providerId: $id) { slotLengthMinutes } }",
        lambda w: {"id": gid("Provider", w.provider.pk)},
        PUBLIC,
    ),
    Operation(
        "availableSlots",
        "query Q($id: ID!, $start: DateTime!, $end: DateTime!) {"
        " availableSlots(providerId: $id, start: $start, end: $end) { start } }",
        lambda w: {
            "id": gid("Provider", w.provider.pk),
            "start": iso(at(9, 0)),
            "end": iso(at(10, 0)),
        },
        PUBLIC,
    ),
    Operation(
        "reservations",
        "{ reservations { edges { node { start status } } } }",
        none,
        signed_in(
            EMPTY,
            owning_client=Sees(["HELD", "CONFIRMED"]),
            provider=Sees(["HELD", "CONFIRMED"]),
            staff=Sees(["HELD", "CONFIRMED"]),
        ),
        show=lambda data: nodes(data, "status"),
    ),
    Operation(
        "reservation",
        "query Q($id: ID!) { reservation(id: $id) { status } }",
        reservation_id,
        signed_in(NOT_FOUND, owning_client=OK, provider=OK, staff=OK),
    ),
    Operation(
        "availabilityWindows",
        "{ availabilityWindows { edges { node { start } } } }",
        none,
        signed_in(DENIED, provider=Sees([iso(at(12, 9))])),
        show=lambda data: nodes(data, "start"),
    ),
    Operation("workingHours", "{ workingHours { timeZone } }", none, signed_in(OK)),
    Operation(
        "timeOff",
        "{ timeOff { edges { node { start } } } }",
        none,
        signed_in(EMPTY, owning_client=Sees([iso(at(15, 9))])),
        show=lambda data: nodes(data, "start"),
    ),
    Operation(
        "auditLog",
        "query Q($id: ID!) { auditLog(subjectId: $id) { edges { node { action } } } }",
        reservation_id,
        # Not involved: an empty history, exactly as for an ID that does not exist.
        signed_in(
            EMPTY,
            owning_client=Sees(["reservation.create"]),
            provider=Sees(["reservation.create"]),
            staff=Sees(["reservation.create"]),
        ),
        show=lambda data: nodes(data, "action"),
    ),
    Operation(
        "event",
        "query Q($id: ID!) { event(id: $id) { title } }",
        proposed_id,
        expect(OK, **ON_PROPOSED | {"staff": OK}),
    ),
    Operation(
        "events",
        "{ events { edges { node { title } } } }",
        none,
        signed_in(
            EMPTY,
            other_client=Sees(["Elsewhere"]),
            owning_client=Sees(["Planning", "Standup"]),
            organizer=Sees(["Planning", "Standup"]),
        ),
        show=lambda data: sorted(nodes(data, "title")),
    ),
    Operation(
        "eventLog",
        "query Q($id: ID!) { eventLog(id: $id) { totalCount } }",
        proposed_id,
        expect(OK, **ON_PROPOSED | {"staff": OK}),
        show=lambda data: data["totalCount"],
    ),
    Operation(
        "calendarFeeds",
        "{ calendarFeeds { totalCount } }",
        none,
        signed_in(EMPTY, owning_client=Sees(1)),
        show=lambda data: data["totalCount"],
    ),
    Operation(
        "calendarConnections",
        "{ calendarConnections { totalCount } }",
        none,
        signed_in(EMPTY, owning_client=Sees(1)),
        show=lambda data: data["totalCount"],
    ),
    Operation(
        "calendarWritebackProblems",
        "{ calendarWritebackProblems { uid } }",
        none,
        signed_in(EMPTY),
        show=len,
    ),
    Operation(
        "occurrences",
        "query Q($start: DateTime!, $end: DateTime!) {"
        " occurrences(start: $start, end: $end) { items { title } } }",
        lambda w: {"start": iso(at(7, 0)), "end": iso(at(31, 0))},
        signed_in(EMPTY, owning_client=Sees(3), organizer=Sees(3)),  # 14th, 21st, 28th
        show=lambda data: len(data["items"]),
    ),
    Operation(
        "freeTime",
        "query Q($users: [String!]!, $start: DateTime!, $end: DateTime!) {"
        " freeTime(users: $users, start: $start, end: $end, durationMinutes: 60) { start } }",
        lambda w: {"users": [w.cleo.email], "start": iso(at(8, 0)), "end": iso(at(9, 0))},
        # Cleo's free/busy: herself and her contacts (Olga: events, Pat: bookings); anyone
        # else NOT_FOUND, as for an address with no account
        signed_in(NOT_FOUND, owning_client=OK, organizer=OK, provider=OK),
    ),
    Operation(
        "freeTimePage",
        "query Q($users: [String!]!, $start: DateTime!, $end: DateTime!) {"
        " freeTimePage(users: $users, start: $start, end: $end, durationMinutes: 60)"
        " { items { start } } }",
        lambda w: {"users": [w.cleo.email], "start": iso(at(8, 0)), "end": iso(at(9, 0))},
        signed_in(NOT_FOUND, owning_client=OK, organizer=OK, provider=OK),  # as freeTime
    ),
    Operation("freeBusySharing", "{ freeBusySharing }", none, signed_in(OK)),
    Operation(
        "channelAddresses",
        "{ channelAddresses { channel address } }",
        none,
        signed_in(EMPTY, owning_client=Sees([{"channel": "TELEGRAM", "address": "12345678"}])),
    ),
    Operation(
        "eventReminders",
        "query Q($eventId: ID!) { eventReminders(eventId: $eventId) { offsetMinutes } }",
        scheduled_event_id,
        ORGANIZER_ONLY | {"staff": NOT_FOUND},
        on_scheduled=True,
    ),
    Operation(
        "eventReminderDeliveries",
        "query Q($eventId: ID!) { eventReminderDeliveries(eventId: $eventId) { totalCount } }",
        scheduled_event_id,
        ORGANIZER_ONLY | {"staff": NOT_FOUND},
        show=lambda data: data["totalCount"],
        on_scheduled=True,
    ),
    Operation(
        "node",
        "query Q($id: ID!) { node(id: $id) { id } }",
        reservation_id,
        # As `reservation` answers, except that whoever may not see it gets null, not an error
        expect(EMPTY, owning_client=OK, provider=OK, staff=OK),
        show=lambda data: data and data["id"],
    ),
    Operation(
        "nodes",
        "query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        lambda w: {"ids": [gid("Reservation", w.held.pk), gid("Event", w.proposed.pk)]},
        # Each as `node` (and so as `reservation` and `event`) would answer it
        expect(
            Sees([False, False]),
            owning_client=Sees([True, True]),
            provider=Sees([True, False]),
            organizer=Sees([False, True]),
            party_link=Sees([False, True]),
            staff=Sees([True, True]),
        ),
        show=lambda data: [item is not None for item in data],
    ),
    Operation(
        "deletedSince",
        "query Q($since: DateTime!) { deletedSince(since: $since) { totalCount } }",
        lambda w: {"since": iso(NOW - timedelta(days=1))},
        signed_in(EMPTY),  # nothing was deleted in the world
        show=lambda data: data["totalCount"],
    ),
    Operation(
        "webhooks",
        "{ webhooks { totalCount } }",
        none,
        signed_in(EMPTY, owning_client=Sees(1)),
        show=lambda data: data["totalCount"],
    ),
    Operation(
        "webhookDeliveries",
        "query Q($id: ID!) { webhookDeliveries(webhookId: $id) { totalCount } }",
        lambda w: {"id": gid("Webhook", w.webhook.pk)},
        # Cleo's hold and booking created, the booking confirmed, Planning proposed to her
        signed_in(NOT_FOUND, owning_client=Sees(4)),
        show=lambda data: data["totalCount"],
    ),
]

SIGNED_IN_OWN = signed_in(OK)

MUTATIONS = [
    mutation(
        "accountRegister",
        'email: "new@example.com", password: "a long new password"',
        none,
        expect(OK),  # open to anyone; a Bearer request is simply not signed in by it
    ),
    mutation(
        "accountActivate",
        'password: "a long new password"',
        none,
        # Only a live link of an invited-only address: either of Quinn's links proves her
        # address.
        expect(DENIED, party_link=OK, other_event_link=OK),
    ),
    mutation(
        "login",
        "email: $email, password: $password",
        lambda w: {"email": w.cleo.email, "password": PASSWORD},
        expect(DENIED, anonymous=OK),  # a session, never from a Bearer request
        declare="$email: String!, $password: String!",
    ),
    mutation("logout", "", none, expect(DENIED, anonymous=OK)),
    mutation("apiTokenCreate", 'name: "more"', none, SIGNED_IN_OWN),
    mutation(
        "apiTokenObtain",
        'email: $email, password: $password, name: "app"',
        lambda w: {"email": w.cleo.email, "password": PASSWORD},
        expect(OK),  # whoever knows Cleo's password, with or without a token of their own
        declare="$email: String!, $password: String!",
    ),
    mutation(
        "apiTokenRevoke",
        "id: $id",
        lambda w: {"id": gid("ApiToken", w.spare_token.pk)},
        signed_in(NOT_FOUND, owning_client=OK),
        declare="$id: ID!",
    ),
    mutation(
        "availabilityBulkCreate",
        "windows: [{start: $start, end: $end}]",
        lambda w: {"start": iso(at(13, 9)), "end": iso(at(13, 12))},
        signed_in(DENIED, provider=OK),
        declare="$start: DateTime!, $end: DateTime!",
    ),
    mutation(
        "availabilityDelete",
        "ids: [$id]",
        lambda w: {"id": gid("AvailabilityWindow", w.window.pk)},
        signed_in(DENIED, provider=OK),
        declare="$id: ID!",
    ),
    mutation(
        "workingHoursSet",
        'hours: [{weekday: MONDAY, start: "09:00", end: "17:00"}]',
        none,
        SIGNED_IN_OWN,
    ),
    mutation("freeBusySharingSet", "sharing: NOBODY", none, SIGNED_IN_OWN),
    mutation(
        "timeOffCreate",
        "start: $start, end: $end",
        lambda w: {"start": iso(at(16, 9)), "end": iso(at(16, 12))},
        SIGNED_IN_OWN,
        declare="$start: DateTime!, $end: DateTime!",
    ),
    mutation(
        "timeOffDelete",
        "id: $id",
        lambda w: {"id": gid("TimeOff", w.time_off.pk)},
        signed_in(NOT_FOUND, owning_client=OK),
        declare="$id: ID!",
    ),
    mutation(
        "reservationCreate",
        "input: {providerId: $id, start: $start}",
        lambda w: {"id": gid("Provider", w.provider.pk), "start": iso(at(9, 9))},
        signed_in(DENIED, other_client=OK, owning_client=OK),  # clients only
        declare="$id: ID!, $start: DateTime!",
    ),
    mutation(
        "reservationConfirm",
        "id: $id",
        reservation_id,
        # Pat and staff see the hold, but only its client confirms it.
        signed_in(NOT_FOUND, owning_client=OK, provider=DENIED, staff=DENIED),
        declare="$id: ID!",
    ),
    mutation(
        "reservationCancel",
        "id: $id",
        lambda w: {"id": gid("Reservation", w.confirmed.pk)},
        signed_in(NOT_FOUND, owning_client=OK, provider=OK, staff=OK),
        declare="$id: ID!",
    ),
    mutation(
        "reservationReschedule",
        "id: $id, start: $start",
        lambda w: {"id": gid("Reservation", w.confirmed.pk), "start": iso(at(9, 10))},
        signed_in(NOT_FOUND, owning_client=OK, provider=OK, staff=OK),
        declare="$id: ID!, $start: DateTime!",
    ),
    mutation(
        "eventPropose",
        "input: {parties: [$party], slots: [{start: $start, durationMinutes: 60}]}",
        lambda w: {"party": "zed@example.com", "start": iso(at(11, 9))},
        SIGNED_IN_OWN,
        declare="$party: String!, $start: DateTime!",
    ),
    mutation(
        "eventNarrow",
        "id: $id, keepSlotIds: $keep, expectedVersion: 1",
        lambda w: proposed_id(w) | {"keep": [candidate(w, 0), candidate(w, 1)]},
        expect(OK, **ON_PROPOSED),
        declare="$id: ID!, $keep: [ID!]!",
    ),
    mutation(
        "eventExtend",
        "id: $id, slots: [{start: $start, durationMinutes: 60}], expectedVersion: 1",
        lambda w: proposed_id(w) | {"start": iso(at(10, 15))},
        ORGANIZER_ONLY,
        declare="$id: ID!, $start: DateTime!",
    ),
    mutation(
        "eventVote",
        "id: $id, votes: [{slotId: $slot, answer: YES}]",
        lambda w: proposed_id(w) | {"slot": candidate(w, 0)},
        expect(OK, **ON_PROPOSED),
        declare="$id: ID!, $slot: ID!",
    ),
    mutation(
        "eventAgree",
        "id: $id, slotId: $slot, expectedVersion: 1",
        lambda w: proposed_id(w) | {"slot": candidate(w, 0)},
        ORGANIZER_ONLY,
        declare="$id: ID!, $slot: ID!",
    ),
    mutation(
        "eventCancel",
        "id: $id",
        proposed_id,
        ORGANIZER_ONLY,
        declare="$id: ID!",
    ),
    mutation(
        "eventDelete",
        "id: $id",
        proposed_id,
        signed_in(DENIED, staff=OK),
        declare="$id: ID!",
    ),
    mutation(
        "eventNotify",
        "id: $id, parties: [$party], expectedVersion: 1",
        lambda w: proposed_id(w) | {"party": w.cleo.email},
        expect(OK, **ON_PROPOSED),
        declare="$id: ID!, $party: String!",
    ),
    mutation(
        "eventAccessTokenRevoke",
        "id: $id",
        lambda w: {"id": gid("EventAccessToken", w.expired.pk)},
        # Cleo's link: she and the event's organizer may kill it; staff are not asked.
        signed_in(NOT_FOUND, owning_client=OK, organizer=OK),
        declare="$id: ID!",
    ),
    mutation("calendarFeedCreate", "", none, SIGNED_IN_OWN),
    mutation(
        "webhookCreate",
        'input: {url: "https://hooks.example.com/new", events: [RESERVATION_CREATED]}',
        none,
        SIGNED_IN_OWN,
    ),
    mutation(
        "webhookUpdate",
        "id: $id, input: {active: false}",
        lambda w: {"id": gid("Webhook", w.webhook.pk)},
        signed_in(NOT_FOUND, owning_client=OK),
        declare="$id: ID!",
    ),
    mutation(
        "webhookDelete",
        "id: $id",
        lambda w: {"id": gid("Webhook", w.webhook.pk)},
        signed_in(NOT_FOUND, owning_client=OK),
        declare="$id: ID!",
    ),
    mutation(
        "webhookRedeliver",
        "id: $id",
        lambda w: {"id": gid("WebhookDelivery", w.delivery.pk)},
        signed_in(NOT_FOUND, owning_client=OK),
        declare="$id: ID!",
    ),
    mutation(
        "calendarConnectionCreate",
        'kind: ICS, url: "https://calendar.example.com/other.ics"',
        none,
        SIGNED_IN_OWN,
    ),
    mutation(
        "externalCalendarUpdate",
        "id: $id, busy: false",
        lambda w: {"id": gid("ExternalCalendar", w.connection.calendars.get().pk)},
        signed_in(NOT_FOUND, owning_client=OK),
        declare="$id: ID!",
    ),
    mutation(
        "calendarConnectionSync",
        "id: $id",
        lambda w: {"id": gid("CalendarConnection", w.connection.pk)},
        signed_in(NOT_FOUND, owning_client=OK),
        declare="$id: ID!",
    ),
    mutation(
        "calendarConnectionDelete",
        "id: $id",
        lambda w: {"id": gid("CalendarConnection", w.connection.pk)},
        signed_in(NOT_FOUND, owning_client=OK),
        declare="$id: ID!",
    ),
    mutation(
        "calendarFeedRevoke",
        "id: $id",
        lambda w: {"id": gid("CalendarFeed", w.feed.pk)},
        signed_in(NOT_FOUND, owning_client=OK),
        declare="$id: ID!",
    ),
    mutation(
        "eventCreate",
        'input: {title: "Lunch", start: $start, end: $end, timeZone: "UTC"}',
        lambda w: {"start": iso(at(17, 12)), "end": iso(at(17, 13))},
        SIGNED_IN_OWN,
        declare="$start: DateTime!, $end: DateTime!",
    ),
    mutation(
        "eventUpdate",
        'id: $id, input: {title: "Renamed"}, expectedVersion: 1',
        scheduled_id,
        ORGANIZER_ONLY,
        declare="$id: ID!",
        on_scheduled=True,
    ),
    mutation(
        "occurrenceCancel",
        "id: $id, occurrenceStart: $at, expectedVersion: 1",
        lambda w: scheduled_id(w) | {"at": iso(at(21, 9))},
        ORGANIZER_ONLY,
        declare="$id: ID!, $at: DateTime!",
        on_scheduled=True,
    ),
    mutation(
        "eventRespond",
        "id: $id, decision: YES",
        scheduled_id,
        # The organizer passes the access check and is then told they cannot answer.
        expect(OK, **ON_PROPOSED | {"organizer": "INVALID_INPUT"}),
        declare="$id: ID!",
        on_scheduled=True,
    ),
    mutation(
        "workingHoursSetRanges",
        'ranges: [{first: MONDAY, last: FRIDAY, start: "09:00", end: "17:00"}]',
        none,
        SIGNED_IN_OWN,
    ),
    mutation("channelAddressSet", 'channel: SMS, address: "+4915112345678"', none, SIGNED_IN_OWN),
    mutation("channelAddressDelete", "channel: TELEGRAM", none, SIGNED_IN_OWN),
    mutation(
        "eventRemindersSet",
        "eventId: $id, reminders: [{offsetMinutes: 30, channel: EMAIL}]",
        scheduled_id,
        ORGANIZER_ONLY | {"staff": NOT_FOUND},
        declare="$id: ID!",
        on_scheduled=True,
    ),
    # --- issue 11: series, coach assignments, slugs ---
    mutation(
        "reservationSeriesCreate",
        "input: {providerId: $p, start: $start, everyWeeks: 1, count: 2}",
        lambda w: {"p": gid("Provider", w.provider.pk), "start": iso(at(9, 10))},
        signed_in(DENIED, owning_client=OK, other_client=OK),
        declare="$p: ID!, $start: DateTime!",
    ),
    mutation(
        "reservationSeriesCancel",
        "id: $id",
        reservation_id,  # not part of a series: nobody learns more than NOT_FOUND
        signed_in(NOT_FOUND),
        declare="$id: ID!",
    ),
    *(
        mutation(
            name,
            "providerId: $p, clientId: $c",
            lambda w: {
                "p": gid("Provider", w.provider.pk),
                "c": gid("Client", w.cleo.client.pk),
            },
            signed_in(NOT_FOUND, provider=OK, staff=OK),
            declare="$p: ID!, $c: ID!",
        )
        for name in ("coachClientAssign", "coachClientUnassign")
    ),
    mutation(
        "providerSlugSet",
        'providerId: $p, slug: "pat-new"',
        lambda w: {"p": gid("Provider", w.provider.pk)},
        signed_in(NOT_FOUND, provider=OK, staff=OK),
        declare="$p: ID!",
    ),
]

OPERATIONS = {operation.name: operation for operation in QUERIES + MUTATIONS}
assert len(OPERATIONS) == len(QUERIES) + len(MUTATIONS), "an operation is listed twice"

# --- running one case -------------------------------------------------------------------------


def send(world: World, operation: Operation, persona: str) -> HttpResponse:
    secret = world.bearer[persona]
    if persona == "party_link" and operation.on_scheduled:
        secret = world.scheduled_link
    return post_graphql(
        HttpClient(enforce_csrf_checks=True),
        operation.document,
        operation.variables(world),
        token=secret,
    )


def observed(response: HttpResponse, operation: Operation) -> object:
    """What came back, in the terms of the expectations."""
    if response.status_code == 401:
        assert response.json()["errors"][0]["extensions"]["code"] == UNAUTH
        return DEAD
    assert response.status_code == 200, response.content
    body = response.json()
    if body.get("errors"):
        codes = {error["extensions"]["code"] for error in body["errors"]}
        assert all(error["path"] == [operation.name] for error in body["errors"]), body
        assert body["data"] is None, body
        return codes.pop() if len(codes) == 1 else sorted(codes)
    data = body["data"][operation.name]
    if operation.mutation:
        if data["__typename"] == "OperationInfo":
            codes = {message["code"] for message in data["messages"]}
            return codes.pop() if len(codes) == 1 else sorted(codes)
        return OK
    return Sees(operation.show(data))


def matches(outcome: object, expected: object) -> bool:
    if isinstance(outcome, Sees) and expected == OK:
        return bool(outcome.shown)
    if isinstance(outcome, Sees) and expected == EMPTY:
        return not outcome.shown
    return outcome == expected


CASES = [
    pytest.param(name, persona, id=f"{name}-{persona}")
    for name in OPERATIONS
    for persona in PERSONAS
]


@pytest.mark.parametrize(("name", "persona"), CASES)
def test_who_gets_what(db: None, world: World, name: str, persona: str) -> None:
    # Given the world and one caller
    operation = OPERATIONS[name]
    expected = operation.outcomes[persona]

    # When they run the operation
    outcome = observed(send(world, operation, persona), operation)

    # Then they get exactly what the matrix says
    assert matches(outcome, expected), f"{name} as {persona}: got {outcome}, expected {expected}"


# --- completeness -----------------------------------------------------------------------------


def schema_operations() -> set[str]:
    """Every Query and Mutation field, of the code's schema and of the checked-in SDL."""
    names = set()
    for source in (schema._schema, graphql.build_schema(SCHEMA_FILE.read_text())):
        names |= set(source.query_type.fields) | set(source.mutation_type.fields)
    return names


# Subscriptions run over the WebSocket (api/tests/test_subscriptions_live.py checks them live):
# each one checks permissions with the selector or service of the query it mirrors, so its
# row of the matrix is that query's.
SUBSCRIPTION_MIRRORS = {
    "availableSlotsChanged": "availableSlots",  # slot_state + require_may_list_slots
    "reservationChanged": "reservations",  # require_user; own reservations only
    "eventChanged": "event",  # event_view (a link opens its own event)
}


def test_every_subscription_mirrors_a_query_of_the_matrix() -> None:
    in_schema = set()
    for source in (schema._schema, graphql.build_schema(SCHEMA_FILE.read_text())):
        in_schema |= set(source.subscription_type.fields)
    assert in_schema == set(SUBSCRIPTION_MIRRORS)
    assert set(SUBSCRIPTION_MIRRORS.values()) <= set(OPERATIONS)


def test_the_matrix_covers_every_operation_of_the_schema() -> None:
    in_schema = schema_operations()
    missing = sorted(in_schema - set(OPERATIONS))
    gone = sorted(set(OPERATIONS) - in_schema)
    assert not missing, f"operations not in the authorization matrix: {', '.join(missing)}"
    assert not gone, f"the matrix lists operations the schema no longer has: {', '.join(gone)}"
    for operation in OPERATIONS.values():
        assert set(operation.outcomes) == set(PERSONAS), operation.name


# --- guessing IDs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """Ask `operation` about every `type_name` ID in turn, as `persona`, with the ID in the
    variable `key`; `own` are the persona's own objects (left out: they may be seen)."""

    operation: str
    type_name: str
    model: type
    key: str = "id"
    persona: str = "other_client"
    own: Callable[[World], set[int]] = field(default=lambda world: set())


def sams(world: World) -> set[int]:
    """Sam's event: his to see."""
    return {world.elsewhere.pk}


def sams_tokens(world: World) -> set[int]:
    return set(ApiToken.objects.filter(user__email="sam@example.com").values_list("pk", flat=True))


PROBES = [
    Probe("reservation", "Reservation", Reservation),
    Probe("auditLog", "Reservation", Reservation),
    Probe("auditLog", "ApiToken", ApiToken, own=sams_tokens),
    Probe("auditLog", "Provider", Provider),
    Probe("auditLog", "User", User, own=lambda w: {User.objects.get(email="sam@example.com").pk}),
    Probe("event", "Event", Event, own=sams),
    Probe("event", "Event", Event, persona="other_event_link", own=sams),
    Probe("eventLog", "Event", Event, own=sams),
    Probe("eventLog", "Event", Event, persona="other_event_link", own=sams),
    Probe("eventReminders", "Event", Event, key="eventId", own=sams),
    Probe("eventReminderDeliveries", "Event", Event, key="eventId", own=sams),
    Probe("node", "Reservation", Reservation),
    Probe("node", "Event", Event, own=sams),
    Probe("node", "Event", Event, persona="other_event_link", own=sams),
    Probe("node", "ApiToken", ApiToken, own=sams_tokens),
    Probe("node", "TimeOff", TimeOff),
    Probe("node", "CalendarFeed", CalendarFeed),
    Probe("node", "AvailabilityWindow", AvailabilityWindow),
    Probe("node", "User", User, own=lambda w: {User.objects.get(email="sam@example.com").pk}),
    Probe(
        "node",
        "EventAccessToken",
        EventAccessToken,
        own=lambda w: set(w.elsewhere.access_tokens.values_list("pk", flat=True)),
    ),
    Probe("reservationConfirm", "Reservation", Reservation),
    Probe("reservationCancel", "Reservation", Reservation),
    Probe("reservationReschedule", "Reservation", Reservation),
    Probe("apiTokenRevoke", "ApiToken", ApiToken, own=sams_tokens),
    Probe("timeOffDelete", "TimeOff", TimeOff),
    Probe("calendarFeedRevoke", "CalendarFeed", CalendarFeed),
    Probe("webhookDeliveries", "Webhook", Webhook),
    Probe("webhookUpdate", "Webhook", Webhook),
    Probe("webhookDelete", "Webhook", Webhook),
    Probe("webhookRedeliver", "WebhookDelivery", WebhookDelivery),
    Probe("calendarConnectionSync", "CalendarConnection", CalendarConnection),
    Probe("calendarConnectionDelete", "CalendarConnection", CalendarConnection),
    Probe("externalCalendarUpdate", "ExternalCalendar", ExternalCalendar),
    Probe(
        "eventAccessTokenRevoke",
        "EventAccessToken",
        EventAccessToken,
        own=lambda w: set(w.elsewhere.access_tokens.values_list("pk", flat=True)),
    ),
    Probe("eventNarrow", "Event", Event, own=sams),
    Probe("eventNarrow", "Event", Event, persona="other_event_link", own=sams),
    Probe("eventVote", "Event", Event, own=sams),
    Probe("eventExtend", "Event", Event, own=sams),
    Probe("eventAgree", "Event", Event, own=sams),
    Probe("eventCancel", "Event", Event, own=sams),
    Probe("eventNotify", "Event", Event, own=sams),
    Probe("eventNotify", "Event", Event, persona="other_event_link", own=sams),
    Probe("eventUpdate", "Event", Event, own=sams),
    Probe("occurrenceCancel", "Event", Event, own=sams),
    Probe("eventRespond", "Event", Event, own=sams),
    Probe("eventRespond", "Event", Event, persona="other_event_link", own=sams),
    Probe("eventRemindersSet", "Event", Event, own=sams),
]


def probe_answer(world: World, probe: Probe, pk: int) -> dict[str, Any]:
    """The whole answer (codes and messages) to `probe.operation` about `type_name:pk`."""
    operation = OPERATIONS[probe.operation]
    document = operation.document.replace("messages { code }", "messages { code message field }")
    response = post_graphql(
        HttpClient(enforce_csrf_checks=True),
        document,
        operation.variables(world) | {probe.key: gid(probe.type_name, pk)},
        token=world.bearer[probe.persona],
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    "probe", [pytest.param(p, id=f"{p.operation}-{p.type_name}-{p.persona}") for p in PROBES]
)
def test_guessing_ids_finds_nothing(db: None, world: World, probe: Probe) -> None:
    # Given every ID of the type around those that exist, and one that never will
    pks = list(probe.model.objects.values_list("pk", flat=True))
    guesses = [pk for pk in range(max(1, min(pks) - 2), max(pks) + 3) if pk not in probe.own(world)]
    unknown = probe_answer(world, probe, 2**62)

    # When the persona asks about each of them
    answers = {pk: probe_answer(world, probe, pk) for pk in guesses}

    # Then each answer is the answer about an object that does not exist: no data, same code,
    # same message
    answer = None if unknown.get("errors") else unknown["data"][probe.operation]
    refused = unknown.get("errors") or answer is None or answer.get("messages")
    assert refused or answer["edges"] == [], unknown
    differing = {pk: answer for pk, answer in answers.items() if answer != unknown}
    assert not differing, f"unlike an unknown ID ({unknown}): {differing}"


def test_rescheduling_a_booking_with_a_retired_provider_answers_like_an_unknown_id(
    db: None, world: World
) -> None:
    # Given Cleo's booking with a provider who has since retired
    retired = make_provider(email="ivy@example.com", name="Ivy")
    booking = make_reservation(provider=retired, client=world.confirmed.client, start=at(8, 13))
    Provider.objects.filter(pk=retired.pk).update(is_active=False)
    probe = Probe("reservationReschedule", "Reservation", Reservation)

    # When Sam tries to move it, and a reservation that does not exist
    answer = probe_answer(world, probe, booking.pk)
    unknown = probe_answer(world, probe, 2**62)

    # Then both answers are the same
    assert answer == unknown
