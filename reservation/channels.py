"""The ways a reminder leaves the server: one function per channel, each building and sending
one request (stdlib urllib, with REMINDER_HTTP_TIMEOUT) and raising ChannelError unless the
other side answered 2xx. No ORM: the caller decides what to send and records the outcome.

A webhook or Slack URL is chosen by any user, so the server must not become their way into
its own network (SSRF): such a URL is checked when it is set (`check_user_url`) and again
when it is used (`post(..., guarded=True)`), because what a name resolves to can change in
between. A guarded request resolves the host once, refuses it if any of its addresses is not
public (loopback, private, link-local such as 169.254.169.254, multicast, reserved,
unspecified, IPv4-mapped forms of these) unless REMINDER_ALLOW_PRIVATE_NETWORKS is on, and
connects to an address from that same resolution: the Host header, TLS SNI and certificate
check still use the name, so a name re-pointed between check and connect (DNS rebinding)
gains nothing. It goes straight to the host (no HTTP(S)_PROXY from the environment) and
follows no redirect (a 3xx is a failure). The Telegram API and SMS gateway URLs come from
settings, chosen by the operator, and are not guarded (but redirects are not followed either).

Residual risk: resolution itself (getaddrinfo) has no timeout of its own, so a slow resolver
delays a send, never redirects it.
"""

import base64
import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage

TIMESTAMP_HEADER = "X-Rendezvous-Timestamp"
SIGNATURE_HEADER = "X-Rendezvous-Signature"
USER_AGENT = "Rendezvous-Reminders/1"
MAX_URL_LENGTH = 1000
# Printable ASCII without space: anything else breaks the request line or hides a trick.
_URL_CHARACTERS = re.compile(r"[!-~]+")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ChannelError(Exception):
    """The channel refused or could not be reached; the message says how."""


class UnsafeAddress(ChannelError):
    """A user's URL that reminders are not sent to (SSRF guard); the message says why."""


def _private_networks_allowed() -> bool:
    return bool(settings.REMINDER_ALLOW_PRIVATE_NETWORKS)


def check_url(url: str) -> urllib.parse.SplitResult:
    """The parts of a user's webhook/Slack URL, or UnsafeAddress: printable ASCII, at most
    MAX_URL_LENGTH, https (http too only with REMINDER_ALLOW_PRIVATE_NETWORKS, for local
    testing), a host and no `user:password@`. The host's addresses are `resolve`'s job."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeAddress(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if not _URL_CHARACTERS.fullmatch(url):
        raise UnsafeAddress(
            "The URL may only contain printable ASCII without spaces "
            "(percent-encode the rest, punycode for the host)."
        )
    parts = urllib.parse.urlsplit(url)
    schemes = ("https", "http") if _private_networks_allowed() else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeAddress("The URL must start with https://.")
    if "@" in parts.netloc:
        raise UnsafeAddress("The URL must not contain a user name or password (user@host).")
    try:
        port = parts.port  # ValueError for a port that is not 0..65535
    except ValueError:
        port = 0
    if port == 0:
        raise UnsafeAddress("The URL's port is not a number from 1 to 65535.")
    if not parts.hostname:
        raise UnsafeAddress("The URL must name a host.")
    return parts


def _kind(ip: Address) -> str | None:
    """Why `ip` is not a public address (None if it is one)."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        return _kind(mapped)
    for attribute, kind in (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_reserved", "a reserved"),
        ("is_private", "a private"),
    ):
        if getattr(ip, attribute):
            return kind
    if not ip.is_global:  # e.g. 100.64.0.0/10, shared (carrier-grade NAT) space
        return "a non-public"
    return None


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[tuple[int, int, int, tuple]]:
    """`socket.getaddrinfo(host, port)` for TCP, or UnsafeAddress if ANY of the addresses is
    not public (unless REMINDER_ALLOW_PRIVATE_NETWORKS). OSError if the name does not
    resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = [(family, kind, proto, sockaddr) for family, kind, proto, _, sockaddr in infos]
    if not found:
        raise UnsafeAddress(f"refused: {host} has no address.")
    if _private_networks_allowed():
        return found
    for *_, sockaddr in found:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # no IPv6 zone id
        kind = _kind(ip)
        if kind is not None:
            shown = host if _literal(host) == ip else f"{host} ({ip})"
            raise UnsafeAddress(
                f"refused: {shown} is {kind} address; reminders go to public addresses only."
            )
    return found


def check_user_url(url: str) -> None:
    """When a user sets a webhook/Slack URL: `check_url`, then `resolve` its host. A name
    that does not resolve (yet) passes; the send checks again."""
    parts = check_url(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # No answer now is no refusal; UnsafeAddress is not an OSError, so it goes up.
    with contextlib.suppress(OSError):
        resolve(parts.hostname or "", port)


def _connect_vetted(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """socket.create_connection, but to an address of `resolve` (checked, then used)."""
    host, port = address
    error: OSError | None = None
    for family, kind, proto, sockaddr in resolve(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if isinstance(timeout, int | float):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError(f"cannot connect to {host}")


class _Vetted:
    """An http.client connection whose socket comes from `_connect_vetted`; everything else
    (Host header, SNI, certificate check against the name) is http.client's own."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        # The hook http.client.HTTPConnection.connect opens its socket through.
        self._create_connection = _connect_vetted


