"""Booking and slot listing over real HTTP, against PostgreSQL's own speed; prints figures.

    DEBUG=1 DATABASE_URL=postgresql://... .venv/bin/python devops/bench/booking_http.py [seconds]

One run, side by side on the same scratch database (devops/bench/benchdb.py):

1. pgbench (PostgreSQL 15's, from `pg_config --bindir` or /usr/lib/postgresql/15/bin) runs
   the database work of one `reservationCreate` — the token lookup, BEGIN, the provider's and
   the client's row locks, the slot-data statement, the INSERT of the hold with its audit
   entry, COMMIT: the very SQL the service sends — with 8 clients.
2. gunicorn (devops/gunicorn.conf.py, 4 processes, its sync worker as by default;
   BENCH_THREADS=2 for two threads each; DEBUG off, access log on) serves
   `reservationCreate` to 8 client threads with API tokens (each client on one connection
   as long as the server keeps it: the sync worker closes it after every answer, as it does
   nginx's); every request books a distinct slot. Prints
   bookings/s, p50/p95/p99 and the ratio to pgbench; then the same bookings through
   /bench/create, the service in a bare Django view behind the same middleware
   (devops/bench/bench_urls.py): what GraphQL adds. REDIS_URL, when set, is passed on (the
   rate limit then counts in Redis, as in production).
3. The same gunicorn serves `availableSlots` (31 days) through GraphQL and a bare Django
   JSON view over the same selector (devops/bench/bench_urls.py, mounted only here):
   requests/s, latencies and the ratio.

Writes devops/bench/results/http.json. Ports: 8500-8599 (BENCH_PORT, default 8510).
"""

import http.client
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import RESULTS, ROOT, use_bench_database

BENCH_URL = use_bench_database()

from django.db import connection  # noqa: E402

from reservation.actors import Actor  # noqa: E402
from reservation.models import (  # noqa: E402
    AvailabilityWindow,
    BookingPolicy,
    Client,
    Provider,
    User,
    WorkingHours,
)
from reservation.selectors import booking  # noqa: E402
from reservation.services.accounts import api_token_create  # noqa: E402

CLIENTS = 8
WORKERS = 4
THREADS = int(os.environ.get("BENCH_THREADS", "1"))  # devops/gunicorn.conf.py's default
PROVIDERS = 16
STEP_MINUTES = 5
PORT = int(os.environ.get("BENCH_PORT", "8510"))

CREATE = """mutation Create($input: ReservationCreateInput!) {
  reservationCreate(input: $input) {
    ... on Reservation { id status start end expiresAt }
    ... on OperationInfo { messages { code message } }
  }
}"""
SLOTS = """query Slots($providerId: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $providerId, start: $start, end: $end) { start end }
}"""


def gid(type_name: str, pk: int) -> str:
    """A relay global ID, as the API writes them."""
    from strawberry import relay

    return str(relay.GlobalID(type_name, str(pk)))


# --- data -------------------------------------------------------------------------------------


