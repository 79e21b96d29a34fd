# ruff: noqa: S603 (runs the machine's PostgreSQL binaries: fixed argument lists)
"""Read replicas: reservation.dbrouting, its middleware and the DATABASES it is given.

The router tests add a `replica_0` alias at run time that points at the test database itself
(so "which alias served this read" is what is checked), or at a port where nothing useful
answers. The streaming test starts a real primary and a pg_basebackup'd standby from the
machine's PostgreSQL binaries and stops the standby in the middle.
"""

import copy
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.conf import settings as django_settings
from django.db import connections, models, transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.test import override_settings
from django.test.utils import isolate_apps
from pytest_django import DjangoDbBlocker

from api.replica_middleware import ReadYourWritesMiddleware
from reservation import dbrouting
from reservation.dbrouting import PrimaryReplicaRouter
from reservation.models import User

ROOT = Path(__file__).resolve().parents[2]
REPLICA = "replica_0"
DELAY_SECONDS = 2  # replay delay of the lagging standby


def add_alias(alias: str, **changes: object) -> None:
    """A connection alias like the test database's own, with some settings changed."""
    config = copy.deepcopy(connections.settings["default"])
    config.update(CONN_MAX_AGE=0, **changes)
    # connections.settings is settings.DATABASES itself: the router sees the alias too.
    connections.settings[alias] = config


def remove_alias(alias: str) -> None:
    if alias in connections.settings:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


@pytest.fixture(scope="class")
def replica_alias(django_db_setup: None) -> Iterator[str]:
    """`replica_0`, reading the test database. Added before pytest-django sets up each test,
    so that tests may name it in `databases`; a mirror, so that it is not flushed twice."""
    add_alias(REPLICA, TEST={"MIRROR": "default"})
    yield REPLICA
    remove_alias(REPLICA)


@pytest.fixture
def replica(replica_alias: str) -> Iterator[str]:
    """The alias with its settings as added, its connection closed and its health forgotten
    after each test."""
    saved = copy.deepcopy(connections.settings[replica_alias])
    dbrouting.forget_health()
    yield replica_alias
    connections[replica_alias].close()
    connections.settings[replica_alias].clear()
    connections.settings[replica_alias].update(saved)
    dbrouting.forget_health()


@pytest.fixture
def fresh_request() -> Iterator[None]:
    with dbrouting.request_scope():
        yield


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_user(email: str = "reader@example.com") -> User:
    with dbrouting.request_scope():  # an earlier request wrote it
        return User.objects.create(email=email)


# --- routing ----------------------------------------------------------------------------------


def test_without_replicas_routing_is_a_no_op() -> None:
    router = PrimaryReplicaRouter()
    assert dbrouting.replica_aliases() == []
    with dbrouting.request_scope():
        assert router.db_for_read(User) is None
        assert router.db_for_write(User) is None
        assert router.allow_migrate("default", "reservation") is None
        assert User.objects.all().db == "default"
        assert dbrouting.has_written() is False


