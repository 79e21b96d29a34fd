"""GraphQL subscriptions against live servers: gunicorn's sync workers for HTTP and gunicorn
with uvicorn's worker class (two processes, each with its own LISTEN connection) for the
WebSocket, on the test database. Subscribers are real clients: Node's graphql-ws
(devops/subscriptions-client), Python's gql (websockets transport), and raw WebSockets where a
close code or a handshake status is the point."""

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction

from reservation.actors import Actor, utcnow
from reservation.models import ReservationStatus, User
from reservation.services.accounts import api_token_create, api_token_revoke
from reservation.services.events import access_token_issue, access_token_mint, event_narrow
from reservation.tests.event_factories import propose
from reservation.tests.factories import (
    make_client,
    make_policy,
    make_provider,
    make_reservation,
    make_user,
)

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = ROOT / "devops" / "subscriptions-client"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def frozen_clock() -> None:
    """The real clock here (not conftest's frozen one): the servers run on it."""


SLOTS = """subscription Slots($p: ID!, $s: DateTime!, $e: DateTime!) {
  availableSlotsChanged(providerId: $p, start: $s, end: $e) { start end }
}"""
RESERVATIONS = """subscription Mine {
  reservationChanged { id status updatedAt provider { name } }
}"""
EVENT = """subscription Event($id: ID!) { eventChanged(id: $id) { id version status } }"""
AVAILABLE = """query Slots($p: ID!, $s: DateTime!, $e: DateTime!) {
  availableSlots(providerId: $p, start: $s, end: $e) { start end }
}"""
BOOK = """mutation Book($p: ID!, $s: DateTime!) {
  reservationCreate(input: {providerId: $p, start: $s}) {
    ... on Reservation { id status }
    ... on OperationInfo { messages { code } }
  }
}"""
CANCEL = """mutation Cancel($id: ID!) {
  reservationCancel(id: $id) {
    ... on Reservation { status } ... on OperationInfo { messages { code } }
  }
}"""
CONFIRM = """mutation Confirm($id: ID!) {
  reservationConfirm(id: $id) {
    ... on Reservation { status } ... on OperationInfo { messages { code } }
  }
}"""


# --- the servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} did not come up"
        time.sleep(0.2)