def seed(now: datetime) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reservation_notification, reservation_auditentry, reservation_reservation,"
            " procrastinate_events, procrastinate_jobs, reservation_apitoken,"
            " reservation_availabilitywindow, reservation_bookingpolicy, reservation_client,"
            " reservation_provider, reservation_workinghours, reservation_timeoff,"
            " reservation_user CASCADE"
        )
        cursor.execute("DROP SEQUENCE IF EXISTS bench_slot")
        cursor.execute("CREATE SEQUENCE bench_slot MINVALUE 0 START 0")
    # Round-the-clock providers, 5-minute slots, no notice, holds without a limit: every
    # request is a distinct, valid booking.
    BookingPolicy.objects.create(
        provider=None,
        slot_length_minutes=STEP_MINUTES,
        step_minutes=STEP_MINUTES,
        min_notice_minutes=0,
        horizon_days=90,
        hold_minutes=30,
        max_active_holds=10**6,
    )
    base = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    providers = []
    for i in range(PROVIDERS):
        user = User.objects.create_user(f"p{i}@bench.invalid", time_zone="Europe/Berlin")
        provider = Provider.objects.create(user=user, display_name=f"Provider {i}")
        AvailabilityWindow.objects.create(
            provider=provider, start=base, end=base + timedelta(days=85)
        )
        providers.append(provider.pk)
    clients = []
    for i in range(CLIENTS):
        client = Client.objects.create(
            user=User.objects.create_user(f"c{i}@bench.invalid", time_zone="UTC")
        )
        _, secret = api_token_create(actor=Actor(user=client.user), name="bench", now=now)
        clients.append((client.pk, secret))
    # The slot listing's provider: office hours in Berlin, 30-minute slots, some bookings.
    user = User.objects.create_user("office@bench.invalid", time_zone="Europe/Berlin")
    office = Provider.objects.create(user=user, display_name="Office")
    from datetime import time as clock

    WorkingHours.objects.bulk_create(
        WorkingHours(user=user, weekday=d, start=clock(9), end=clock(17)) for d in range(5)
    )
    BookingPolicy.objects.create(
        provider=office, slot_length_minutes=30, min_notice_minutes=60, horizon_days=60
    )
    return {"base": base, "providers": providers, "clients": clients, "office": office.pk}


def slot_of(n: int, data: dict) -> tuple[int, datetime]:
    """Booking number n → a (provider, start) no other number gets."""
    return data["providers"][n % PROVIDERS], data["base"] + (n // PROVIDERS) * timedelta(
        minutes=STEP_MINUTES
    )


# --- pgbench ----------------------------------------------------------------------------------


def pgbench_bin() -> str:
    try:
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if Path(bindir, "pgbench").exists():
            return str(Path(bindir, "pgbench"))
    except (OSError, subprocess.CalledProcessError):
        pass
    for candidate in ("/usr/lib/postgresql/15/bin/pgbench", shutil.which("pgbench")):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("pgbench not found (PostgreSQL 15 server binaries)")


