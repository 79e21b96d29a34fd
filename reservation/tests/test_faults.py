"""PostgreSQL restarted while clients are booking over HTTP.

A private PostgreSQL cluster (initdb'd from the machine's binaries into a temporary folder,
as the `postgres` OS user, on a free loopback port, trust auth) is migrated, seeded and
served by gunicorn (2 workers); the shared server of the other tests is never touched.
Clients book many different slots while the cluster is stopped (fast) and started again.

The contract: a request that meets the outage gets HTTP 503, code DATABASE_UNAVAILABLE and
`Retry-After` — never a 500, never internals; the client retries with the same
`idempotencyKey`; gunicorn reconnects by itself (CONN_HEALTH_CHECKS) once the database is
back; afterwards every slot is held exactly once and no reservation is half-written.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from reservation.tests.smtp import free_port

pytestmark = pytest.mark.fault

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SLOTS = 48  # one client per slot: the hold limit plays no part
LEAKS = ("Traceback", "psycopg", "SELECT ", 'File "')

CREATE = """
mutation Create($providerId: ID!, $start: DateTime!, $key: String!) {
  reservationCreate(input: {providerId: $providerId, start: $start, idempotencyKey: $key}) {
    __typename
    ... on Reservation { id status }
    ... on OperationInfo { messages { code } }
  }
}
"""

# Run in a subprocess against the private cluster: a provider with one long window three
# days ahead, and SLOTS clients with API tokens. Prints the provider's ID, the slot starts
# and the tokens as JSON.
SEED = """
import json
from datetime import UTC, datetime, timedelta

import django

django.setup()
from strawberry.relay import to_base64

from reservation.actors import SYSTEM, Actor
from reservation.models import Client, User
from reservation.services.accounts import api_token_create, provider_create
from reservation.services.availability import availability_bulk_create

slots = int(__import__("sys").argv[1])
provider = provider_create(email="provider@fault.invalid", name="Fault provider", actor=SYSTEM)
first = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
availability_bulk_create(
    actor=Actor(user=provider.user), windows=[(first, first + timedelta(hours=slots))]
)
tokens = []
for i in range(slots):
    user = User.objects.create_user(f"client-{i}@fault.invalid")
    Client.objects.create(user=user)
    tokens.append(api_token_create(actor=Actor(user=user), name="fault")[1])
