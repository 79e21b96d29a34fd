#!/usr/bin/env python3

"""The production stack, run natively on this machine from the project's own configs, since
Docker cannot run here: a private PostgreSQL cluster, Redis, an SMTP catcher (aiosmtpd,
writing a Maildir), gunicorn (devops/gunicorn.conf.py, started through devops/entrypoint.sh,
which migrates), gunicorn with uvicorn's worker class for the WebSocket of GraphQL
subscriptions (devops/gunicorn_ws.conf.py), the Procrastinate worker (`manage.py worker`,
restarted when it exits, as compose's restart policy does) and nginx (devops/nginx/*.conf,
with the upstreams, the port and the log files put in). Everything listens on 127.0.0.1 on
free ports; DEBUG is off.

    devops/stack/stack.py up       # `make stack`: start, print the URLs, Ctrl-C stops all
    devops/stack/stack.py check    # `make stack-check`: start, check end to end, stop

The check: health and readiness through nginx; a booking made with examples/book.py whose
confirmation mails reach the SMTP catcher; the worker restarted after PostgreSQL restarts and
mail flowing again; a GraphQL subscription through nginx (WebSocket upgrade) that hears a
booking made after PostgreSQL restarted (its LISTEN connection came back), and a handshake
from another Origin refused; the app's and nginx's JSON 413s; hashed static files with far-future
caching; the CSP of the GraphiQL page; a cookie-authenticated POST through nginx on its
non-standard port (CSRF origin check, Host with its port); nginx's JSON 502 with gunicorn
gone; and every line gunicorn and the worker wrote is JSON.
"""

import contextlib
import json
import mailbox
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PY = str(VENV_BIN / "python")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bindir() -> Path:
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise SystemExit("stack: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")


