"""Fixtures for the API tests: a JSON client for /graphql, a frozen clock, people and tokens."""

import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import pytest
from django.http import HttpResponse
from django.test import Client as HttpClient
from procrastinate.contrib.django.models import ProcrastinateJob
from strawberry.relay import to_base64

from reservation import actors
from reservation.models import (
    AuditEntry,
    CandidateSlot,
    Client,
    Event,
    EventAccessToken,
    Notification,
    Participant,
    Provider,
    Reservation,
    ReservationStatus,
    User,
    Vote,
)
from reservation.services.accounts import api_token_create
from reservation.services.events import SlotInput, event_notify, event_propose
from reservation.tests.caldav_server import _loopback_allowed, radicale  # noqa: F401 - fixtures
from reservation.tests.conftest import _empty_caches  # noqa: F401 - autouse, shared
from reservation.tests.event_factories import deliver
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    make_client,
    make_provider,
    make_reservation,
    make_user,
)

GRAPHQL_URL = "/graphql"


class GraphQL(Protocol):
    def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        csrf: bool = True,
        **extra: str,
    ) -> HttpResponse: ...


def gid(type_name: str, pk: int) -> str:
    """The Relay global ID the API shows for a row."""
    return to_base64(type_name, pk)


def iso(value: datetime) -> str:
    """A datetime as the API serialises it."""
    return value.isoformat()


def errors(response: HttpResponse) -> list[dict[str, Any]]:
    """The top-level errors of a response as {path, code}: the contract (messages may change)."""
    return [
        {"path": error.get("path"), "code": error["extensions"]["code"]}
        for error in response.json()["errors"]
    ]


def csrf_token(http: HttpClient) -> str:
    """The CSRF token a browser would send: GraphiQL's page sets the cookie."""
    if "csrftoken" not in http.cookies:
        page = http.get(GRAPHQL_URL, HTTP_ACCEPT="text/html")
        assert page.status_code == 200
    return http.cookies["csrftoken"].value


def post_graphql(
    http: HttpClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    csrf: bool = True,
    **extra: str,
) -> HttpResponse:
    """POST one GraphQL operation as JSON, like a client does: with `Authorization: Bearer`
    when given a token, else like a browser, with the CSRF token (unless `csrf=False`)."""
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    elif csrf:
        extra["HTTP_X_CSRFTOKEN"] = csrf_token(http)
    return http.post(
        GRAPHQL_URL,
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **extra,
    )


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Every service and selector sees `NOW` (Monday 2030-01-07 08:00 UTC) as the time.

    Services read the clock through `reservation.actors.utcnow`, imported by name; patch it
    wherever it was looked up.
    """
    original = actors.utcnow
    patched = []
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in {"reservation", "api"} and getattr(module, "utcnow", None) is (
            original
        ):
            monkeypatch.setattr(module, "utcnow", lambda: NOW)
            patched.append(name)
    assert "reservation.services.reservations" in patched
    assert "reservation.selectors.booking" in patched
    return NOW


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Rate-limit counts live in the limiter's storage: no test inherits another's requests."""
    from api import ratelimit

    ratelimit.reset()


@pytest.fixture
def http(db: None) -> HttpClient:
    """A test client that, like a browser, gets CSRF checks enforced."""
    return HttpClient(enforce_csrf_checks=True)