@dataclass
class Servers:
    http: str
    ws: str
    ws_process: subprocess.Popen
    processes: list[subprocess.Popen] = field(default_factory=list)

    def graphql(self, query: str, variables: dict | None = None, token: str = "") -> dict:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.http}/graphql", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def ws_workers(self) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.ws_process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_servers(tmp: Path, *, ws_workers: int, **extra_env: str) -> Servers:
    http_port, ws_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "settings",
        "DEBUG": "1",
        "LOG_FORMAT": "text",
        "GUNICORN_BIND": f"127.0.0.1:{http_port}",
        "GUNICORN_WORKERS": "2",
        "METRICS_DIR": str(tmp / "metrics"),
        "SUBSCRIPTIONS_BIND": f"127.0.0.1:{ws_port}",
        "SUBSCRIPTIONS_WORKERS": str(ws_workers),
        "SUBSCRIPTIONS_MAX_PER_CONNECTION": "3",
        "SUBSCRIPTIONS_MAX_PER_USER": "5",
        "SUBSCRIPTIONS_IDLE_TIMEOUT": "2",
        "SUBSCRIPTIONS_MAX_MESSAGE_BYTES": "4096",
        "SUBSCRIPTIONS_GRACEFUL_TIMEOUT": "1",
        "CORS_ALLOWED_ORIGINS": "http://allowed.example",
        "RATE_LIMIT_ENABLED": "0",
        **extra_env,
    }
    gunicorn = str(BIN / "gunicorn")
    with (tmp / "http.log").open("ab") as out:
        http = subprocess.Popen(
            [gunicorn, "api.wsgi", "-c", "devops/gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    with (tmp / "ws.log").open("ab") as out:
        ws = subprocess.Popen(
            [gunicorn, "api.asgi:application", "-c", "devops/gunicorn_ws.conf.py"],
            cwd=ROOT, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    servers = Servers(
        http=f"http://127.0.0.1:{http_port}",
        ws=f"ws://127.0.0.1:{ws_port}/graphql",
        ws_process=ws,
        processes=[http, ws],
    )
    wait_http(f"{servers.http}/healthz")
    wait_http(f"http://127.0.0.1:{ws_port}/healthz")
    deadline = time.monotonic() + 30
    while len(servers.ws_workers()) < ws_workers and time.monotonic() < deadline:
        time.sleep(0.2)
    return servers


def stop_servers(servers: Servers) -> None:
    for process in servers.processes:
        process.send_signal(signal.SIGTERM)
    for process in servers.processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Servers]:
    found = start_servers(tmp_path_factory.mktemp("live"), ws_workers=2)
    yield found
    stop_servers(found)


@pytest.fixture(scope="module")
def one_process(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Servers]:
    """One WebSocket process: the per-user limit counts per serving process."""
    found = start_servers(
        tmp_path_factory.mktemp("one"),
        ws_workers=1,
        SUBSCRIPTIONS_PING_INTERVAL="1",
        SUBSCRIPTIONS_PING_TIMEOUT="1",
    )
    yield found
    stop_servers(found)


# --- clients ------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], within: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)
    return result


class NodeSubscriber:
    """devops/subscriptions-client/subscribe.mjs: graphql-ws, retrying and re-subscribing."""

    def __init__(self, url: str, query: str, variables: dict, token: str = "") -> None:
        node = shutil.which("node")
        if node is None or not (NODE_CLIENT / "node_modules" / "graphql-ws").is_dir():
            pytest.skip("node and devops/subscriptions-client's packages (npm ci) are needed")
        self.lines: list[dict] = []
        self.process = subprocess.Popen(
            [node, str(NODE_CLIENT / "subscribe.mjs"), url, query, json.dumps(variables), token],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(json.loads(line))

    def results(self) -> list[Any]:
        return [line["data"] for line in self.lines if line["event"] == "next"]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


class GqlSubscriber:
    """Python's gql client (websockets transport, graphql-transport-ws) in its own thread."""

    def __init__(self, url: str, query: str, variables: dict, token: str = "") -> None:
        self.url, self.query, self.variables, self.token = url, query, variables, token
        self.received: list[Any] = []
        self.errors: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()

    async def _main(self) -> None:
        from gql import Client, GraphQLRequest
        from gql.transport.websockets import WebsocketsTransport

        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        transport = WebsocketsTransport(
            url=self.url,
            init_payload={"Authorization": f"Bearer {self.token}"} if self.token else {},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        try:
            async with Client(transport=transport) as session:
                request = GraphQLRequest(self.query, variable_values=self.variables)
                async for result in session.subscribe(request):
                    self.received.append(result)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - the test reads it
            self.errors.append(exc)

    def results(self) -> list[Any]:
        return list(self.received)

    def close(self) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=10)


class RawSocket:
    """A bare graphql-transport-ws connection, for close codes and handshakes."""

    def __init__(self, url: str, *, origin: str | None = None, cookie: str = "") -> None:
        from websockets.sync.client import connect

        headers = {"Cookie": cookie} if cookie else None
        self._opened = contextlib.ExitStack()
        self.ws = self._opened.enter_context(
            connect(
                url,
                subprotocols=["graphql-transport-ws"],
                origin=origin,
                additional_headers=headers,
                open_timeout=10,
            )
        )

    def init(self, payload: dict | None = None) -> dict:
        self.send({"type": "connection_init", "payload": payload or {}})
        return self.receive()

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def receive(self, within: float = 10) -> dict:
        return json.loads(self.ws.recv(timeout=within))

    def subscribe(self, id: str, query: str, variables: dict | None = None) -> None:
        self.send(
            {
                "id": id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )

    def closed_with(self, within: float = 10) -> tuple[int, str]:
        from websockets.exceptions import ConnectionClosed

        deadline = time.monotonic() + within
        closed: ConnectionClosed | None = None
        while closed is None and time.monotonic() < deadline:
            try:
                self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01))
            except ConnectionClosed as exc:
                closed = exc
            except TimeoutError:
                break
        assert closed is not None, "the server did not close the connection"
        assert closed.rcvd is not None
        return closed.rcvd.code, closed.rcvd.reason

    def close(self) -> None:
        self._opened.close()


# --- data -----------------------------------------------------------------------------------------


def errors_of(message: dict) -> list[dict]:
    """The errors of a refused subscription: an `error` message, or a result with errors (a
    refusal by the resolver, followed by `complete`)."""
    assert message["type"] in ("error", "next"), message
    return message["payload"] if message["type"] == "error" else message["payload"]["errors"]


def gid(kind: str, pk: int) -> str:
    import base64

    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


@dataclass
class Booking:
    provider: Any
    provider_id: str
    start: datetime
    end: datetime
    tokens: list[str]
    clients: list[Any]
    provider_token: str


@pytest.fixture
def booking() -> Booking:
    """A provider working round the clock, three clients with API tokens, and tomorrow as the
    range (23 one-hour slots, 00:00 to 23:00 UTC)."""
    provider = make_provider(hours=(clock(0), clock(23, 59)), weekdays=range(7))
    make_policy(provider=provider, min_notice_minutes=0, max_active_holds=50, hold_minutes=30)
    clients = [make_client() for _ in range(3)]
    tokens = [api_token_create(actor=Actor(user=c.user), name="t")[1] for c in clients]
    provider_token = api_token_create(actor=Actor(user=provider.user), name="p")[1]
    start = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return Booking(
        provider=provider,
        provider_id=gid("Provider", provider.pk),
        start=start,
        end=start + timedelta(days=1),
        tokens=tokens,
        clients=clients,
        provider_token=provider_token,
    )


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def starts(result: Any) -> tuple[str, ...]:
    return tuple(
        datetime.fromisoformat(s["start"]).astimezone(UTC).isoformat()
        for s in result["availableSlotsChanged"]
    )


def http_starts(servers: Servers, b: Booking) -> tuple[str, ...]:
    data = servers.graphql(AVAILABLE, {"p": b.provider_id, "s": iso(b.start), "e": iso(b.end)})
    return tuple(
        datetime.fromisoformat(s["start"]).astimezone(UTC).isoformat()
        for s in data["data"]["availableSlots"]
    )


def book(servers: Servers, b: Booking, token: str, start: datetime) -> str:
    data = servers.graphql(BOOK, {"p": b.provider_id, "s": iso(start)}, token)
    created = data["data"]["reservationCreate"]
    assert created.get("status") == "HELD", data
    return created["id"]


# --- the tests --------------------------------------------------------------------------------


def test_every_subscriber_sees_every_change_once_in_order_and_nothing_rolled_back(
    servers: Servers, booking: Booking
) -> None:
    b = booking
    variables = {"p": b.provider_id, "s": iso(b.start), "e": iso(b.end)}
    subscribers: list[Any] = [
        NodeSubscriber(servers.ws, SLOTS, variables),
        NodeSubscriber(servers.ws, SLOTS, variables, b.tokens[0]),
        GqlSubscriber(servers.ws, SLOTS, variables),
        GqlSubscriber(servers.ws, SLOTS, variables, b.tokens[1]),
    ]
    try:
        initial = http_starts(servers, b)
        assert len(initial) == 23
        hours = [b.start + timedelta(hours=h) for h in range(23)]

        def all_have(count: int) -> bool:
            return all(len(s.results()) >= count for s in subscribers)

        wait_for(lambda: all_have(1), what="the first state")
        # Given: each sees the current slots at once
        assert {starts(s.results()[0]) for s in subscribers} == {initial}

        # When: a hold is taken
        first = book(servers, b, b.tokens[0], hours[0])
        wait_for(lambda: all_have(2), what="the first hold")
        # And: a hold is written and rolled back (nothing is announced)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            make_reservation(
                provider=b.provider,
                client=b.clients[2],
                start=hours[1],
                status=ReservationStatus.HELD,
                expires_at=utcnow() + timedelta(minutes=30),
            )
            raise RuntimeError("roll back")
        # And: another hold, then the first one confirmed (the slots do not change: nothing sent)
        second = book(servers, b, b.tokens[1], hours[2])
        wait_for(lambda: all_have(3), what="the second hold")
        confirmed = servers.graphql(CONFIRM, {"id": first}, b.tokens[0])
        assert confirmed["data"]["reservationConfirm"] == {"status": "CONFIRMED"}
        # And: the second one cancelled (its slot comes back)
        cancelled = servers.graphql(CANCEL, {"id": second}, b.tokens[1])
        assert cancelled["data"]["reservationCancel"] == {"status": "CANCELLED"}
        wait_for(lambda: all_have(4), what="the cancellation")

        # Then: every subscriber saw exactly these states, in this order, each once
        expected = [
            initial,
            tuple(s for s in initial if s != iso(hours[0])),
            tuple(s for s in initial if s not in (iso(hours[0]), iso(hours[2]))),
            tuple(s for s in initial if s != iso(hours[0])),
        ]
        time.sleep(1.0)  # anything more (the confirmation, the rollback) would have come by now
        for subscriber in subscribers:
            assert [starts(r) for r in subscriber.results()] == expected

        # When: six clients' holds race (three clients, two each, concurrently)
        raced = hours[5:11]
        threads = [
            threading.Thread(target=book, args=(servers, b, b.tokens[i % 3], start))
            for i, start in enumerate(raced)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = http_starts(servers, b)
        assert final == tuple(s for s in expected[-1] if s not in {iso(h) for h in raced})
        wait_for(
            lambda: all(starts(s.results()[-1]) == final for s in subscribers),
            what="the raced holds",
        )
        # Then: each saw the slots only shrink, never the same list twice, never the rolled-back
        # hold's slot gone, and at most one state per commit
        for subscriber in subscribers:
            seen = [set(starts(r)) for r in subscriber.results()[3:]]
            assert len(seen) <= 1 + len(raced)
            for before, after in itertools.pairwise(seen):
                assert after < before
            assert all(iso(hours[1]) in s for s in seen)
        assert all(not getattr(s, "errors", None) for s in subscribers)
    finally:
        for subscriber in subscribers:
            subscriber.close()


def test_a_lapsed_hold_frees_its_slot_at_its_expiry_with_nothing_written(
    servers: Servers, booking: Booking
) -> None:
    b = booking
    hour = b.start + timedelta(hours=3)
    lapse = utcnow() + timedelta(seconds=2)
    make_reservation(
        provider=b.provider,
        client=b.clients[0],
        start=hour,
        status=ReservationStatus.HELD,
        expires_at=lapse,
    )
    subscriber = NodeSubscriber(
        servers.ws, SLOTS, {"p": b.provider_id, "s": iso(b.start), "e": iso(b.end)}
    )
    try:
        wait_for(lambda: subscriber.results(), what="the first state")
        assert iso(hour) not in starts(subscriber.results()[0])
        wait_for(lambda: len(subscriber.results()) >= 2, within=15, what="the lapse")
        came_back = subscriber.lines[-1]["at"] / 1000
        assert iso(hour) in starts(subscriber.results()[1])
        # at the expiry, by the timer: no sweep ran, the row is still HELD
        assert lapse.timestamp() <= came_back < lapse.timestamp() + 1.5
    finally:
        subscriber.close()


def test_killed_process_clients_reconnect_and_get_the_current_state_at_once(
    servers: Servers, booking: Booking
) -> None:
    b = booking
    variables = {"p": b.provider_id, "s": iso(b.start), "e": iso(b.end)}
    subscriber = NodeSubscriber(servers.ws, SLOTS, variables, b.tokens[0])
    try:
        wait_for(lambda: subscriber.results(), what="the first state")
        before = starts(subscriber.results()[0])
        # When: every WebSocket worker is killed (gunicorn starts new ones), and a hold is taken
        # while none runs
        for pid in servers.ws_workers():
            os.kill(pid, signal.SIGKILL)
        book(servers, b, b.tokens[1], b.start + timedelta(hours=4))
        # Then: the client reconnects, re-subscribes, and its first state has the hold
        wait_for(lambda: len(subscriber.results()) >= 2, within=30, what="the reconnection")
        connected = [line for line in subscriber.lines if line["event"] == "connected"]
        assert len(connected) >= 2
        assert starts(subscriber.results()[1]) == tuple(
            s for s in before if s != iso(b.start + timedelta(hours=4))
        )
    finally:
        subscriber.close()


def test_reservation_changes_reach_their_client_and_provider_only(
    servers: Servers, booking: Booking
) -> None:
    b = booking
    client, provider, other = (
        GqlSubscriber(servers.ws, RESERVATIONS, {}, b.tokens[0]),
        GqlSubscriber(servers.ws, RESERVATIONS, {}, b.provider_token),
        GqlSubscriber(servers.ws, RESERVATIONS, {}, b.tokens[1]),
    )
    try:
        time.sleep(1.0)  # subscribed
        held = book(servers, b, b.tokens[0], b.start + timedelta(hours=6))
        servers.graphql(CONFIRM, {"id": held}, b.tokens[0])
        for watcher in (client, provider):
            wait_for(lambda w=watcher: len(w.results()) >= 2, what="two changes")
            changes = [r["reservationChanged"] for r in watcher.results()]
            assert [(c["id"], c["status"]) for c in changes] == [
                (held, "HELD"),
                (held, "CONFIRMED"),
            ]
        time.sleep(0.5)
        assert other.results() == []
    finally:
        for watcher in (client, provider, other):
            watcher.close()


def test_event_changes_reach_a_link_holder_and_strangers_are_refused(servers: Servers) -> None:
    organizer = make_user(email="organizer@example.com")
    party = make_user(email="party@example.com")
    stranger = make_user(email="stranger@example.com")
    tomorrow = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    event = propose(
        organizer,
        "party@example.com",
        starts=tuple(tomorrow + timedelta(hours=h) for h in range(3)),
        now=utcnow(),
        title="Planning",
    )
    link = access_token_mint(token=access_token_issue(event=event, user=party, now=utcnow()))
    stranger_token = api_token_create(actor=Actor(user=stranger), name="s")[1]
    event_id = gid("Event", event.pk)

    watcher = GqlSubscriber(servers.ws, EVENT, {"id": event_id}, link)
    refused = RawSocket(servers.ws)
    try:
        wait_for(lambda: watcher.results(), what="the current version")
        assert watcher.results()[0]["eventChanged"]["version"] == 1
        keep = list(event.candidates.order_by("start").values_list("pk", flat=True))[:2]
        event_narrow(
            actor=Actor(user=organizer), event_id=event.pk, keep_slot_ids=keep, expected_version=1
        )
        wait_for(lambda: len(watcher.results()) >= 2, what="the new version")
        assert watcher.results()[1]["eventChanged"]["version"] == 2

        refused.init({"Authorization": f"Bearer {stranger_token}"})
        refused.subscribe("1", EVENT, {"id": event_id})
        errors = errors_of(refused.receive())
        # the same refusal as the query's over HTTP
        over_http = servers.graphql(
            "query E($id: ID!) { event(id: $id) { id } }", {"id": event_id}, stranger_token
        )
        assert over_http["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    finally:
        watcher.close()
        refused.close()


def test_a_revoked_token_closes_its_connection(servers: Servers, booking: Booking) -> None:
    b = booking
    token, secret = api_token_create(actor=Actor(user=b.clients[2].user), name="revoked")
    socket_ = RawSocket(servers.ws)
    try:
        assert socket_.init({"Authorization": f"Bearer {secret}"})["type"] == "connection_ack"
        socket_.subscribe("1", RESERVATIONS)
        time.sleep(0.5)
        api_token_revoke(actor=Actor(user=b.clients[2].user), token_id=token.pk)
        assert socket_.closed_with() == (4403, "TOKEN_REVOKED")
    finally:
        socket_.close()
    again = RawSocket(servers.ws)
    try:
        again.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}})
        assert again.closed_with() == (4403, "Forbidden")
    finally:
        again.close()