def as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def log(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = {
            name: free_port() for name in ("pg", "redis", "smtp", "web", "ws", "nginx", "wmetrics")
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.maildir = root / "maildir"
        self.pg_data = root / "pg"
        self.bindir = pg_bindir()
        self.metrics_token = secrets.token_urlsafe(24)
        self.stopping = False
        self.worker_starts = 0

    # --- processes ---------------------------------------------------------------------------

    def spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        path = self.logs.setdefault(name, self.root / f"{name}.log")
        with path.open("ab") as out:
            self.processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=env or os.environ.copy(), stdout=out, stderr=out
            )

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*as_postgres(), str(self.bindir / "pg_ctl"), "-D", str(self.pg_data), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def app_env(self) -> dict[str, str]:
        p = self.ports
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "EMAIL_"))},
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "DJANGO_SETTINGS_MODULE": "settings",
            "DEBUG": "0",
            "LOG_FORMAT": "json",
            "SECRET_KEY": self.secret_key,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{p['pg']}/rendezvous",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{p['nginx']}",
            "REDIS_URL": f"redis://127.0.0.1:{p['redis']}/0",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(p["smtp"]),
            "GUNICORN_BIND": f"127.0.0.1:{p['web']}",
            "GUNICORN_WORKERS": "2",
            "SUBSCRIPTIONS_BIND": f"127.0.0.1:{p['ws']}",
            "SUBSCRIPTIONS_WORKERS": "2",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "TRUSTED_PROXY_COUNT": "1",
            "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
            "SECURE_COOKIES": "0",
            "SECURE_HSTS_SECONDS": "0",
            "METRICS_ENABLED": "1",
            "METRICS_TOKEN": self.metrics_token,
            "METRICS_DIR": str(self.root / "metrics-web"),
            "METRICS_WORKER_PORT": str(p["wmetrics"]),
            "WORKER_STATE_FILE": str(self.root / "worker.json"),
            "MIGRATE_ON_START": "1",
        }

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.secret_key = secrets.token_urlsafe(50)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        log(f"PostgreSQL on {self.ports['pg']}")
        subprocess.run(
            [*as_postgres(), str(self.bindir / "initdb"), "-D", str(self.pg_data), "-U",
             "postgres", "-A", "trust", "-E", "UTF8"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with (self.pg_data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.ports['pg']}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\n"
            )
        self.pg_ctl("-l", str(self.root / "postgres.log"), "-w", "start")
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-p", str(self.ports["pg"]), "-U", "postgres",
             "rendezvous"],
            check=True, timeout=60,
        )  # fmt: skip
        log(f"Redis on {self.ports['redis']}, SMTP catcher on {self.ports['smtp']}")
        self.spawn(
            "redis",
            ["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
        )  # fmt: skip
        # aiosmtpd's Mailbox handler makes the Maildir (with its cur/new/tmp) itself.
        self.spawn(
            "smtp",
            [PY, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.ports['smtp']}",
             "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
        )  # fmt: skip
        env = self.app_env()
        subprocess.run(
            [PY, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT, env={**env, "MIGRATE_ON_START": "0"}, check=True, timeout=300,
        )  # fmt: skip
        log(f"gunicorn on {self.ports['web']} (migrating first)")
        self.spawn(
            "gunicorn",
            ["/bin/sh", "devops/entrypoint.sh", str(VENV_BIN / "gunicorn"), "api.wsgi",
             "-c", "devops/gunicorn.conf.py"],
            env,
        )  # fmt: skip
        self.wait_http(f"http://127.0.0.1:{self.ports['web']}/healthz", within=180)
        log(f"gunicorn (WebSocket, uvicorn workers) on {self.ports['ws']}")
        self.spawn(
            "subscriptions",
            [str(VENV_BIN / "gunicorn"), "api.asgi:application", "-c",
             "devops/gunicorn_ws.conf.py"],
            {**env, "MIGRATE_ON_START": "0"},
        )  # fmt: skip
        self.wait_http(f"http://127.0.0.1:{self.ports['ws']}/healthz", within=60)
        self.start_worker()
        threading.Thread(target=self.supervise_worker, daemon=True).start()
        self.start_nginx()
        self.wait_http(self.url("/healthz"), within=30)
        log(f"ready: {self.url('/graphql')} (mail in {self.maildir})")

    def start_worker(self) -> None:
        env = {**self.app_env(), "MIGRATE_ON_START": "0"}
        self.worker_starts += 1
        self.spawn("worker", [PY, "manage.py", "worker"], env)

    def supervise_worker(self) -> None:
        """What compose's restart policy does: start the worker again when it exits."""
        while not self.stopping:
            worker = self.processes["worker"]
            status = worker.wait()
            if self.stopping:
                return
            log(f"the worker exited with status {status}; restarting it")
            time.sleep(1)
            self.start_worker()

    def start_nginx(self) -> None:
        conf_dir = self.root / "nginx"
        conf_dir.mkdir()
        for name in ("common.conf", "locations.conf"):
            shutil.copy(ROOT / "devops" / "nginx" / name, conf_dir / name)
        common = (conf_dir / "common.conf").read_text()
        common = re.sub(r"^resolver.*$", "", common, flags=re.M)  # no Docker DNS here
        common = common.replace(
            "access_log /dev/stdout rendezvous_json;",
            f"access_log {self.root / 'nginx-access.log'} rendezvous_json;",
        )
        (conf_dir / "common.conf").write_text(common)
        locations = (conf_dir / "locations.conf").read_text()
        (conf_dir / "locations.conf").write_text(
            locations.replace("app:8000", f"127.0.0.1:{self.ports['web']}").replace(
                "subscriptions:8001", f"127.0.0.1:{self.ports['ws']}"
            )
        )
        main = (ROOT / "devops" / "nginx" / "nginx.conf").read_text()
        main = main.replace(
            "error_log /dev/stderr warn;",
            f"error_log {self.root / 'nginx-error.log'} warn;\npid {self.root / 'nginx.pid'};",
        )
        main = main.replace(
            "listen 80 default_server;", f"listen 127.0.0.1:{self.ports['nginx']} default_server;"
        )
        (conf_dir / "nginx.conf").write_text(main)
        log(f"nginx on {self.ports['nginx']}")
        self.spawn(
            "nginx",
            ["nginx", "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf"), "-g", "daemon off;"],
        )

    def stop(self) -> None:
        self.stopping = True
        for name in ("nginx", "worker", "subscriptions", "gunicorn", "smtp", "redis"):
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if (self.pg_data / "postmaster.pid").exists():
            self.pg_ctl("-m", "fast", "-w", "stop")

    # --- HTTP --------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.ports['nginx']}{path}"

    def wait_http(self, url: str, *, within: float) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{url} did not answer 200 within {within} s; logs in {self.root}"
                )
            time.sleep(0.5)


def request(
    url: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    opener: urllib.request.OpenerDirector | None = None,
) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def messages(maildir: Path) -> list:
    if not (maildir / "cur").is_dir():
        return []
    return list(mailbox.Maildir(maildir, create=False))


