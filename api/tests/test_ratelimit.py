"""Rate limits: over its limit an operation is refused with RATE_LIMITED before it runs."""

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib import auth
from django.test import Client as HttpClient
from django.test import RequestFactory, override_settings

from api import ratelimit
from api.tests.conftest import GraphQL, gid, iso
from reservation.models import Event, Provider, User
from reservation.tests.factories import NOW, PASSWORD

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    ... on User { email }
    ... on OperationInfo { messages { code } }
  }
}
"""

REGISTER = """
mutation Register($email: String!) {
  accountRegister(email: $email, password: "a long enough passphrase", name: "N") {
    ... on User { email }
    ... on OperationInfo { messages { code } }
  }
}
"""

CREATE = """
mutation Create($input: ReservationCreateInput!) {
  reservationCreate(input: $input) {
    ... on Reservation { id }
    ... on OperationInfo { messages { code } }
  }
}
"""

NOTIFY = """
mutation Notify($id: ID!) {
  eventNotify(id: $id, parties: ["pia@example.com"], expectedVersion: 99, message: "") {
    ... on EventNotifications { notifications { kind } }
    ... on OperationInfo { messages { code } }
  }
}
"""


def limits(**changes: tuple[int, int]) -> Any:
    return override_settings(RATE_LIMITS={**settings.RATE_LIMITS, **changes})


def code_of(response: Any, field: str) -> str | None:
    """The code a mutation answered with (None on success)."""
    result = response.json()["data"][field]
    messages = result.get("messages")
    return messages[0]["code"] if messages else None


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The e-mail of every password check made (auth.authenticate still runs)."""
    checked: list[str] = []
    real = auth.authenticate

    def spy(request: Any, **credentials: Any) -> Any:
        checked.append(credentials["username"])
        return real(request, **credentials)

    monkeypatch.setattr(auth, "authenticate", spy)
    return checked


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """`clock(seconds)`: the rate limiter's time, in seconds after a window starts."""
    start = 1_800_000_000.0  # a multiple of 60 and of 3600

    def set_to(seconds: float) -> None:
        monkeypatch.setattr(ratelimit, "clock", lambda: start + seconds)

    set_to(0)
    return set_to


def test_the_11th_login_in_a_minute_is_refused_without_checking_the_password(
    gql: GraphQL, client_profile: Any, password_checks: list[str], clock: Any
) -> None:
    # Given ten wrong guesses within a minute from one address
    for _ in range(10):
        wrong = gql(LOGIN, {"email": "cleo@example.com", "password": "guess"})
        assert code_of(wrong, "login") == "INVALID_CREDENTIALS"

    # When the eleventh comes, even with the right password
    clock(59)
    eleventh = gql(LOGIN, {"email": "cleo@example.com", "password": PASSWORD})

    # Then it is refused, and the password was not even checked
    assert eleventh.json() == {"data": {"login": {"messages": [{"code": "RATE_LIMITED"}]}}}
    assert len(password_checks) == 10
    assert gql("{ me { email } }").json() == {"data": {"me": None}}


def test_other_addresses_are_unaffected(
    gql: GraphQL, client_profile: Any, stranger: User, password_checks: list[str], clock: Any
) -> None:
    for _ in range(11):
        gql(LOGIN, {"email": "cleo@example.com", "password": "guess"})

    other = gql(LOGIN, {"email": "sam@example.com", "password": PASSWORD}, REMOTE_ADDR="10.0.0.7")

    assert other.json() == {"data": {"login": {"email": "sam@example.com"}}}


def test_one_account_is_limited_across_addresses(
    gql: GraphQL, client_profile: Any, password_checks: list[str], clock: Any
) -> None:
    # Ten guesses at Cleo's password, each from another address
    for i in range(10):
        gql(LOGIN, {"email": "cleo@example.com", "password": "guess"}, REMOTE_ADDR=f"10.0.1.{i}")

    eleventh = gql(
        LOGIN, {"email": " CLEO@example.com", "password": PASSWORD}, REMOTE_ADDR="10.0.2.1"
    )

    assert code_of(eleventh, "login") == "RATE_LIMITED"
    assert len(password_checks) == 10