@pytest.fixture
def gql(http: HttpClient) -> GraphQL:
    """`gql(document, variables, token=...)` -> the HTTP response."""

    def run(query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> HttpResponse:
        return post_graphql(http, query, variables, **kwargs)

    return run


def token_of(user: User) -> str:
    """A fresh API token secret for `user`."""
    _, secret = api_token_create(actor=actor_for(user), name="test")
    return secret


@pytest.fixture
def provider(db: None) -> Provider:
    """Mon–Fri 09–17 UTC, the default booking policy (60-minute slots, 24 h notice,
    60 days ahead, 30-minute holds, 3 holds per client)."""
    provider = make_provider(email="pat@example.com", name="Pat")
    provider.display_name = "Pat's Practice"
    provider.save(update_fields=["display_name"])
    return provider


@pytest.fixture
def client_profile(db: None) -> Client:
    return make_client(email="cleo@example.com", name="Cleo")


@pytest.fixture
def stranger(db: None) -> User:
    """Signed in, but neither client nor provider of anything here."""
    return make_client(email="sam@example.com", name="Sam").user


@pytest.fixture
def provider_token(provider: Provider) -> str:
    return token_of(provider.user)


@pytest.fixture
def client_token(client_profile: Client) -> str:
    return token_of(client_profile.user)


@pytest.fixture
def stranger_token(stranger: User) -> str:
    return token_of(stranger)


@pytest.fixture
def staff_token(db: None) -> str:
    return token_of(make_user(email="root@example.com", is_staff=True))


@pytest.fixture
def hold(provider: Provider, client_profile: Client) -> Reservation:
    """Cleo's live hold on Tuesday 09:00 (it lapses at NOW + 30 minutes)."""
    return make_reservation(
        provider=provider,
        client=client_profile,
        start=at(8, 9),
        status=ReservationStatus.HELD,
        expires_at=NOW + timedelta(minutes=30),
    )


# --- events ----------------------------------------------------------------------------------


@pytest.fixture
def organizer(db: None) -> User:
    """Olga, who proposes events; her zone is Berlin."""
    return make_user(email="olga@example.com", name="Olga", time_zone="Europe/Berlin")


@pytest.fixture
def organizer_token(organizer: User) -> str:
    return token_of(organizer)


@pytest.fixture
def party(db: None) -> User:
    """Pia, a registered user invited to Olga's event."""
    return make_user(email="pia@example.com", name="Pia")


@pytest.fixture
def party_token(party: User) -> str:
    return token_of(party)


EVENT_STARTS = (at(8, 9), at(8, 10), at(9, 14))


@pytest.fixture
def proposed(organizer: User, party: User) -> Event:
    """Olga's "Planning" (proposed at NOW, version 1) to Pia and quinn@example.com (not
    registered: an inactive user), with one-hour candidates on Tuesday 09:00 and 10:00 and
    a half-hour one on Wednesday 14:00. Nobody has been told yet."""
    return event_propose(
        actor=actor_for(organizer),
        parties=[party.email, "quinn@example.com"],
        slots=[
            SlotInput(start=EVENT_STARTS[0], duration_minutes=60),
            SlotInput(start=EVENT_STARTS[1], duration_minutes=60),
            SlotInput(start=EVENT_STARTS[2], duration_minutes=30),
        ],
        title="Planning",
        description="Next quarter.",
    )


def latest_link(event: Event, email: str) -> str:
    """The secret of the newest link e-mailed to `email` for `event`, read from the mail as
    it arrives (sent now, unless it went already)."""
    notification = (
        Notification.objects.filter(event=event, recipient__email=email, access_token__isnull=False)
        .order_by("-id")
        .first()
    )
    assert notification is not None, f"no link was sent to {email}"
    return deliver(notification)


@pytest.fixture
def link_for() -> Callable[[Event, str], str]:
    """`link_for(event, email)`: the organizer e-mails that person a link (through the
    service); returns the link's secret, as the e-mail shows it."""

    def notify(event: Event, email: str) -> str:
        event.refresh_from_db()
        event_notify(
            actor=actor_for(event.organizer),
            event_id=event.pk,
            parties=[email],
            expected_version=event.version,
        )
        return latest_link(event, email)

    return notify


@pytest.fixture
def event_tables(db: None) -> Callable[[], dict[str, list[Any]]]:
    """`event_tables()`: every row an event write or a send could touch, field by field
    (events, people on them, candidates, votes, links, audit entries, notifications and
    Procrastinate jobs). Equal before and after: nothing was written and nothing sent."""

    def snapshot() -> dict[str, list[Any]]:
        def rows(model: Any, *fields: str) -> list[Any]:
            return list(model.objects.order_by("pk").values_list("pk", *fields))

        return {
            "users": rows(User, "email", "is_active"),
            "events": rows(
                Event, "status", "version", "start", "end", "cancel_reason", "updated_at"
            ),
            "participants": rows(Participant, "event_id", "user_id", "role", "rsvp"),
            "candidates": rows(CandidateSlot, "event_id", "start", "end"),
            "votes": rows(Vote, "candidate_id", "participant_id", "answer"),
            "tokens": rows(EventAccessToken, "event_id", "user_id", "expires_at", "revoked_at"),
            "audit": rows(AuditEntry, "action", "subject_id"),
            "notifications": rows(Notification, "recipient_id", "kind", "status"),
            "jobs": rows(ProcrastinateJob, "task_name", "args"),
        }

    return snapshot