def wait_for_mail(stack: Stack, count: int, within: float) -> list:
    deadline = time.monotonic() + within
    while len(found := messages(stack.maildir)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} mails, expected {count}; logs in {stack.root}")
        time.sleep(0.5)
    return found


def book(stack: Stack, token: str) -> str:
    result = subprocess.run(
        [PY, "examples/book.py", "--url", stack.url("/graphql"), "--token", token],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert '"status": "CONFIRMED"' in result.stdout, result.stdout
    return result.stdout


class SlotSubscription:
    """availableSlotsChanged over the next 62 days through nginx (graphql-transport-ws)."""

    def __init__(self, stack: Stack, token: str, provider_id: str) -> None:
        from datetime import UTC, datetime, timedelta

        from websockets.sync.client import connect

        self._opened = contextlib.ExitStack()
        self.ws = self._opened.enter_context(
            connect(
                f"ws://127.0.0.1:{stack.ports['nginx']}/graphql",
                subprotocols=["graphql-transport-ws"],
                open_timeout=30,
            )
        )
        self.ws.send(json.dumps({"type": "connection_init", "payload": {
            "Authorization": f"Bearer {token}"}}))  # fmt: skip
        assert json.loads(self.ws.recv(timeout=30))["type"] == "connection_ack"
        start = datetime.now(UTC).replace(microsecond=0)
        self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": "subscription S($p: ID!, $s: DateTime!, $e: DateTime!) { "
            "availableSlotsChanged(providerId: $p, start: $s, end: $e) { start } }",
            "variables": {"p": provider_id, "s": start.isoformat(),
                          "e": (start + timedelta(days=62)).isoformat()}}}))  # fmt: skip

    def next_slots(self, *, within: float) -> list[str]:
        message = json.loads(self.ws.recv(timeout=within))
        assert message["type"] == "next", message
        return [slot["start"] for slot in message["payload"]["data"]["availableSlotsChanged"]]

    def close(self) -> None:
        self._opened.close()


def subscribe_slots(stack: Stack, token: str, provider_id: str) -> SlotSubscription:
    return SlotSubscription(stack, token, provider_id)


