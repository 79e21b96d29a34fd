"""Benchmark of the hold-expiry sweep (reservation.services.expiry); prints, never asserts.

    DEBUG=1 DATABASE_URL=postgresql://... .venv/bin/python devops/bench/sweep.py [10000 ...]
    SWEEP_WORKERS=1 ...   # one sweep instead of two sharing the backlog (tasks.EXPIRE_SWEEPERS)
    SWEEP_WEBHOOK_HOLDS=0 ...   # skip the run with a webhook listening (default 100000)

In the scratch database (devops/bench/benchdb.py) it stores N stale holds (default 10k, 100k
and 1M; 10,000 per provider, clients in several time zones), then times one `expire_sweep`
(the periodic job's work) under the normal 5 s statement timeout, and reports rows per
second, the slowest batch, and the process's memory (Python peak by tracemalloc, and the
growth of the resident set). Every hold gets its audit entry and its mail in the sweep; the
mail jobs are deferred by the fan-out jobs the sweep leaves (timed apart, as the workers would
run them). Then one more run with a global webhook hearing every expiry: each hold also gets
its webhook delivery. The sweep runs with Django's query log off (DEBUG's log keeps the last
9,000 statements, which is not the sweep's memory). Writes devops/bench/results/sweep.json,
with the load average seen.
"""

import json
import os
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import RESULTS, use_bench_database

use_bench_database("bench_sweep")

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from reservation.services import expiry  # noqa: E402

PER_PROVIDER = 10_000
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Sydney"]