def _sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def pgbench_script(data: dict, now: datetime) -> str:
    """The service's statements with pgbench variables: :n picks the slot, :cid the client."""
    from django.db import transaction

    from reservation.services import accounts, locks, reservations

    def literal_sql(compiled, **values: object) -> str:
        sql, params = compiled.sql_with_params(**values)
        return sql % tuple(_sql_literal(p) for p in params)

    # The service's own compiled statements (reservation.querycache) for the token lookup
    # and the two locks; FOR UPDATE is only compiled inside a transaction.
    token_sql = literal_sql(accounts._LIVE_TOKEN, digest="DIGEST").replace("'DIGEST'", ":digest")
    with transaction.atomic():
        provider_lock = literal_sql(locks._PROVIDER_LOCK, pk=-1).replace("= -1", "= :pid")
        client_lock = literal_sql(locks._CLIENT_LOCK, pk=-1).replace("= -1", "= :cid")
    start = f"('{data['base'].isoformat()}'::timestamptz + :slot * interval '{STEP_MINUTES} min')"
    span_start, _ = booking.availability_span(
        provider=Provider.objects.select_related("user").get(pk=data["providers"][0]),
        policy=BookingPolicy(),
        now=now,
    )
    defaults = BookingPolicy()
    slot_params = {
        "provider": ":pid",
        "user": ":puser",
        "now": _sql_literal(now.isoformat()) + "::timestamptz",
        "start": start,
        "end": start,
        "span_start": _sql_literal(span_start.isoformat()) + "::timestamptz",
        "exclude": "0",
        "client": ":cid",
        "key": "''",
        "horizon_days": str(defaults.horizon_days),
        "slot_minutes": str(defaults.slot_length_minutes),
        "margin_minutes": str(defaults.slot_length_minutes),
    }
    slot_sql = booking._SLOT_DATA_SQL % slot_params
    insert_params = {
        "provider": ":pid",
        "client": ":cid",
        "start": start,
        "end": f"({start} + interval '{STEP_MINUTES} min')",
        "status": "'HELD'",
        "expires_at": _sql_literal((now + timedelta(minutes=30)).isoformat()),
        "key": "''",
        "written": "now()",
        "at": _sql_literal(now.isoformat()),
        "actor_kind": "'TOKEN'",
        "actor_user": ":cuser",
        "actor_token": ":tid",
        "actor_access_token": "NULL",
        "action": "'reservation.create'",
        "subject_type": "'reservation'",
        "changes": '\'{"status": "HELD"}\'',
    }
    insert_sql = reservations._INSERT_HOLD_SQL % insert_params

    def one_line(sql: str) -> str:  # pgbench reads a statement per line (or up to ;)
        return " ".join(sql.split()) + ";"

    return "\n".join(
        [
            rf"\set c random(0, {CLIENTS - 1})",
            "SELECT nextval('bench_slot') AS n \\gset",
            rf"\set slot :n / {PROVIDERS}",
            one_line(  # noqa: S608 - a constant of this script
                "SELECT p.id AS pid, p.user_id AS puser FROM reservation_provider AS p "
                "ORDER BY p.id OFFSET :n %% PROVIDERS LIMIT 1"
            )
            .replace("%%", "%")
            .replace("PROVIDERS", str(PROVIDERS))
            .rstrip(";")
            + " \\gset",
            one_line(
                "SELECT c.id AS cid, c.user_id AS cuser, t.id AS tid, t.digest AS digest "
                "FROM reservation_client AS c JOIN reservation_apitoken AS t "
                "ON t.user_id = c.user_id ORDER BY c.id OFFSET :c LIMIT 1"
            ).rstrip(";")
            + " \\gset",
            one_line(token_sql.replace(":digest", "':digest'")),
            "BEGIN;",
            one_line(provider_lock),
            one_line(client_lock),
            one_line(slot_sql),
            one_line(insert_sql),
            "COMMIT;",
        ]
    )


def run_pgbench(script: str, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script + "\n")
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(BENCH_URL)
    cmd = [
        pgbench_bin(),
        "-n",
        "-f",
        f.name,
        "-c",
        str(CLIENTS),
        "-j",
        "2",
        "-T",
        str(seconds),
        "-P",
        str(seconds),
        "-h",
        str(info.get("host", "127.0.0.1")),
        "-p",
        str(info.get("port", 5432)),
        "-U",
        str(info.get("user", "postgres")),
        "-r",
        "-M",
        "simple",
        str(info["dbname"]),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{out.stdout}\n{out.stderr}\n{script}")
    tps = float(re.search(r"tps = ([\d.]+) \(without initial", out.stdout).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out.stdout).group(1))
    # The per-transaction latency includes the 4 set-up statements (slot pick, ids): report
    # the statements of the booking itself too.
    return {"tps": tps, "latency_avg_ms": latency, "report": out.stdout}


# --- HTTP -------------------------------------------------------------------------------------


class Server:
    def __init__(self) -> None:
        self.log_path = Path(tempfile.gettempdir()) / "rendezvous-bench-gunicorn.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        env = {
            **os.environ,
            "DATABASE_URL": BENCH_URL,
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "PYTHONPATH": f"{ROOT / 'devops' / 'bench'}:{ROOT}",
            "GUNICORN_BIND": f"127.0.0.1:{PORT}",
            "GUNICORN_WORKERS": str(WORKERS),
            "GUNICORN_THREADS": str(THREADS),
            "RATE_LIMIT_RESERVATION_CREATE": "100000000/s",
            "GRAPHQL_INTROSPECTION": "1",
        }
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "-c",
                str(ROOT / "devops" / "gunicorn.conf.py"),
                "api.wsgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"gunicorn did not start: see {self.log_path}")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.close()
        # A server error is a finding, not noise: say so, and keep its log from the next run.
        text = self.log_path.read_text(errors="replace")
        errors = text.count('"level": "ERROR"') + text.count("Traceback (most recent call last)")
        if errors:
            kept = self.log_path.with_name(f"rendezvous-bench-gunicorn-{int(time.time())}.log")
            self.log_path.rename(kept)
            print(f"  the server logged {errors} error lines: see {kept}", flush=True)


