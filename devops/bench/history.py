"""Slot listing for a provider with ten years of history vs one with a week; prints figures
and saves EXPLAIN output of the main queries under devops/bench/explain/.

    DEBUG=1 DATABASE_URL=postgresql://... .venv/bin/python devops/bench/history.py

In its scratch database (devops/bench/benchdb.py): provider "long" has ten bookings a day for
ten years (36,500 reservations, all in the past but the next days), provider "short" the same
calendar for one week only; both have the same working hours and policy. Times
`available_slots` over the next 31 days for each (median of 40 interleaved runs,
in-process) and prints
the ratio. Writes devops/bench/results/history.json and, in devops/bench/explain/, EXPLAIN
(ANALYZE, BUFFERS) of: the slot-data statement (both providers), one expiry-sweep batch, and
the hold's INSERT.
"""

import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import RESULTS, use_bench_database

use_bench_database("bench_history")

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from reservation.models import (  # noqa: E402
    BookingPolicy,
    Client,
    Provider,
    User,
    WorkingHours,
)
from reservation.selectors.booking import available_slots  # noqa: E402
from reservation.services import expiry  # noqa: E402

EXPLAIN = Path(__file__).resolve().parent / "explain"
PER_DAY = 10


def seed(now: datetime) -> tuple[Provider, Provider]:
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(
            "TRUNCATE reservation_notification, reservation_auditentry, reservation_reservation,"
            " procrastinate_events, procrastinate_jobs, reservation_bookingpolicy,"
            " reservation_client, reservation_provider, reservation_workinghours,"
            " reservation_user CASCADE"
        )
    BookingPolicy.objects.create(provider=None, slot_length_minutes=30, horizon_days=60)
    client = Client.objects.create(user=User.objects.create_user("c@bench.invalid"))
    providers = []
    for name, days in (("long", 3650), ("short", 7)):
        user = User.objects.create_user(f"{name}@bench.invalid", time_zone="Europe/Berlin")
        provider = Provider.objects.create(user=user, display_name=name)
        WorkingHours.objects.bulk_create(
            WorkingHours(user=user, weekday=d, start=clock(8), end=clock(18)) for d in range(5)
        )
        first_day = (now - timedelta(days=days)).replace(hour=8, minute=0, second=0, microsecond=0)
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
            # PER_DAY confirmed half-hours a day, every day from `days` ago to three days on.
            cursor.execute(
                """
                INSERT INTO reservation_reservation (provider_id, client_id, start, "end",
                    status, idempotency_key, cancel_reason, created_at, updated_at)
                SELECT %(provider)s, %(client)s, s, s + interval '30 min', 'CONFIRMED', '', '',
                    %(now)s, %(now)s
                FROM generate_series(0, %(days)s + 3) AS d,
                     generate_series(0, %(per_day)s - 1) AS k,
                     LATERAL (SELECT %(first)s::timestamptz + d * interval '1 day'
                                     + k * interval '1 hour' AS s) AS slot
                """,
                {
                    "provider": provider.pk,
                    "client": client.pk,
                    "now": now,
                    "days": days,
                    "per_day": PER_DAY,
                    "first": first_day,
                },
            )
        providers.append(provider)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reservation_reservation")
    return providers[0], providers[1]


def explain(name: str, sql: str, params: object) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)  # EXPLAIN ANALYZE of a write really writes: undo it
    EXPLAIN.mkdir(exist_ok=True)
    (EXPLAIN / f"{name}.txt").write_text(f"-- {name}\n{sql.strip()}\n\n{plan}\n")
    return plan


def main() -> None:
    now = datetime.now(UTC)
    long, short = seed(now)
    long = Provider.objects.select_related("user").get(pk=long.pk)
    short = Provider.objects.select_related("user").get(pk=short.pk)
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    end = start + timedelta(days=31)

    figures = {}
    # Interleaved, so a busy machine slows both alike.
    runs: dict[str, list[float]] = {"long": [], "short": []}
    for _ in range(40):
        for provider in (long, short):
            began = time.perf_counter()
            available_slots(provider=provider, start=start, end=end, now=now)
            runs[provider.display_name].append((time.perf_counter() - began) * 1000)
    for provider in (long, short):
        count = provider.reservations.count()
        with CaptureQueriesContext(connection) as queries:
            found = available_slots(provider=provider, start=start, end=end, now=now)
        ms = statistics.median(runs[provider.display_name])
        figures[provider.display_name] = {
            "reservations": count,
            "slots": len(found),
            "median_ms": round(ms, 2),
            "queries": len(queries),
        }
        slot_sql = queries[-1]["sql"]
        explain(f"slot_data_{provider.display_name}_history", slot_sql, None)
        print(
            f"availableSlots 31 days, provider with {count:,} reservations "
            f"({provider.display_name} history): {len(found)} slots, {len(queries)} "
            f"statement(s), median {ms:.2f} ms",
            flush=True,
        )
    ratio = figures["long"]["median_ms"] / figures["short"]["median_ms"]
    print(f"ten years of history / one week: {ratio:.2f}x", flush=True)

    # One sweep batch over 1,000 stale holds of the long provider's client.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO reservation_reservation (provider_id, client_id, start, "end", status,
                expires_at, idempotency_key, cancel_reason, created_at, updated_at)
            SELECT %(provider)s, (SELECT id FROM reservation_client LIMIT 1),
                %(base)s + i * interval '1 hour', %(base)s + i * interval '1 hour'
                + interval '30 min', 'HELD', %(lapsed)s, '', '', %(now)s, %(now)s
            FROM generate_series(1, 1000) AS i
            """,
            {
                "provider": short.pk,
                "base": now + timedelta(days=400),
                "lapsed": now - timedelta(minutes=1),
                "now": now,
            },
        )
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        expiry._expire_batch(now=now, limit=expiry.SWEEP_BATCH, skip_locked=True)
        transaction.set_rollback(True)
    sweep_sql = next(q["sql"] for q in queries if q["sql"].lstrip().startswith("WITH due"))
    explain("expiry_sweep_batch", sweep_sql, None)

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "history.json").write_text(
        json.dumps({"history": figures, "ratio": round(ratio, 2)}, indent=2) + "\n"
    )
    print(f"EXPLAIN output written to {EXPLAIN}", flush=True)


if __name__ == "__main__":
    main()