def test_the_window_resets(
    gql: GraphQL, client_profile: Any, password_checks: list[str], clock: Any
) -> None:
    for _ in range(11):
        gql(LOGIN, {"email": "cleo@example.com", "password": "guess"})

    clock(60)  # the next minute
    response = gql(LOGIN, {"email": "cleo@example.com", "password": PASSWORD})

    assert response.json() == {"data": {"login": {"email": "cleo@example.com"}}}


def test_the_6th_registration_in_a_minute_from_one_address_is_refused(
    gql: GraphQL, clock: Any
) -> None:
    answers = [
        code_of(gql(REGISTER, {"email": f"new{i}@example.com"}), "accountRegister")
        for i in range(6)
    ]
    elsewhere = gql(REGISTER, {"email": "new9@example.com"}, REMOTE_ADDR="10.0.0.9")

    assert answers == [None] * 5 + ["RATE_LIMITED"]
    assert User.objects.filter(email="new5@example.com").exists() is False
    assert code_of(elsewhere, "accountRegister") is None


@limits(reservation_create=(2, 60))
def test_reservation_create_is_limited_per_actor(
    gql: GraphQL, provider: Provider, client_token: str, stranger_token: str, clock: Any
) -> None:
    # A start in the past: each allowed attempt is refused by the service with its own code
    variables = {"input": {"providerId": gid("Provider", provider.pk), "start": iso(NOW)}}

    mine = [code_of(gql(CREATE, variables, token=client_token), "reservationCreate")]
    mine += [code_of(gql(CREATE, variables, token=client_token), "reservationCreate")]
    mine += [code_of(gql(CREATE, variables, token=client_token), "reservationCreate")]
    theirs = code_of(gql(CREATE, variables, token=stranger_token), "reservationCreate")

    assert mine == ["NOTICE_TOO_SHORT", "NOTICE_TOO_SHORT", "RATE_LIMITED"]
    assert theirs == "NOTICE_TOO_SHORT"


@limits(event_notify=(1, 3600))
def test_event_notify_is_limited_per_actor(
    gql: GraphQL, proposed: Event, organizer_token: str, party_token: str, clock: Any
) -> None:
    variables = {"id": gid("Event", proposed.pk)}

    first = gql(NOTIFY, variables, token=organizer_token)
    clock(3599)
    second = gql(NOTIFY, variables, token=organizer_token)
    party = gql(NOTIFY, variables, token=party_token)
    clock(3600)
    next_hour = gql(NOTIFY, variables, token=organizer_token)

    assert code_of(first, "eventNotify") == "STALE_VERSION"
    assert code_of(second, "eventNotify") == "RATE_LIMITED"
    assert code_of(party, "eventNotify") == "STALE_VERSION"
    assert code_of(next_hour, "eventNotify") == "STALE_VERSION"


@limits(event_page=(2, 60))
def test_the_link_page_answers_429_over_its_limit(
    http: HttpClient, proposed: Event, link_for: Callable[[Event, str], str], clock: Any
) -> None:
    url = f"/e/{proposed.pk}/?token={link_for(proposed, 'pia@example.com')}"

    statuses = [http.get(url).status_code for _ in range(3)]
    refused = http.get(url)
    elsewhere = http.get(url, REMOTE_ADDR="10.0.0.3")

    assert statuses == [200, 200, 429]
    assert refused["Content-Type"] == "text/html; charset=utf-8"
    assert refused["Retry-After"] == "60"
    assert b"Too many requests" in refused.content
    assert elsewhere.status_code == 200


@override_settings(RATE_LIMIT_ENABLED=False)
def test_limits_can_be_switched_off(gql: GraphQL, client_profile: Any, clock: Any) -> None:
    answers = {
        code_of(gql(LOGIN, {"email": "cleo@example.com", "password": "guess"}), "login")
        for _ in range(12)
    }

    assert answers == {"INVALID_CREDENTIALS"}


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no trusted proxy: the header is ignored
        (1, "203.0.113.9", "203.0.113.9"),  # nginx appended the client's address
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the left part is the client's lie
        (2, "203.0.113.9, 10.0.0.2", "203.0.113.9"),  # load balancer, then nginx
        (2, "10.0.0.2", "10.0.0.1"),  # fewer entries than proxies: not trusted
        (1, "not-an-ip", "10.0.0.1"),
        (1, "", "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(
    proxies: int, forwarded: str, expected: str
) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        assert ratelimit.client_ip(request) == expected