print(json.dumps({
    "provider": to_base64("Provider", provider.pk),
    "starts": [(first + timedelta(hours=i)).isoformat() for i in range(slots)],
    "tokens": tokens,
}))
"""


def skip_reason() -> str | None:
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return f"no PostgreSQL binaries in {PG_BIN} (set PG_BIN)"
    if shutil.which("runuser") is None or os.geteuid() != 0:
        return "needs root and runuser to run a private cluster as the postgres user"
    if subprocess.run(["id", "postgres"], capture_output=True, check=False).returncode:
        return "no postgres OS user to own a private cluster"
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        return "gunicorn is not installed next to this Python"
    return None


@dataclass
class Cluster:
    """A private PostgreSQL on 127.0.0.1:port, data and socket under `root`."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/rdv"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "postgres.log"),
                "-w",
                "-t",
                "30",
                *args,
            ],
            check=True,
            capture_output=True,
            timeout=40,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-o", options, "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")

    def log(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="rdv-fault-"))
    shutil.chown(root, user="postgres")
    root.chmod(0o700)
    found = Cluster(root=root, port=free_port())
    try:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "initdb"),
                "-D",
                str(found.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        found.start()
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(found.port),
                "rdv",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        yield found
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(found.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=40,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def app_env(url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "settings",
        "RATE_LIMIT_RESERVATION_CREATE": "10000/m",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def server(cluster: Cluster) -> Iterator[tuple[Cluster, Server, dict[str, Any]]]:
    env = app_env(cluster.url)
    manage(env, "manage.py", "migrate", "--noinput")
    seed = json.loads(manage(env, "-c", SEED, str(SLOTS)).strip().splitlines()[-1])
    port = free_port()
    log = cluster.root / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "api.wsgi:application",
                "--config",
                "devops/gunicorn.conf.py",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "30",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    found = Server(process=process, url=f"http://127.0.0.1:{port}/graphql", log=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(found.url.replace("/graphql", "/healthz"), timeout=2)  # noqa: S310
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"gunicorn did not start:\n{found.output()}")
                time.sleep(0.1)
        yield cluster, found, seed
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def post(url: str, variables: dict[str, Any], token: str) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=json.dumps({"query": CREATE, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, headers, raw = exc.code, dict(exc.headers), exc.read()
    text = raw.decode(errors="replace")
    assert not any(leak in text for leak in LEAKS), f"HTTP {status} leaks internals: {text}"
    try:
        return status, headers, json.loads(text)
    except ValueError:
        return status, headers, text


def outcome(status: int, headers: dict[str, str], body: Any) -> str:
    if status == 503 and isinstance(body, dict):
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
        if codes == {"DATABASE_UNAVAILABLE"} and headers.get("Retry-After", "").isdigit():
            return "retry"
    if status == 200 and isinstance(body, dict) and not body.get("errors"):
        result = body["data"]["reservationCreate"]
        if result["__typename"] == "Reservation":
            return str(result["status"])
        return ",".join(m["code"] for m in result["messages"])
    return f"HTTP {status}: {str(body)[:300]}"


def book(url: str, provider: str, start: str, token: str, deadline: float) -> list[str]:
    """Hold `start`, retrying each clean DATABASE_UNAVAILABLE with the same key; every
    answer's outcome, in order (the last is final unless time ran out)."""
    seen = []
    while time.monotonic() < deadline:
        variables = {"providerId": provider, "start": start, "key": f"fault-{start}"}
        result = outcome(*post(url, variables, token))
        seen.append(result)
        if result != "retry":
            break
        time.sleep(0.2)
    return seen


def check_database(url: str) -> dict[str, Any]:
    """What is in the private database afterwards, by the invariants."""
    import psycopg

    with psycopg.connect(url) as db:
        status = dict(
            db.execute(
                "SELECT status, count(*) FROM reservation_reservation GROUP BY status"
            ).fetchall()
        )
        unaudited = db.execute(
            """
            SELECT r.id FROM reservation_reservation r
            WHERE (SELECT count(*) FROM reservation_auditentry a
                   WHERE a.subject_type = 'reservation' AND a.subject_id = r.id
                     AND a.action = 'reservation.create') <> 1
            """
        ).fetchall()
        overlapping = db.execute(
            """
            SELECT a.id, b.id FROM reservation_reservation a
            JOIN reservation_reservation b
              ON a.provider_id = b.provider_id AND a.id < b.id
             AND tstzrange(a.start, a."end", '[)') && tstzrange(b.start, b."end", '[)')
            WHERE a.status IN ('HELD', 'CONFIRMED') AND b.status IN ('HELD', 'CONFIRMED')
            """
        ).fetchall()
        held_without_expiry = db.execute(
            "SELECT id FROM reservation_reservation WHERE status = 'HELD' AND expires_at IS NULL"
        ).fetchall()
        per_client = db.execute(
            "SELECT count(*) FROM reservation_reservation GROUP BY client_id HAVING count(*) > 1"
        ).fetchall()
    return {
        "status": status,
        "unaudited": unaudited,
        "overlapping": overlapping,
        "held_without_expiry": held_without_expiry,
        "clients_with_two": per_client,
    }


def test_postgres_restarted_while_clients_book(
    server: tuple[Cluster, Server, dict[str, Any]],
) -> None:
    cluster, gunicorn, seed = server
    # Given gunicorn serving the private database (warm: each worker has connected)
    for token in seed["tokens"][:4]:
        status, _, _ = post(gunicorn.url, {"providerId": "x", "start": "x", "key": ""}, token)
        assert status == 200

    # When SLOTS clients book SLOTS different slots, a few at a time, and the database is
    # stopped and started again while they do: half start before the outage (a booking takes
    # a few ms, so those may all be done before it), half during it (those surely meet it)
    deadline = time.monotonic() + 45
    jobs = list(zip(seed["starts"], seed["tokens"], strict=True))
    half = len(jobs) // 2
    with ThreadPoolExecutor(max_workers=8) as pool:

        def submit(batch: list[tuple[str, str]]) -> list[Any]:
            return [
                pool.submit(book, gunicorn.url, seed["provider"], start, token, deadline)
                for start, token in batch
            ]

        futures = submit(jobs[:half])
        time.sleep(0.3)  # some are under way
        began = time.monotonic()
        cluster.stop()
        futures += submit(jobs[half:])
        time.sleep(2.0)  # an outage of a few seconds: every worker meets it
        cluster.start()
        outage = time.monotonic() - began
        results = [future.result(timeout=60) for future in futures]

    # Then every request met either success or a clean, retryable 503 — no 500, no internals
    seen = Counter(result for attempts in results for result in attempts)
    print(f"\noutage {outage:.1f} s; answers: {dict(seen)}")
    assert set(seen) <= {"HELD", "retry"}, f"{dict(seen)}\n{gunicorn.output()}"
    assert seen["retry"] > 0, "no request met the outage"
    # And the service resumed by itself: every client ended up holding its slot
    assert [attempts[-1] for attempts in results] == ["HELD"] * SLOTS
    assert gunicorn.process.poll() is None
    # And the database holds no half-written reservation
    assert check_database(cluster.url) == {
        "status": {"HELD": SLOTS},
        "unaudited": [],
        "overlapping": [],
        "held_without_expiry": [],
        "clients_with_two": [],
    }