def load(make_request, seconds: float, clients: int = CLIENTS) -> dict:
    """`clients` threads, each on one connection (opened again when the server closed it),
    for `seconds`:
    make_request(i) -> (method, path, body, headers)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    stop_at = time.monotonic() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        while time.monotonic() < stop_at:
            method, path, body, headers = make_request(i)
            began = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            latencies[i].append(time.perf_counter() - began)
            if response.status != 200 or b'"errors"' in payload or b"messages" in payload:
                errors.append(payload[:300].decode(errors="replace"))
        conn.close()

    began = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    every = [x for per in latencies for x in per]
    if errors:
        print(f"  {len(errors)} failed requests, first: {errors[0]}")
    return {"latencies": every, "elapsed": elapsed, **figures(every, elapsed, len(errors))}


def figures(latencies: list[float], elapsed: float, errors: int) -> dict:
    """Requests, errors, requests/s and latency percentiles of a load."""
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(q[49] * 1000, 1),
        "p95_ms": round(q[94] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
    }


def merge_rounds(rounds: list[dict]) -> dict:
    """The figures of several load() runs taken together."""
    return figures(
        [x for r in rounds for x in r["latencies"]],
        sum(r["elapsed"] for r in rounds),
        sum(r["errors"] for r in rounds),
    )


def public(figures: dict) -> dict:
    """load()'s figures without the raw latencies."""
    return {k: v for k, v in figures.items() if k not in ("latencies", "elapsed")}


