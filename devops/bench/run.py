"""Benchmarks of the booking core; prints its figures (never asserts a time).

    make bench            # against DATABASE_URL, or the embedded PostgreSQL

Builds its own provider and clients (e-mails under bench.invalid), so it can run against a
development database, and removes them at the end.
"""

import os
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from reservation import slots  # noqa: E402
from reservation.models import (  # noqa: E402
    AvailabilityWindow,
    BookingPolicy,
    Client,
    Provider,
    Reservation,
    ReservationStatus,
    User,
    WorkingHours,
)
from reservation.selectors.booking import available_slots, slot_query  # noqa: E402

DOMAIN = "bench.invalid"


def timed(fn, repeat: int = 20) -> tuple[float, float]:
    """(median, max) wall time in milliseconds over `repeat` runs."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs)


def main() -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with transaction.atomic():
        user = User.objects.create_user(
            f"provider-{now.timestamp():.0f}@{DOMAIN}", time_zone="Europe/Berlin"
        )
        provider = Provider.objects.create(user=user, display_name="Bench")
        # Weekday office hours plus one round-the-clock window: the most slots a provider has.
        WorkingHours.objects.bulk_create(
            WorkingHours(user=user, weekday=d, start=clock(9), end=clock(17)) for d in range(5)
        )
        AvailabilityWindow.objects.create(
            provider=provider, start=now, end=now + timedelta(days=63)
        )
        BookingPolicy.objects.create(
            provider=provider,
            slot_length_minutes=30,
            step_minutes=5,
            min_notice_minutes=60,
            horizon_days=62,
        )
        client = Client.objects.create(
            user=User.objects.create_user(f"client-{now.timestamp():.0f}@{DOMAIN}")
        )
        # Every other hour confirmed for 60 days: 720 reservations.
        Reservation.objects.bulk_create(
            Reservation(
                provider=provider,
                client=client,
                status=ReservationStatus.CONFIRMED,
                start=now + timedelta(hours=2 * i + 3),
                end=now + timedelta(hours=2 * i + 3, minutes=30),
            )
            for i in range(720)
        )
    try:
        for days in (31, 62):
            end = now + timedelta(days=days)
            with CaptureQueriesContext(connection) as queries:
                found = available_slots(provider=provider, start=now, end=end, now=now)
            median, worst = timed(
                lambda end=end: available_slots(provider=provider, start=now, end=end, now=now)
            )
            query = slot_query(provider=provider, start=now, end=end, now=now)
            pure_median, pure_worst = timed(
                lambda end=end, query=query: slots.compute_slots(
                    availability=query.availability,
                    busy=query.busy,
                    rules=query.rules,
                    now=now,
                    start=now,
                    end=end,
                )
            )
            tracemalloc.start()
            available_slots(provider=provider, start=now, end=end, now=now)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"availableSlots {days:>2} days, 5-min step, 720 bookings: "
                f"{len(found)} slots, {len(queries)} SQL queries, "
                f"total median {median:.1f} ms (max {worst:.1f}), "
                f"pure compute median {pure_median:.1f} ms (max {pure_worst:.1f}), "
                f"peak Python memory {peak / 1024 / 1024:.1f} MiB"
            )
    finally:
        with transaction.atomic():
            Reservation.objects.filter(provider=provider).delete()
            BookingPolicy.objects.filter(provider=provider).delete()
            provider.delete()
            client.delete()
            User.objects.filter(email__endswith="@" + DOMAIN).delete()


if __name__ == "__main__":
    main()
