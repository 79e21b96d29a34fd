"""Each reminder channel against a real server on loopback: the HTTP channels against a
threaded http.server that records what it received, e-mail against the SMTP test server.
Exact method, path, headers and body; the webhook signature recomputed here with hmac.

The SSRF guard on users' URLs (webhook, Slack): every class of non-public address refused
before any request, a name that resolves to one, http and userinfo; the connection goes to
the address that was checked; redirects are not followed. Name resolution is the outside
world, so where a test needs a name to resolve a certain way it fakes socket.getaddrinfo.
"""

import base64
import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pytest_django.fixtures import Settings

from reservation import channels
from reservation.tests.http_receiver import Receiver
from reservation.tests.smtp import Mailbox, send_mail_to, text_body

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
JSON = "application/json"


@pytest.fixture
def receiver(settings: Settings) -> Iterator[Receiver]:
    """The loopback receiver, reachable: REMINDER_ALLOW_PRIVATE_NETWORKS on (local testing)."""
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = True
    server = Receiver().start()
    yield server
    server.stop()


def test_webhook_posts_the_body_signed_over_timestamp_and_body(receiver: Receiver) -> None:
    body = b'{"type":"event.reminder","delivery_id":7}'

    status = channels.send_webhook(
        url=f"{receiver.url}/hooks/rdv?x=1", secret="s3cret", body=body, now=NOW
    )

    assert status == 200
    [request] = receiver.requests
    assert (request.method, request.path, request.body) == ("POST", "/hooks/rdv?x=1", body)
    assert request.headers["content-type"] == JSON
    assert request.headers["x-rendezvous-timestamp"] == "1894003200"
    expected = hmac.new(b"s3cret", b"1894003200." + body, hashlib.sha256).hexdigest()
    assert request.headers["x-rendezvous-signature"] == f"sha256={expected}"
    # A near miss: the same body signed with another secret or timestamp does not match.
    other = hmac.new(b"s3cret", b"1894003201." + body, hashlib.sha256).hexdigest()
    assert request.headers["x-rendezvous-signature"] != f"sha256={other}"


def test_slack_posts_text(receiver: Receiver) -> None:
    channels.send_slack(url=f"{receiver.url}/services/T0/B0/xyz", text="Reminder: Planning")

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/services/T0/B0/xyz")
    assert request.headers["content-type"] == JSON
    assert json.loads(request.body) == {"text": "Reminder: Planning"}


def test_telegram_calls_send_message_with_the_bot_token(
    receiver: Receiver, settings: Settings
) -> None:
    settings.TELEGRAM_API_URL = f"{receiver.url}/tg/"
    settings.TELEGRAM_BOT_TOKEN = "123:ABC"
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False  # the operator's URL is not guarded

    channels.send_telegram(chat_id="-1001234", text="Reminder: Planning")

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/tg/bot123:ABC/sendMessage")
    assert request.headers["content-type"] == JSON
    assert json.loads(request.body) == {"chat_id": "-1001234", "text": "Reminder: Planning"}


def test_telegram_without_a_token_is_refused_before_any_request(
    receiver: Receiver, settings: Settings
) -> None:
    settings.TELEGRAM_API_URL = receiver.url
    settings.TELEGRAM_BOT_TOKEN = ""

    with pytest.raises(channels.ChannelError, match="TELEGRAM_BOT_TOKEN"):
        channels.send_telegram(chat_id="1", text="x")
    assert receiver.requests == []


def test_sms_posts_to_the_gateway_with_basic_auth(receiver: Receiver, settings: Settings) -> None:
    settings.SMS_GATEWAY_URL = f"{receiver.url}/sms/send"
    settings.SMS_GATEWAY_USER = "rdv"
    settings.SMS_GATEWAY_PASSWORD = "pa:ss"
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False  # the operator's URL is not guarded

    channels.send_sms(to="+4915112345678", text="Reminder: Planning")

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/sms/send")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"rdv:pa:ss").decode()
    assert request.headers["content-type"] == JSON
    assert json.loads(request.body) == {"to": "+4915112345678", "text": "Reminder: Planning"}