def test_a_deactivated_user_s_connections_close(servers: Servers) -> None:
    user = make_client().user
    _, secret = api_token_create(actor=Actor(user=user), name="deactivated")
    socket_ = RawSocket(servers.ws)
    try:
        assert socket_.init({"Authorization": f"Bearer {secret}"})["type"] == "connection_ack"
        socket_.subscribe("1", RESERVATIONS)
        time.sleep(0.5)
        # a sign-in (another column of the row) wakes nobody; deactivation closes
        User.objects.filter(pk=user.pk).update(last_login=utcnow())
        time.sleep(0.5)
        socket_.send({"type": "ping"})
        while socket_.receive()["type"] != "pong":  # still open: a closed one raises
            pass
        User.objects.filter(pk=user.pk).update(is_active=False)
        assert socket_.closed_with() == (4403, "USER_DEACTIVATED")
    finally:
        socket_.close()


def test_limits_are_refused_with_codes(one_process: Servers, booking: Booking) -> None:
    b = booking
    variables = {"p": b.provider_id, "s": iso(b.start), "e": iso(b.end)}
    sockets = [RawSocket(one_process.ws) for _ in range(2)]
    try:
        for s in sockets:
            assert s.init({"Authorization": f"Bearer {b.tokens[0]}"})["type"] == "connection_ack"
        # Per connection: the 4th of one connection is refused (SUBSCRIPTIONS_MAX_PER_CONNECTION=3)
        for n in range(4):
            sockets[0].subscribe(str(n), SLOTS, variables)
        answers = {}
        while len(answers) < 4:
            message = sockets[0].receive()
            answers.setdefault(message["id"], message)
        assert errors_of(answers["3"])[0]["extensions"] == {
            "code": "SUBSCRIPTION_LIMIT_REACHED",
            "limit": 3,
            "per": "connection",
        }
        assert all("data" in answers[str(n)]["payload"] for n in range(3))
        # Per user, over connections (SUBSCRIPTIONS_MAX_PER_USER=5): the 6th is refused
        for n in range(3):
            sockets[1].subscribe(str(n), SLOTS, variables)
        answers = {}
        while len(answers) < 3:
            message = sockets[1].receive()
            answers.setdefault(message["id"], message)
        assert all(answers[str(n)]["payload"].get("data") for n in range(2))
        assert errors_of(answers["2"])[0]["extensions"] == {
            "code": "SUBSCRIPTION_LIMIT_REACHED",
            "limit": 5,
            "per": "user",
        }
        # Queries and mutations go over HTTP
        sockets[1].subscribe("q", "query Q { __typename }")
        message = sockets[1].receive()
        while message.get("id") != "q":
            message = sockets[1].receive()
        assert errors_of(message)[0]["extensions"]["code"] == "SUBSCRIPTIONS_ONLY"
        # A message over SUBSCRIPTIONS_MAX_MESSAGE_BYTES (4096) closes with 1009
        sockets[1].send({"type": "ping", "payload": {"pad": "x" * 5000}})
        assert sockets[1].closed_with()[0] == 1009
    finally:
        for s in sockets:
            s.close()
    # Idle: no subscription for SUBSCRIPTIONS_IDLE_TIMEOUT (2 s) closes the connection
    idle = RawSocket(one_process.ws)
    try:
        assert idle.init()["type"] == "connection_ack"
        started = time.monotonic()
        assert idle.closed_with() == (4000, "IDLE_TIMEOUT")
        assert 1.5 < time.monotonic() - started < 5
    finally:
        idle.close()