def main(argv: list[str]) -> None:
    seconds = int(argv[1]) if len(argv) > 1 else 20
    now = datetime.now(UTC)
    data = seed(now)
    connection.close()

    script = pgbench_script(data, now)
    pg = run_pgbench(script, seconds)
    print(
        f"pgbench, the same SQL as reservationCreate, {CLIENTS} clients, {seconds} s: "
        f"{pg['tps']:.0f} TPS, latency avg {pg['latency_avg_ms']:.1f} ms",
        flush=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value + 1 FROM bench_slot")
        (first,) = cursor.fetchone()
    connection.close()

    counter = itertools.count(first)
    lock = threading.Lock()

    def create_request(i: int) -> tuple:
        with lock:
            n = next(counter)
        provider, start = slot_of(n, data)
        body = json.dumps(
            {
                "query": CREATE,
                "variables": {
                    "input": {"providerId": gid("Provider", provider), "start": start.isoformat()}
                },
            }
        )
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {data['clients'][i][1]}",
        }
        return "POST", "/graphql", body, headers

    def bare_create_request(i: int) -> tuple:
        """The same booking through /bench/create: the service behind the same middleware
        (token lookup, rate limit), without GraphQL."""
        with lock:
            n = next(counter)
        provider, start = slot_of(n, data)
        body = json.dumps({"providerId": gid("Provider", provider), "start": start.isoformat()})
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {data['clients'][i][1]}",
        }
        return "POST", "/bench/create", body, headers

    server = Server()
    try:
        load(create_request, 3)  # warm-up: imports, connections, caches
        created = load(create_request, seconds)
        ratio = created["rps"] / pg["tps"]
        print(
            f"reservationCreate over HTTP, gunicorn {WORKERS} workers x {THREADS} threads, "
            f"{CLIENTS} clients, {seconds} s: {created['rps']:.0f} bookings/s, p50 "
            f"{created['p50_ms']} ms, p95 {created['p95_ms']} ms, p99 {created['p99_ms']} ms, "
            f"{created['errors']} errors; {ratio:.2f} of pgbench (1/{1 / ratio:.1f})",
            flush=True,
        )
        load(bare_create_request, 2)
        bare_created = load(bare_create_request, seconds)
        print(
            f"the same booking in a bare Django view (same middleware and service, no "
            f"GraphQL): {bare_created['rps']:.0f} bookings/s, p50 {bare_created['p50_ms']} ms, "
            f"p99 {bare_created['p99_ms']} ms, {bare_created['errors']} errors; GraphQL "
            f"{bare_created['rps'] / created['rps']:.2f}x its time",
            flush=True,
        )

        day = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        window = {"start": day.isoformat(), "end": (day + timedelta(days=31)).isoformat()}
        # Both as anonymous GETs (a browser's or a CDN's way to read; no CSRF involved).
        graphql_path = "/graphql?" + urlencode(
            {
                "query": SLOTS,
                "variables": json.dumps({"providerId": gid("Provider", data["office"]), **window}),
            }
        )
        bare_path = "/bench/slots?" + urlencode({"provider": data["office"], **window})

        def graphql_slots(i: int) -> tuple:
            return "GET", graphql_path, None, {"Accept": "application/json"}

        def bare(i: int) -> tuple:
            return "GET", bare_path, None, {}

        # Same answer both ways (the comparison is only fair if so).
        conn = http.client.HTTPConnection("127.0.0.1", PORT)
        conn.request("GET", graphql_path, headers={"Accept": "application/json"})
        via_graphql = json.loads(conn.getresponse().read())
        conn.request("GET", bare_path)
        via_bare = json.loads(conn.getresponse().read())
        conn.close()
        count = len(via_graphql["data"]["availableSlots"])
        assert count == len(via_bare["data"]["availableSlots"]) > 0, (via_graphql, via_bare)

        # Alternating rounds, so that both meet the same machine (a shared VM's speed drifts
        # by tens of per cent within a minute): requests/s over all rounds, and the median
        # of the rounds' ratios.
        load(graphql_slots, 2)
        load(bare, 2)
        rounds = max(seconds // 3, 2)
        per_round = seconds / rounds
        gq_rounds, bv_rounds = [], []
        for _ in range(rounds):
            gq_rounds.append(load(graphql_slots, per_round))
            bv_rounds.append(load(bare, per_round))
        gq, bv = merge_rounds(gq_rounds), merge_rounds(bv_rounds)
        slower = bv["rps"] / gq["rps"]
        round_ratios = sorted(
            b["rps"] / g["rps"] for g, b in zip(gq_rounds, bv_rounds, strict=True)
        )
        median_ratio = statistics.median(round_ratios)
        print(
            f"availableSlots 31 days ({count} slots), {CLIENTS} clients, {rounds} alternating "
            f"rounds of {per_round:.0f} s: GraphQL {gq['rps']:.0f} req/s (p50 {gq['p50_ms']} "
            f"ms, p99 {gq['p99_ms']} ms), bare Django view {bv['rps']:.0f} req/s (p50 "
            f"{bv['p50_ms']} ms, p99 {bv['p99_ms']} ms): GraphQL {slower:.2f}x the bare view's "
            f"time (rounds: median {median_ratio:.2f}x, "
            f"{', '.join(f'{r:.2f}' for r in round_ratios)})",
            flush=True,
        )
    finally:
        server.stop()

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "http.json").write_text(
        json.dumps(
            {
                "pgbench": {k: v for k, v in pg.items() if k != "report"},
                "reservation_create": {**public(created), "ratio_to_pgbench": round(ratio, 3)},
                "reservation_create_bare_view": public(bare_created),
                "available_slots": {
                    "slots": count,
                    "graphql": gq,
                    "bare_view": bv,
                    "graphql_over_bare": round(slower, 2),
                    "graphql_over_bare_round_median": round(median_ratio, 2),
                    "graphql_over_bare_rounds": [round(r, 2) for r in round_ratios],
                },
                "clients": CLIENTS,
                "workers": WORKERS,
                "threads": THREADS,
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "seconds": seconds,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main(sys.argv)