class _VettedHTTPConnection(_Vetted, http.client.HTTPConnection):
    pass


class _VettedHTTPSConnection(_Vetted, http.client.HTTPSConnection):
    pass


class _VettedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_VettedHTTPConnection, req)


class _VettedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_VettedHTTPSConnection, req, context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is not followed: HTTPDefaultErrorHandler then raises it as an HTTPError."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def guarded_opener() -> urllib.request.OpenerDirector:
    """http(s) only, no proxy, no redirect, sockets from `_connect_vetted`."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.UnknownHandler(),
        _VettedHTTPHandler(),
        _VettedHTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _NoRedirect(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>` with the webhook's secret.
    The receiver recomputes it and rejects a timestamp too far from its clock (replay)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def post(
    url: str, *, body: bytes, headers: dict[str, str] | None = None, guarded: bool = True
) -> int:
    """POST `body` to `url`; the HTTP status, or ChannelError for a non-2xx answer (a
    redirect included: never followed) or none. `guarded` (a user's URL): `check_url` first
    and connect only to a public address (UnsafeAddress otherwise; see the module's doc);
    only operator-set URLs from settings go unguarded."""
    if not url.startswith(("http://", "https://")):
        raise ChannelError(f"Not an http(s) URL: {url!r}")
    if guarded:
        check_url(url)
        opener = guarded_opener()
    else:
        opener = urllib.request.build_opener(_NoRedirect())
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=body,
        method="POST",
        headers={"User-Agent": USER_AGENT, **(headers or {})},
    )
    try:
        with opener.open(request, timeout=settings.REMINDER_HTTP_TIMEOUT) as response:
            status = response.status
            response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode(errors="replace")
        if 300 <= exc.code < 400:
            where = exc.headers.get("Location", "")
            raise ChannelError(f"HTTP {exc.code} redirect to {where!r}, not followed") from exc
        raise ChannelError(f"HTTP {exc.code} {exc.reason}: {detail}".strip()) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChannelError(f"unreachable: {reason}") from exc
    if not 200 <= status < 300:
        raise ChannelError(f"HTTP {status}")
    return status


def _json(payload: dict[str, object]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def send_email(*, to: str, subject: str, body: str, message_id: str) -> None:
    """Through Django's mail backend (SMTP in production)."""
    EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id},
    ).send(fail_silently=False)


def send_webhook(*, url: str, secret: str, body: bytes, now: datetime) -> int:
    """POST the JSON `body`, signed (see `signature`) with the Unix time of `now`; guarded."""
    timestamp = str(int(now.timestamp()))
    return post(
        url,
        body=body,
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret=secret, timestamp=timestamp, body=body),
        },
    )


def send_slack(*, url: str, text: str) -> int:
    """A Slack incoming webhook: `{"text": ...}`; guarded."""
    return post(url, body=_json({"text": text}), headers={"Content-Type": "application/json"})


def send_telegram(*, chat_id: str, text: str) -> int:
    """The Bot API's sendMessage: POST {TELEGRAM_API_URL}/bot<token>/sendMessage."""
    if not settings.TELEGRAM_BOT_TOKEN:
        raise ChannelError("TELEGRAM_BOT_TOKEN is not set.")
    url = f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot{settings.TELEGRAM_BOT_TOKEN}/sendMessage"
    return post(
        url,
        guarded=False,
        body=_json({"chat_id": chat_id, "text": text}),
        headers={"Content-Type": "application/json"},
    )


def send_sms(*, to: str, text: str) -> int:
    """The SMS gateway: POST {to, text} as JSON to SMS_GATEWAY_URL with basic auth."""
    if not settings.SMS_GATEWAY_URL:
        raise ChannelError("SMS_GATEWAY_URL is not set.")
    credentials = f"{settings.SMS_GATEWAY_USER}:{settings.SMS_GATEWAY_PASSWORD}".encode()
    return post(
        settings.SMS_GATEWAY_URL,
        guarded=False,
        body=_json({"to": to, "text": text}),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Basic {base64.b64encode(credentials).decode()}",
        },
    )