def test_keep_alive_pings_and_a_silent_client_is_closed(one_process: Servers) -> None:
    """Below any client library (which answers pings by itself): the WebSocket handshake by
    hand, then the frames as they come (SUBSCRIPTIONS_PING_INTERVAL=1, _TIMEOUT=1)."""
    import base64
    import secrets

    host, port = one_process.ws.split("/")[2].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        raw.sendall(
            (
                f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            response += raw.recv(1024)
        assert response.startswith(b"HTTP/1.1 101")
        started = time.monotonic()
        opcodes = []
        stream = response.split(b"\r\n\r\n", 1)[1]
        while True:  # frames from the server are not masked: opcode, length, payload
            while len(stream) < 2:
                chunk = raw.recv(1024)
                if not chunk:
                    break
                stream += chunk
            if len(stream) < 2:
                break
            opcode, length = stream[0] & 0x0F, stream[1] & 0x7F
            while len(stream) < 2 + length:
                stream += raw.recv(1024)
            opcodes.append((opcode, round(time.monotonic() - started, 1)))
            stream = stream[2 + length :]
            if opcode == 0x8:  # close
                break
    # Then: a ping (0x9) after about a second; no pong within a second more: closed (0x8)
    assert opcodes[0][0] == 0x9
    assert 0.5 < opcodes[0][1] < 2.5
    assert opcodes[-1][0] == 0x8
    assert opcodes[-1][1] < 5


def test_origin_check_and_the_session_cookie(servers: Servers, booking: Booking) -> None:
    from websockets.exceptions import InvalidStatus

    # A page on another origin may not open the socket (its cookies would ride along)...
    with pytest.raises(InvalidStatus) as refused:
        RawSocket(servers.ws, origin="http://elsewhere.example")
    assert refused.value.response.status_code == 403
    # ...one in CORS_ALLOWED_ORIGINS may
    RawSocket(servers.ws, origin="http://allowed.example").close()

    # The session cookie, from the same origin: signed in as that user
    user = booking.clients[0].user
    login = urllib.request.Request(
        f"{servers.http}/graphql",
        data=json.dumps({
            "query": "mutation L($e: String!, $p: String!) { login(email: $e, password: $p) "
            "{ __typename } }",
            "variables": {"e": user.email, "p": "correct horse battery staple"},
        }).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(login, timeout=30) as response:
        cookies = response.headers.get_all("Set-Cookie")
    session = next(c.split(";", 1)[0] for c in cookies if c.startswith("sessionid="))
    origin = "http://" + servers.ws.split("/")[2]  # this host (behind nginx: one origin)
    signed_in = RawSocket(servers.ws, origin=origin, cookie=session)
    anonymous = RawSocket(servers.ws, origin=origin)
    try:
        assert signed_in.init()["type"] == "connection_ack"
        signed_in.subscribe("1", RESERVATIONS)
        assert anonymous.init()["type"] == "connection_ack"
        anonymous.subscribe("1", RESERVATIONS)
        errors = errors_of(anonymous.receive())
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        book(servers, booking, booking.tokens[0], booking.start + timedelta(hours=8))
        message = signed_in.receive()
        assert message["payload"]["data"]["reservationChanged"]["status"] == "HELD"
        # Signing out (the session row goes) closes the cookie's connection
        Session.objects.filter(session_key=session.split("=", 1)[1]).delete()
        assert signed_in.closed_with() == (4403, "SESSION_ENDED")
    finally:
        signed_in.close()
        anonymous.close()
