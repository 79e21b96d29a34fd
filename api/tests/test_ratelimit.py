"""Rate limits: over its limit an operation is refused with RATE_LIMITED before it runs."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.contrib import auth
from django.test import Client as HttpClient
from django.test import RequestFactory, override_settings
from limits.storage import memory as limits_memory

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
    """`clock(seconds)`: the rate limiter's time (its storage's too), in seconds from a start."""
    start = 1_800_000_000.0

    def set_to(seconds: float) -> None:
        monkeypatch.setattr(ratelimit, "clock", lambda: start + seconds)
        monkeypatch.setattr(limits_memory, "time", SimpleNamespace(time=ratelimit.clock))

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

    clock(61)  # a minute after the last attempt: all of them left the window
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
    clock(3601)  # the first request left the window
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


# --- a moving window, Retry-After, and counts shared through Redis --------------------------


def test_no_burst_fits_across_a_minute_boundary(
    gql: GraphQL, client_profile: Any, password_checks: list[str], clock: Any
) -> None:
    # Ten wrong guesses in the last seconds of a minute...
    clock(50)
    for _ in range(10):
        gql(LOGIN, {"email": "cleo@example.com", "password": "guess"})

    # ...and the next ones just after it (a fixed window would have let ten more through)
    clock(65)
    after_the_boundary = gql(LOGIN, {"email": "cleo@example.com", "password": PASSWORD})
    clock(111)  # a minute after the guesses
    a_minute_later = gql(LOGIN, {"email": "cleo@example.com", "password": PASSWORD})

    assert code_of(after_the_boundary, "login") == "RATE_LIMITED"
    assert after_the_boundary["Retry-After"] == "45"  # when the oldest guess leaves the window
    assert a_minute_later.json() == {"data": {"login": {"email": "cleo@example.com"}}}
    assert len(password_checks) == 11


def test_the_retry_after_counts_down(gql: GraphQL, client_profile: Any, clock: Any) -> None:
    for second in range(10):
        clock(second * 3)  # one guess every 3 seconds, 0..27
        gql(LOGIN, {"email": "cleo@example.com", "password": "guess"})

    clock(30)
    first = gql(LOGIN, {"email": "cleo@example.com", "password": "guess"})
    clock(61)  # the guess at 0 has left; the one at 3 leaves at 63
    second = gql(LOGIN, {"email": "cleo@example.com", "password": "guess"})
    third = gql(LOGIN, {"email": "cleo@example.com", "password": "guess"})

    assert first["Retry-After"] == "30"
    assert code_of(second, "login") == "INVALID_CREDENTIALS"  # a place came free
    assert "Retry-After" not in second
    assert (code_of(third, "login"), third["Retry-After"]) == ("RATE_LIMITED", "2")


@pytest.fixture
def redis_url(tmp_path: Any) -> Any:
    """A private redis-server on a free loopback port (.ci/run installs it)."""
    import shutil
    import socket
    import subprocess
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 - the system's redis-server, fixed arguments
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/2"
    finally:
        server.terminate()
        server.wait(timeout=10)


@limits(login=(10, 60))
def test_counts_are_shared_between_processes_through_redis(
    gql: GraphQL, client_profile: Any, password_checks: list[str], redis_url: str
) -> None:
    import subprocess
    import sys

    # Another process (another gunicorn worker, another host) counts six guesses at Cleo...
    script = (
        "import django; django.setup()\n"
        "from api import ratelimit\n"
        "print([ratelimit.hit('login', ['email:cleo@example.com']) for _ in range(6)])\n"
    )
    other = subprocess.run(  # noqa: S603 - this interpreter on a fixed script
        [sys.executable, "-c", script],
        env={**__import__("os").environ, "RATE_LIMIT_STORAGE_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert other.stdout.strip() == "[None, None, None, None, None, None]"

    # ...so this one allows four more, then refuses
    with override_settings(RATE_LIMIT_STORAGE_URL=redis_url):
        answers = [
            code_of(gql(LOGIN, {"email": "cleo@example.com", "password": "guess"}), "login")
            for _ in range(5)
        ]

    assert answers == ["INVALID_CREDENTIALS"] * 4 + ["RATE_LIMITED"]
    assert len(password_checks) == 4


def test_an_unreachable_storage_fails_open_with_a_warning(
    gql: GraphQL, client_profile: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:1/2"):
        response = gql(LOGIN, {"email": "cleo@example.com", "password": PASSWORD})

    assert response.json() == {"data": {"login": {"email": "cleo@example.com"}}}
    assert any("storage unavailable" in r.getMessage() for r in caplog.records)