def ws_handshake_status(stack: Stack, *, origin: str) -> int:
    """The HTTP status of a WebSocket handshake to /graphql through nginx from `origin`."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(
            f"ws://127.0.0.1:{stack.ports['nginx']}/graphql",
            subprotocols=["graphql-transport-ws"],
            origin=origin,
            open_timeout=30,
        ):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def check(stack: Stack) -> list[str]:
    """The end-to-end check; returns what it saw, one line per check."""
    seen = []
    status, _, body = request(stack.url("/readyz"))
    deadline = time.monotonic() + 60
    while status != 200 and time.monotonic() < deadline:  # the worker's first heartbeat
        time.sleep(1)
        status, _, body = request(stack.url("/readyz"))
    assert status == 200, body
    seen.append(f"readyz through nginx: {status} {json.loads(body)['checks']}")

    demo = subprocess.run(
        [PY, "manage.py", "seed_demo"], cwd=ROOT, env={**stack.app_env(), "MIGRATE_ON_START": "0"},
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    client_token = re.search(r"client .* token: (\S+)", demo).group(1)
    book(stack, client_token)
    mails = wait_for_mail(stack, 2, within=60)
    seen.append(
        f"booking confirmed through nginx: {len(mails)} mails caught: "
        f"{sorted(m['To'] for m in mails)}"
    )

    # A subscription through nginx (WebSocket upgrade) stays open while PostgreSQL restarts:
    # its process's LISTEN connection comes back, and the next booking reaches it.
    provider = json.loads(
        request(
            stack.url("/graphql"),
            data=json.dumps(
                {"query": "query P { providers(first: 1) { edges { node { id } } } }"}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )[2]
    )["data"]["providers"]["edges"][0]["node"]["id"]
    watching = subscribe_slots(stack, client_token, provider)
    before = watching.next_slots(within=30)
    seen.append(f"subscription through nginx: {len(before)} slots at once")
    refused = ws_handshake_status(stack, origin="http://elsewhere.example")
    assert refused == 403, refused
    seen.append(f"WebSocket handshake from another Origin: HTTP {refused}")

    # PostgreSQL restarts: the worker exits 75, is restarted, and mail flows again.
    starts = stack.worker_starts
    stack.pg_ctl("-l", str(stack.root / "postgres.log"), "-m", "fast", "-w", "restart")
    deadline = time.monotonic() + 90
    while stack.worker_starts == starts and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stack.worker_starts > starts, "the worker did not exit when PostgreSQL restarted"
    book(stack, client_token)
    mails = wait_for_mail(stack, 4, within=90)
    ids = [m["Message-ID"] for m in mails]
    assert len(set(ids)) == len(ids) == 4, ids
    seen.append(
        "PostgreSQL restarted: the worker exited 75, was restarted, 2 more mails, none twice"
    )
    after = watching.next_slots(within=60)
    while after == before:
        after = watching.next_slots(within=60)
    watching.close()
    seen.append(
        f"after the restart the subscription heard the booking: {len(before)} -> {len(after)} "
        "slots (LISTEN reconnected)"
    )

    small = b'{"query":"{ __typename }","pad":"' + b"x" * (1536 * 1024) + b'"}'
    status, headers, body = request(
        stack.url("/graphql"),
        data=small,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {client_token}"},
    )
    assert (status, json.loads(body)["errors"][0]["extensions"]["code"]) == (
        413,
        "REQUEST_TOO_LARGE",
    )
    seen.append(f"1.5 MiB body: {status} from the app, {body[:80]!r}")
    big = b"x" * (3 * 1024 * 1024)
    status, headers, body = request(
        stack.url("/graphql"),
        data=big,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {client_token}"},
    )
    assert status == 413, (status, headers)
    assert headers.get("Content-Type") == "application/json", headers
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    seen.append(f"3 MiB body: {status} from nginx, {body[:80]!r}")

    manifest = json.loads((ROOT / "staticfiles" / "staticfiles.json").read_text())["paths"]
    name, hashed = next((k, v) for k, v in manifest.items() if k.endswith(".css"))
    status, headers, _ = request(stack.url(f"/static/{hashed}"))
    assert status == 200, headers
    assert "immutable" in headers.get("Cache-Control", ""), headers
    seen.append(f"/static/{hashed}: {status}, Cache-Control: {headers['Cache-Control']}")

    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, headers, _ = request(
        stack.url("/graphql"), headers={"Accept": "text/html"}, opener=opener
    )
    csp = headers.get("Content-Security-Policy", "")
    assert status == 200, headers
    assert "script-src 'self'" in csp, headers
    seen.append(f"GET /graphql (HTML): {status}, CSP: {csp}")
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    status, _, body = request(
        stack.url("/graphql"),
        data=json.dumps({"query": "{ __typename }"}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": csrf,
                 "Origin": f"http://127.0.0.1:{stack.ports['nginx']}",
                 "Referer": stack.url("/graphql")},
        opener=opener,
    )  # fmt: skip
    assert status == 200, body
    seen.append(f"cookie POST with Origin on port {stack.ports['nginx']}: {status} {body!r}")

    status, headers, body = request(
        f"http://127.0.0.1:{stack.ports['web']}/metrics",
        headers={"Authorization": f"Bearer {stack.metrics_token}"},
    )
    assert b'rendezvous_http_responses_total{status="413"}' in body, body[-2000:]
    _, _, wbody = request(f"http://127.0.0.1:{stack.ports['wmetrics']}/metrics")
    assert b"rendezvous_job_runs_total" in wbody
    seen.append("metrics: web (HTTP statuses, root fields) and worker (job runs) endpoints")

    gunicorn = stack.processes["gunicorn"]
    gunicorn.send_signal(signal.SIGTERM)
    gunicorn.wait(timeout=60)
    status, headers, body = request(
        stack.url("/graphql"), data=b"{}", headers={"Content-Type": "application/json"}
    )
    assert status == 502, body
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    seen.append(f"gunicorn stopped: {status} {body[:90]!r}")

    bad = []
    for name in ("gunicorn", "subscriptions", "worker"):
        for line in stack.logs[name].read_text(errors="replace").splitlines():
            try:
                json.loads(line)
            except ValueError:
                bad.append(f"{name}: {line}")
    assert not bad, "\n".join(bad[:20])
    seen.append("every gunicorn (HTTP and WebSocket) and worker log line is JSON")
    return seen


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else "up"
    root = Path(tempfile.mkdtemp(prefix="rdv-stack-"))
    stack = Stack(root)
    try:
        stack.start()
        if mode == "check":
            for line in check(stack):
                print(f"ok  {line}", flush=True)
            return 0
        print(f"GraphQL: {stack.url('/graphql')}\nmail: {stack.maildir}\nlogs: {root}", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            return 0
    finally:
        stack.stop()
        if mode == "check" and os.environ.get("STACK_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
