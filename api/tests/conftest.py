"""Fixtures for the API tests: a JSON client for /graphql, a frozen clock, people and tokens."""

import json
import sys
from datetime import datetime, timedelta
from typing import Any, Protocol

import pytest
from django.http import HttpResponse
from django.test import Client as HttpClient
from strawberry.relay import to_base64

from reservation import actors
from reservation.models import Client, Provider, Reservation, ReservationStatus, User
from reservation.services.accounts import api_token_create
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