def test_email_goes_through_django_mail(settings: Settings) -> None:
    mailbox = Mailbox()
    mailbox.start()
    try:
        send_mail_to(settings, mailbox)
        channels.send_email(
            to="ann@example.com",
            subject="Reminder: Planning",
            body="Reminder: Planning starts soon.\n",
            message_id="<reminder-1@mail.test>",
        )
        [message] = mailbox.wait_for(1, timeout=5)
    finally:
        mailbox.stop()
    assert mailbox.recipients == [["ann@example.com"]]
    assert message["Subject"] == "Reminder: Planning"
    assert message["Message-ID"] == "<reminder-1@mail.test>"
    assert text_body(message) == "Reminder: Planning starts soon.\n"


def test_an_error_answer_raises_with_status_and_body(receiver: Receiver) -> None:
    receiver.status = 503

    with pytest.raises(channels.ChannelError) as info:
        channels.send_slack(url=receiver.url, text="x")
    assert str(info.value) == 'HTTP 503 Service Unavailable: {"ok":false}'
    assert len(receiver.requests) == 1


def test_a_receiver_that_is_down_raises_unreachable(receiver: Receiver) -> None:
    receiver.stop()

    with pytest.raises(channels.ChannelError, match=r"^unreachable: "):
        channels.send_slack(url=receiver.url, text="x")


def test_only_http_urls_are_posted_to() -> None:
    for guarded in (True, False):
        with pytest.raises(channels.ChannelError, match="Not an http"):
            channels.post("file:///etc/passwd", body=b"", guarded=guarded)


# --- The SSRF guard --------------------------------------------------------------------------