@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
class TestRouting:
    """Outside transactions (transaction=True): the test's own would send every read to the
    primary."""

    def test_reads_outside_transactions_go_to_the_replica(
        self, replica: str, fresh_request: None
    ) -> None:
        user = make_user()

        found = User.objects.get(email="reader@example.com")

        assert (found.pk, found._state.db) == (user.pk, replica)
        assert connections[replica].connection is not None

    def test_reads_inside_a_transaction_go_to_the_primary(
        self, replica: str, fresh_request: None
    ) -> None:
        make_user()

        with transaction.atomic():
            found = User.objects.get(email="reader@example.com")
        after = User.objects.get(email="reader@example.com")

        assert (found._state.db, after._state.db) == ("default", replica)

    def test_reads_after_a_write_in_the_request_go_to_the_primary(
        self, replica: str, fresh_request: None
    ) -> None:
        assert User.objects.all().db == replica

        User.objects.create(email="writer@example.com")

        assert dbrouting.has_written() is True
        assert User.objects.get(email="writer@example.com")._state.db == "default"

    def test_the_middleware_resets_the_flag_for_each_request(self, replica: str) -> None:
        seen: list[tuple[str, str]] = []

        def view(request: HttpRequest) -> HttpResponse:
            before = User.objects.all().db
            if request.method == "POST":
                User.objects.create(email=f"user{len(seen)}@example.com")
            seen.append((before, User.objects.all().db))
            return HttpResponse()

        middleware = ReadYourWritesMiddleware(view)
        dbrouting.mark_written()  # left over from work done before, outside any request
        for method in ("GET", "POST", "GET"):
            request = HttpRequest()
            request.method = method
            middleware(request)

        assert seen == [(replica, replica), (replica, "default"), (replica, replica)]
        assert dbrouting.has_written() is False
        # Right after the request id and the response counter: around all that may write.
        assert settings.MIDDLEWARE.index("api.replica_middleware.ReadYourWritesMiddleware") == 2

    def test_an_unreachable_replica_is_skipped_and_remembered_as_down(
        self, replica: str, fresh_request: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        make_user()
        connections.settings[replica].update(HOST="127.0.0.1", PORT=unused_port())
        attempts = []
        wrapper = connections[replica]
        connect = wrapper.ensure_connection
        monkeypatch.setattr(wrapper, "ensure_connection", lambda: attempts.append(1) or connect())

        started = time.monotonic()
        first = User.objects.get(email="reader@example.com")
        second = User.objects.get(email="reader@example.com")
        elapsed = time.monotonic() - started

        assert (first._state.db, second._state.db) == ("default", "default")
        assert len(attempts) == 1, "the second read must not try the replica again"
        assert elapsed < 1

    def test_a_silent_replica_costs_one_connect_timeout(
        self, replica: str, fresh_request: None
    ) -> None:
        """A server that accepts TCP connections but never answers (a hung host, a black hole):
        the connect timeout bounds the wait, once."""
        make_user()
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            connections.settings[replica].update(
                HOST="127.0.0.1",
                PORT=silent.getsockname()[1],
                OPTIONS={**connections.settings[replica]["OPTIONS"], "connect_timeout": 2},
            )

            started = time.monotonic()
            first = User.objects.get(email="reader@example.com")
            first_took = time.monotonic() - started
            second = User.objects.get(email="reader@example.com")
            both_took = time.monotonic() - started

        assert (first._state.db, second._state.db) == ("default", "default")
        assert 1.5 < first_took < 3.5
        assert both_took - first_took < 0.5

    def test_a_replica_down_is_tried_again_after_the_retry_period(
        self, replica: str, fresh_request: None
    ) -> None:
        make_user()
        with override_settings(DATABASE_REPLICA_RETRY_SECONDS=0.3):
            address = {k: connections.settings[replica][k] for k in ("HOST", "PORT")}
            connections.settings[replica].update(HOST="127.0.0.1", PORT=unused_port())
            assert User.objects.get(email="reader@example.com")._state.db == "default"

            connections.settings[replica].update(address)  # the replica is back
            assert User.objects.get(email="reader@example.com")._state.db == "default"
            time.sleep(0.35)
            assert User.objects.get(email="reader@example.com")._state.db == replica

    def test_relations_and_migrations(self, replica: str) -> None:
        router = PrimaryReplicaRouter()
        from_primary, from_replica, elsewhere = User(), User(), User()
        from_primary._state.db, from_replica._state.db, elsewhere._state.db = (
            "default",
            replica,
            "other",
        )

        assert router.allow_relation(from_primary, from_replica) is True
        assert router.allow_relation(from_primary, elsewhere) is None
        assert router.allow_migrate("default", "reservation") is None
        assert router.allow_migrate(replica, "reservation") is False


# --- settings ---------------------------------------------------------------------------------


def databases_with(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    code = (
        "import django, json; django.setup(); from django.conf import settings;"
        " print(json.dumps([settings.DATABASES, settings.DATABASE_ROUTERS], default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_add_replica_aliases_with_a_short_connect_timeout() -> None:
    import json

    result = databases_with(
        DATABASE_URL="postgresql://app@primary/rdv",
        DATABASE_REPLICA_URLS="postgresql://app@standby1/rdv, postgresql://app@standby2/rdv",
        DATABASE_STATEMENT_TIMEOUT_MS="3000",
    )
    assert result.returncode == 0, result.stderr
    databases, routers = json.loads(result.stdout)

    assert list(databases) == ["default", "replica_0", "replica_1"]
    assert [databases[a]["HOST"] for a in databases] == ["primary", "standby1", "standby2"]
    replica = databases["replica_1"]
    assert replica["OPTIONS"] == {"options": "-c statement_timeout=3000", "connect_timeout": 2}
    assert replica["TEST"]["MIRROR"] == "default"
    assert (replica["CONN_MAX_AGE"], replica["CONN_HEALTH_CHECKS"]) == (60, True)
    assert "connect_timeout" not in databases["default"]["OPTIONS"]
    assert routers == ["reservation.dbrouting.PrimaryReplicaRouter"]


def test_settings_pool_keeps_the_statement_timeout() -> None:
    import json

    result = databases_with(
        DATABASE_URL="postgresql://app@primary/rdv",
        DATABASE_REPLICA_URLS="postgresql://app@standby1/rdv",
        DATABASE_POOL="1",
        DATABASE_POOL_MAX_SIZE="8",
    )
    assert result.returncode == 0, result.stderr
    databases, _ = json.loads(result.stdout)

    assert databases["default"]["CONN_MAX_AGE"] == 0
    assert databases["default"]["OPTIONS"] == {
        "options": "-c statement_timeout=5000",
        "pool": {"min_size": 1, "max_size": 8},
    }
    assert databases["replica_0"]["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 8, "timeout": 2}


def test_settings_refuse_a_pool_with_persistent_connections() -> None:
    result = databases_with(DATABASE_POOL="1", DATABASE_CONN_MAX_AGE="60")

    assert result.returncode == 1
    assert "DATABASE_CONN_MAX_AGE must be 0 (or unset) with DATABASE_POOL=1" in result.stderr


def test_pooled_connections_get_the_statement_timeout(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker
) -> None:
    """Not in a pytest-django test: the pool connects from its own threads, which Django's
    test case forbids for aliases it was not told about."""
    options = {
        **connections.settings["default"]["OPTIONS"],  # the embedded server's socket, say
        "options": "-c statement_timeout=1234",
        "pool": {"min_size": 1, "max_size": 2},
    }
    add_alias("pooled", OPTIONS=options)
    try:
        with django_db_blocker.unblock():
            wrapper = connections["pooled"]
            for _ in range(2):  # a new connection, then the one handed back to the pool
                with wrapper.cursor() as cursor:
                    cursor.execute("SHOW statement_timeout")
                    assert cursor.fetchone() == ("1234ms",)
                assert wrapper.pool is not None
                wrapper.close()
            wrapper.close_pool()
    finally:
        remove_alias("pooled")


# --- a real streaming replica -----------------------------------------------------------------


def postgres_bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for bindir in candidates:
        if all((bindir / name).exists() for name in ("initdb", "pg_ctl", "pg_basebackup")):
            return bindir
    return None


def as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its programs as the postgres user."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def streaming_skip_reason() -> str | None:
    if postgres_bindir() is None:
        return (
            "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) under "
            "/usr/lib/postgresql/*/bin"
        )
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser: PostgreSQL cannot be started as root"
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' OS user to start PostgreSQL as"
    return None


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary directory, on 127.0.0.1:<free port>."""

    def __init__(self, bindir: Path, root: Path, name: str) -> None:
        self.bindir, self.data, self.port = bindir, root / name, unused_port()
        self.root, self.log = root, root / f"{name}.log"

    def run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [*as_postgres(), str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise AssertionError(f"{program} failed:\n{result.stdout}{result.stderr}{log}")

    def configure(self, *lines: str) -> None:
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join((f"port = {self.port}", *lines)) + "\n")

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def alias(self, alias: str, *, connect_timeout: int = 2) -> None:
        add_alias(
            alias,
            HOST="127.0.0.1",
            PORT=self.port,
            NAME="postgres",
            USER="postgres",
            PASSWORD="",
            CONN_HEALTH_CHECKS=True,
            OPTIONS={"connect_timeout": connect_timeout},
        )


@pytest.fixture
def streaming_pair(django_db_blocker: DjangoDbBlocker) -> Iterator[tuple[Cluster, Cluster]]:
    yield from _streaming_pair(django_db_blocker, delay=None)


@pytest.fixture
def lagging_pair(django_db_blocker: DjangoDbBlocker) -> Iterator[tuple[Cluster, Cluster]]:
    """A standby that replays DELAY_SECONDS late (recovery_min_apply_delay)."""
    yield from _streaming_pair(django_db_blocker, delay=f"{DELAY_SECONDS}s")


def _streaming_pair(
    django_db_blocker: DjangoDbBlocker, *, delay: str | None
) -> Iterator[tuple[Cluster, Cluster]]:
    reason = streaming_skip_reason()
    if reason:
        pytest.skip(reason)
    bindir = postgres_bindir()
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="rdv-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary, standby = Cluster(bindir, root, "primary"), Cluster(bindir, root, "standby")
    try:
        primary.run(
            "initdb", "-D", str(primary.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"
        )
        primary.configure(
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{root}'",
            "wal_level = replica",
            "max_wal_senders = 4",
            "fsync = off",
        )
        primary.start()
        # -R: standby.signal and primary_conninfo; initdb's pg_hba allows replication from
        # 127.0.0.1 (trust), so the machine's own cluster and its config are left alone.
        standby.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        standby.configure(*([f"recovery_min_apply_delay = '{delay}'"] if delay else []))
        standby.start()
        with django_db_blocker.unblock():
            yield primary, standby
    finally:
        for cluster in (standby, primary):
            try:
                cluster.stop()
            except AssertionError as exc:
                print(exc, file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)


def wait_for_rows(cluster: Cluster, count: int, within: float = 15) -> None:
    deadline = time.monotonic() + within
    with cluster.connect() as conn:
        while time.monotonic() < deadline:
            try:
                if conn.execute("SELECT count(*) FROM rv_probe").fetchone() == (count,):
                    return
            except psycopg.errors.UndefinedTable:
                pass
            time.sleep(0.05)
    raise AssertionError(f"the standby did not catch up to {count} rows in {within} s")


@pytest.mark.replica
def test_streaming_replica_serves_reads_and_the_primary_takes_over(
    streaming_pair: tuple[Cluster, Cluster],
) -> None:
    primary, standby = streaming_pair
    with primary.connect() as conn:
        conn.execute("CREATE TABLE rv_probe (id integer PRIMARY KEY, note text NOT NULL)")
        conn.execute("INSERT INTO rv_probe SELECT n, 'row ' || n FROM generate_series(1, 5) n")
    wait_for_rows(standby, 5)

    router = PrimaryReplicaRouter(primary="rv_primary", replicas=["rv_standby"])
    primary.alias("rv_primary")
    standby.alias("rv_standby")
    dbrouting.forget_health()
    try:
        # override_settings resets django.db.router's cached routers, and back afterwards.
        with override_settings(DATABASE_ROUTERS=[router]), isolate_apps("reservation"):

            class Probe(models.Model):
                id = models.IntegerField(primary_key=True)
                note = models.TextField()

                class Meta:
                    app_label = "reservation"
                    db_table = "rv_probe"
                    managed = False

                def __str__(self) -> str:
                    return self.note

            def in_recovery(alias: str) -> bool:
                with connections[alias].cursor() as cursor:
                    cursor.execute("SELECT pg_is_in_recovery()")
                    return cursor.fetchone()[0]

            with dbrouting.request_scope():  # a request that only reads: the standby
                rows = list(Probe.objects.order_by("id"))
                assert [(r.id, r._state.db) for r in rows] == [
                    (n, "rv_standby") for n in range(1, 6)
                ]
                assert in_recovery("rv_standby") is True

            with dbrouting.request_scope():  # one that writes, then reads its own row
                Probe.objects.create(id=6, note="row 6")
                assert Probe.objects.get(id=6)._state.db == "rv_primary"
                assert Probe.objects.count() == 6
            wait_for_rows(standby, 6)

            with dbrouting.request_scope():
                assert Probe.objects.count() == 6
                assert Probe.objects.all().db == "rv_standby"
                with transaction.atomic(using="rv_primary"):
                    assert Probe.objects.all().db == "rv_primary"
                    assert Probe.objects.count() == 6

                # The standby goes away in the middle of the request, its connection open.
                assert connections["rv_standby"].connection is not None
                standby.stop()

                started = time.monotonic()
                reads = [Probe.objects.get(id=n) for n in range(1, 7)]
                took = time.monotonic() - started
                assert {r._state.db for r in reads} == {"rv_primary"}
                assert [r.note for r in reads] == [f"row {n}" for n in range(1, 7)]
                assert took < 2.5, f"reads after the standby stopped took {took:.2f} s"

            with dbrouting.request_scope():  # later requests: remembered as down, no wait
                started = time.monotonic()
                assert Probe.objects.count() == 6
                assert Probe.objects.all().db == "rv_primary"
                assert time.monotonic() - started < 0.5
    finally:
        remove_alias("rv_standby")
        remove_alias("rv_primary")
        dbrouting.forget_health()


@pytest.mark.replica
def test_a_client_reads_its_own_writes_in_its_next_requests_from_a_lagging_standby(
    lagging_pair: tuple[Cluster, Cluster], settings: object
) -> None:
    """The standby replays 2 s late. A client that wrote reads from the primary in its next
    requests (pinned by its bearer token, its session, its link), for
    READ_YOUR_WRITES_SECONDS; another client still reads the standby, which does not have
    the row yet; once the pin expires, the writer reads the standby again."""
    primary, standby = lagging_pair
    with primary.connect() as conn:
        conn.execute("CREATE TABLE rv_probe (id integer PRIMARY KEY, note text NOT NULL)")
    wait_for_rows(standby, 0, within=30)

    router = PrimaryReplicaRouter(primary="rv_primary", replicas=["rv_standby"])
    primary.alias("rv_primary")
    standby.alias("rv_standby")
    add_alias("replica_0", TEST={"MIRROR": "default"})  # so that replicas are configured
    dbrouting.forget_health()
    settings.READ_YOUR_WRITES_SECONDS = 4  # type: ignore[attr-defined]
    try:
        with override_settings(DATABASE_ROUTERS=[router]), isolate_apps("reservation"):

            class Probe(models.Model):
                id = models.IntegerField(primary_key=True)
                note = models.TextField()

                class Meta:
                    app_label = "reservation"
                    db_table = "rv_probe"
                    managed = False

                def __str__(self) -> str:
                    return self.note

            def view(request: HttpRequest) -> HttpResponse:
                if request.method == "POST":
                    Probe.objects.create(id=int(request.GET["id"]), note="mine")
                    return HttpResponse("created")
                row = Probe.objects.filter(id=int(request.GET["id"])).first()
                db = Probe.objects.all().db
                return HttpResponse(f"{db}:{'found' if row else 'NOT_FOUND'}")

            app = ReadYourWritesMiddleware(view)

            def call(method: str, row: int, **headers: str) -> str:
                request = HttpRequest()
                request.method = method
                request.GET = QueryDict(f"id={row}")
                for name, value in headers.items():
                    request.META[name] = value
                if "HTTP_COOKIE" in headers:
                    request.COOKIES = dict(
                        [part.strip().split("=", 1) for part in headers["HTTP_COOKIE"].split(";")]
                    )
                return app(request).content.decode()

            clients = [
                {"HTTP_AUTHORIZATION": "Bearer rdv_client_one"},
                {"HTTP_COOKIE": f"{django_settings.SESSION_COOKIE_NAME}=session-two"},
                {"HTTP_AUTHORIZATION": "Bearer rdve_link_three"},
            ]
            stranger = {"HTTP_AUTHORIZATION": "Bearer rdv_someone_else"}
            outcomes = []
            for row, client in enumerate(clients, start=1):
                assert call("POST", row, **client) == "created"
                outcomes.append(call("GET", row, **client))  # the next request, at once
            # Someone else reads the lagging standby: the rows are not there yet
            before_replay = call("GET", 1, **stranger)

            assert outcomes == ["rv_primary:found"] * 3
            assert before_replay == "rv_standby:NOT_FOUND"

            wait_for_rows(standby, 3, within=15)
            time.sleep(4.5)  # the pins expire
            assert call("GET", 1, **clients[0]) == "rv_standby:found"
    finally:
        remove_alias("replica_0")
        remove_alias("rv_standby")
        remove_alias("rv_primary")
        dbrouting.forget_health()