def reset() -> None:
    """Empty the tables the sweep reads and writes (this is the scratch database)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reservation_notification, reservation_auditentry, reservation_reservation, "
            "procrastinate_events, procrastinate_jobs, reservation_client, reservation_provider, "
            "reservation_workinghours, reservation_webhookdelivery, reservation_webhook, "
            "reservation_user CASCADE"
        )


def stale_holds(count: int, now: datetime, *, webhook: bool = False) -> None:
    """`count` HELD rows that lapsed a minute before `now`, in chunks under no time limit."""
    providers = max(1, -(-count // PER_PROVIDER))
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(
            """
            INSERT INTO reservation_user (password, is_superuser, email, name, time_zone,
                free_busy_sharing, is_active, is_staff, date_joined)
            SELECT '!', false, 'p' || i || '@bench.invalid', '', 'Europe/Berlin', 'CONTACTS',
                true, false, %(now)s FROM generate_series(1, %(providers)s) AS i
            """,
            {"now": now, "providers": providers},
        )
        cursor.execute(
            """
            INSERT INTO reservation_provider (display_name, is_active, created_at, user_id)
            SELECT 'Provider ' || u.id, true, %(now)s, u.id FROM reservation_user AS u
            """,
            {"now": now},
        )
        cursor.execute(
            """
            INSERT INTO reservation_user (password, is_superuser, email, name, time_zone,
                free_busy_sharing, is_active, is_staff, date_joined)
            SELECT '!', false, 'c' || i || '@bench.invalid', '', (%(zones)s::text[])[1 + i %% 5],
                'CONTACTS', true, false, %(now)s FROM generate_series(1, 1000) AS i
            """,
            {"now": now, "zones": ZONES},
        )
        cursor.execute(
            """
            INSERT INTO reservation_client (user_id, created_at)
            SELECT id, %(now)s FROM reservation_user WHERE email LIKE 'c%%'
            """,
            {"now": now},
        )
        cursor.execute("SELECT array_agg(id ORDER BY id) FROM reservation_provider")
        (provider_ids,) = cursor.fetchone()
        cursor.execute("SELECT array_agg(id ORDER BY id) FROM reservation_client")
        (client_ids,) = cursor.fetchone()
        for index, provider_id in enumerate(provider_ids):
            rows = min(PER_PROVIDER, count - index * PER_PROVIDER)
            cursor.execute(
                """
                INSERT INTO reservation_reservation (provider_id, client_id, start, "end",
                    status, expires_at, idempotency_key, cancel_reason, created_at, updated_at)
                SELECT %(provider)s, (%(clients)s::bigint[])[1 + (i * 7 + %(provider)s) %% 1000],
                    %(base)s + i * interval '1 hour',
                    %(base)s + i * interval '1 hour' + interval '30 min',
                    'HELD', %(expired)s, '', '', %(created)s, %(created)s
                FROM generate_series(0, %(rows)s - 1) AS i
                """,
                {
                    "provider": provider_id,
                    "clients": client_ids,
                    "rows": rows,
                    "base": now + timedelta(days=1),
                    "expired": now - timedelta(minutes=1),
                    "created": now - timedelta(minutes=31),
                },
            )
        cursor.execute("ANALYZE reservation_reservation")
        if webhook:  # a staff member's global webhook, hearing every expiry
            cursor.execute(
                """
                INSERT INTO reservation_webhook (owner_id, url, secret, events, is_global,
                    is_active, consecutive_failures, created_at, updated_at)
                SELECT min(id), 'https://hooks.bench.invalid/in', 'whsec_bench',
                    ARRAY['reservation.expired'], true, true, 0, %(now)s, %(now)s
                FROM reservation_user
                """,
                {"now": now},
            )
        cursor.execute("SET statement_timeout = DEFAULT")  # the sweep runs under the real one


def sweep(now: datetime, workers: int) -> expiry.SweepResult:
    """The periodic job's sweep: `workers` sweeps share a backlog (expire_sweep's threads,
    each on its own connection; SKIP LOCKED splits the rows between them)."""
    try:
        return expiry.expire_sweep(now=now, workers=workers)
    finally:
        connection.close()


def run(count: int, workers: int, *, webhook: bool = False) -> dict[str, float]:
    now = datetime.now(UTC)
    reset()
    started = time.perf_counter()
    stale_holds(count, now, webhook=webhook)
    setup = time.perf_counter() - started

    batch_times: list[float] = []
    batch = expiry._expire_batch

    def timed_batch(**kwargs: object) -> tuple[int, int]:
        began = time.perf_counter()
        try:
            return batch(**kwargs)
        finally:
            batch_times.append(time.perf_counter() - began)

    expiry._expire_batch = timed_batch
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load_before = os.getloadavg()[0]
    settings.DEBUG = False  # as in production: no query log
    tracemalloc.start()
    try:
        began = time.perf_counter()
        result = sweep(now, workers)
        seconds = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        settings.DEBUG = True
        expiry._expire_batch = batch
    load = max(load_before, os.getloadavg()[0])
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM reservation_reservation WHERE status = 'EXPIRED'),"
            " (SELECT count(*) FROM reservation_auditentry),"
            " (SELECT count(*) FROM reservation_notification),"
            " (SELECT array_agg(args ORDER BY id) FROM procrastinate_jobs"
            "  WHERE task_name = 'reservation.defer_notification_sends'),"
            " (SELECT count(*) FROM reservation_webhookdelivery),"
            " (SELECT array_agg(args ORDER BY id) FROM procrastinate_jobs"
            "  WHERE task_name = 'reservation.defer_webhook_deliveries')"
        )
        expired_rows, audits, mails, fan_outs, deliveries, hook_fan_outs = cursor.fetchone()
    assert result.expired == expired_rows == audits == mails == count, result
    assert deliveries == (count if webhook else 0), deliveries
    print(
        f"sweep {count:>9,} stale holds{' + webhook' if webhook else ''}: {seconds:6.2f} s "
        f"({round(count / seconds):,} rows/s), {workers} workers, {result.batches} batches of "
        f"{expiry.SWEEP_BATCH}, slowest batch {max(batch_times) * 1000:.0f} ms, Python peak "
        f"{peak / 2**20:.2f} MiB, RSS growth {rss_growth / 1024:.1f} MiB, load {load:.1f}",
        flush=True,
    )
    # What the workers then do for the mail (and webhook) queue, not part of the sweep: the
    # fan-out jobs.
    fan_outs = [json.loads(a) if isinstance(a, str) else a for a in fan_outs or []]
    hook_fan_outs = [json.loads(a) if isinstance(a, str) else a for a in hook_fan_outs or []]
    connection.close()  # (the sweep's threads had their own)
    began = time.perf_counter()
    for args in fan_outs:
        expiry.expiry_mails_defer(notification_ids=args["notification_ids"])
    for args in hook_fan_outs:
        expiry.expiry_webhooks_defer(delivery_ids=args["delivery_ids"])
    fan_out_seconds = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE task_name = 'reservation.send_notification'),"
            " count(*) FILTER (WHERE task_name = 'reservation.deliver_webhook')"
            " FROM procrastinate_jobs"
        )
        assert cursor.fetchone() == (count, deliveries)
    figures = {
        "holds": count,
        "seconds": round(seconds, 3),
        "rows_per_second": round(count / seconds),
        "workers": workers,
        "webhook_deliveries": deliveries,
        "load_average": round(load, 1),
        "batches": result.batches,
        "batch_rows": expiry.SWEEP_BATCH,
        "slowest_batch_ms": round(max(batch_times) * 1000, 1),
        "python_peak_mib": round(peak / 2**20, 2),
        "rss_growth_mib": round(rss_growth / 1024, 1),
        "setup_seconds": round(setup, 1),
        "fan_out_jobs": len(fan_outs) + len(hook_fan_outs),
        "fan_out_seconds": round(fan_out_seconds, 2),
    }
    print(
        f"  then the workers' {len(fan_outs) + len(hook_fan_outs)} fan-out jobs deferred the "
        f"{count:,} mail jobs{f' and {deliveries:,} webhook jobs' if webhook else ''} in "
        f"{fan_out_seconds:.1f} s",
        flush=True,
    )
    return figures


def main(argv: list[str]) -> None:
    workers = int(os.environ.get("SWEEP_WORKERS", "2"))
    sizes = [int(a) for a in argv[1:]] or [10_000, 100_000, 1_000_000]
    runs = [run(count, workers) for count in sizes]
    webhook_holds = int(os.environ.get("SWEEP_WEBHOOK_HOLDS", "100000"))
    hooked = [run(webhook_holds, workers, webhook=True)] if webhook_holds else []
    reset()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweep.json").write_text(
        json.dumps({"sweep": runs, "sweep_webhook": hooked}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main(sys.argv)