PUBLIC = "93.184.215.14"  # example.com's address: a public one


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> None:
    """socket.getaddrinfo answering `names` (host -> addresses; a test may change the dict to
    re-point a name) and the real thing for the rest."""
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list:
        if host not in names:
            return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in names[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# (URL with {port} for the receiver's, the reason in the error)
REFUSED = [
    ("https://127.0.0.1:{port}/h", "refused: 127.0.0.1 is a loopback address"),
    ("https://10.0.0.5/h", "refused: 10.0.0.5 is a private address"),
    ("https://192.168.1.1/h", "refused: 192.168.1.1 is a private address"),
    ("https://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local"),
    ("https://[::1]:{port}/h", "refused: ::1 is a loopback address"),
    ("https://[::ffff:127.0.0.1]:{port}/h", r"refused: ::ffff:127.0.0.1 is a loopback"),
    ("https://[fd00::1]/h", "refused: fd00::1 is a private address"),
    ("https://localhost:{port}/h", r"refused: localhost \(127.0.0.1\) is a loopback address"),
    ("https://2130706433:{port}/h", r"refused: 2130706433 \(127.0.0.1\) is a loopback"),
    ("https://0.0.0.0:{port}/h", "refused: 0.0.0.0 is an unspecified address"),
    ("https://224.0.0.1/h", "refused: 224.0.0.1 is a multicast address"),
    ("https://240.0.0.1/h", "refused: 240.0.0.1 is a reserved address"),
    ("https://100.64.0.1/h", "refused: 100.64.0.1 is a non-public address"),
    ("http://127.0.0.1:{port}/h", r"^The URL must start with https://\.$"),
    ("http://hooks.example/h", r"^The URL must start with https://\.$"),
    ("https://user:pw@hooks.example/h", "must not contain a user name or password"),
    ("https://hooks.example@127.0.0.1:{port}/h", "must not contain a user name or password"),
    ("https:///h", "must name a host"),
    ("https://hooks.example:0/h", "port is not a number from 1 to 65535"),
    ("https://hooks.example:99999/h", "port is not a number from 1 to 65535"),
    ("https://hooks.example/a b", "printable ASCII without spaces"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_a_users_url_to_a_non_public_address_is_refused_before_any_request(
    receiver: Receiver, settings: Settings, url: str, reason: str
) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False
    url = url.format(port=receiver.port)

    with pytest.raises(channels.UnsafeAddress, match=reason):
        channels.send_webhook(url=url, secret="k", body=b"{}", now=NOW)
    with pytest.raises(channels.UnsafeAddress, match=reason):
        channels.send_slack(url=url, text="x")
    with pytest.raises(channels.UnsafeAddress, match=reason):
        channels.check_user_url(url)  # the same reason when it is set
    assert receiver.requests == []


def test_a_name_with_any_non_public_address_is_refused(
    receiver: Receiver, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False
    fake_dns(monkeypatch, {"hooks.rdv.test": [PUBLIC, "127.0.0.1"]})

    with pytest.raises(channels.UnsafeAddress, match=r"hooks.rdv.test \(127.0.0.1\)"):
        channels.send_slack(url=f"https://hooks.rdv.test:{receiver.port}/x", text="x")
    assert receiver.requests == []


def test_a_name_re_pointed_after_it_was_set_is_refused_when_sending(
    receiver: Receiver, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False
    names = {"hooks.rdv.test": [PUBLIC]}
    fake_dns(monkeypatch, names)
    url = f"https://hooks.rdv.test:{receiver.port}/x"
    channels.check_user_url(url)  # public when set

    names["hooks.rdv.test"] = ["127.0.0.1"]  # DNS changed since

    with pytest.raises(channels.UnsafeAddress, match="is a loopback address"):
        channels.send_slack(url=url, text="x")
    assert receiver.requests == []


def test_a_name_that_does_not_resolve_passes_when_set_and_fails_when_sent() -> None:
    url = "https://hooks.invalid/x"  # .invalid never resolves (RFC 6761)

    channels.check_user_url(url)

    with pytest.raises(channels.ChannelError, match=r"^unreachable: "):
        channels.send_slack(url=url, text="x")


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that only the resolver the guard used knows: the request still arrives, to
    that address, with the name in the Host header (so TLS would use it for SNI too)."""
    fake_dns(monkeypatch, {"hooks.rdv.test": ["127.0.0.1"]})

    channels.send_slack(url=f"http://hooks.rdv.test:{receiver.port}/x", text="x")

    [request] = receiver.requests
    assert (request.path, request.headers["host"]) == ("/x", f"hooks.rdv.test:{receiver.port}")


def test_with_private_networks_allowed_http_and_loopback_pass_but_userinfo_does_not(
    receiver: Receiver,
) -> None:
    channels.check_user_url(f"http://127.0.0.1:{receiver.port}/h")
    channels.check_user_url(f"http://localhost:{receiver.port}/h")

    with pytest.raises(channels.UnsafeAddress, match="user name or password"):
        channels.send_slack(url=f"http://u:p@127.0.0.1:{receiver.port}/h", text="x")
    assert receiver.requests == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed(receiver: Receiver, status: int) -> None:
    receiver.status = status
    receiver.location = f"{receiver.url}/elsewhere"

    with pytest.raises(channels.ChannelError) as info:
        channels.send_slack(url=f"{receiver.url}/hook", text="x")

    assert str(info.value) == f"HTTP {status} redirect to '{receiver.url}/elsewhere', not followed"
    assert [request.path for request in receiver.requests] == ["/hook"]


def test_the_sms_gateway_does_not_follow_a_redirect_either(
    receiver: Receiver, settings: Settings
) -> None:
    settings.SMS_GATEWAY_URL = f"{receiver.url}/sms"
    receiver.status = 302
    receiver.location = "http://169.254.169.254/latest/meta-data/"

    with pytest.raises(channels.ChannelError, match=r"^HTTP 302 redirect to "):
        channels.send_sms(to="+4915112345678", text="x")
    assert [request.path for request in receiver.requests] == ["/sms"]
