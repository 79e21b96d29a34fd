"""Benchmark of the booking pages' week view (issue 11); prints figures, never asserts a time.

    DEBUG=1 DATABASE_URL=postgresql://... .venv/bin/python devops/bench/week_view.py

A coach in Europe/Berlin (Mon-Fri 09-17, some time off, a few explicit windows) with a year of
history behind them: about 8 bookings a working day for 365 days (confirmed, some cancelled,
some expired holds) from 200 clients, and the next 60 days half booked; the policy restricts
booking to assigned clients, so that check runs too. A signed-in client then opens the week
view (/book/coach/<slug>/?week=...) for this week and the 8 after it, through Django's full
request path (middleware, session, view, template) in this process: the time is server time,
without the network; the CPU time of this process is printed too, as wall time on a loaded
machine mostly measures the wait for a CPU (the load average is printed with it). Queries are
counted per request. Everything made (e-mails under bench.invalid) is deleted at the end.
"""

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("RATE_LIMIT_ENABLED", "0")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from reservation.models import (  # noqa: E402
    AvailabilityWindow,
    BookingPolicy,
    Client,
    CoachAssignment,
    Provider,
    ProviderSlug,
    Reservation,
    TimeOff,
    User,
    WorkingHours,
)

DOMAIN = "bench.invalid"
RUNS = 30
WEEKS = 9


def build(stamp: str) -> tuple[Provider, Client, str, int]:
    rng = random.Random(11)
    now = datetime.now(UTC)
    with transaction.atomic():
        coach_user = User.objects.create_user(
            f"coach-{stamp}@{DOMAIN}", "bench-password-1", time_zone="Europe/Berlin"
        )
        coach = Provider.objects.create(user=coach_user, display_name=f"Bench Coach {stamp}")
        WorkingHours.objects.bulk_create(
            WorkingHours(user=coach_user, weekday=d, start=clock(9), end=clock(17))
            for d in range(5)
        )
        clients = [
            Client.objects.create(
                user=User.objects.create_user(f"client-{i}-{stamp}@{DOMAIN}", "bench-password-1")
            )
            for i in range(200)
        ]
        me = clients[0]
        CoachAssignment.objects.bulk_create(
            CoachAssignment(provider=coach, client=c, created_at=now) for c in clients[:50]
        )
        BookingPolicy.objects.create(provider=coach, restrict_to_assigned_clients=True)
        rows = []
        first_day = (now - timedelta(days=365)).date()
        for offset in range(365 + 60):
            day = first_day + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            future = day > now.date()
            for hour in range(8):  # 09-17 Berlin is 08-16 UTC in winter, 07-15 in summer
                if future and rng.random() < 0.5:
                    continue
                start = datetime(day.year, day.month, day.day, 7 + hour, tzinfo=UTC)
                status = rng.choices(["CONFIRMED", "CANCELLED", "EXPIRED"], [8, 1, 1])[0]
                if future:
                    status = rng.choices(["CONFIRMED", "CANCELLED"], [9, 1])[0]
                rows.append(
                    Reservation(
                        provider=coach,
                        client=rng.choice(clients),
                        start=start,
                        end=start + timedelta(hours=1),
                        status=status,
                    )
                )
        Reservation.objects.bulk_create(rows, batch_size=2000)
        for week in range(0, 60, 7):
            start = datetime.combine(now.date() + timedelta(days=week + 2), clock(12), tzinfo=UTC)
            TimeOff.objects.create(user=coach_user, start=start, end=start + timedelta(hours=2))
            AvailabilityWindow.objects.create(
                provider=coach,
                start=start + timedelta(days=3),
                end=start + timedelta(days=3, hours=4),
            )
    slug = ProviderSlug.objects.get(provider=coach, is_current=True).slug
    return coach, me, slug, len(rows)


def clean(coach: Provider) -> None:
    with transaction.atomic():
        Reservation.objects.filter(provider=coach).delete()
        users = list(User.objects.filter(email__endswith=f"@{DOMAIN}").values_list("pk", flat=True))
        CoachAssignment.objects.filter(provider=coach).delete()
        BookingPolicy.objects.filter(provider=coach).delete()
        TimeOff.objects.filter(user_id__in=users).delete()
        AvailabilityWindow.objects.filter(provider=coach).delete()
        WorkingHours.objects.filter(user_id__in=users).delete()
        ProviderSlug.objects.filter(provider=coach).delete()
        coach.delete()
        Client.objects.filter(user_id__in=users).delete()
        User.objects.filter(pk__in=users).delete()


def main() -> None:
    stamp = str(int(time.time()))
    coach, me, slug, count = build(stamp)
    try:
        http = HttpClient(HTTP_HOST="127.0.0.1")
        http.force_login(me.user)
        today = datetime.now(UTC).date()
        monday = today - timedelta(days=today.weekday())
        print(f"week view of a coach with {count} reservations (a year back, 60 days ahead)")
        print(
            f"{'week':<12} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7} {'queries':>8} "
            f"{'slots':>6}"
        )
        medians, cpus = [], []
        for week in range(WEEKS):
            url = f"/book/coach/{slug}/?week={(monday + timedelta(weeks=week)).isoformat()}"
            assert http.get(url).status_code == 200  # warm
            times, cpu = [], []
            for _ in range(RUNS):
                began, began_cpu = time.perf_counter(), time.process_time()
                response = http.get(url)
                times.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
            with CaptureQueriesContext(connection) as queries:
                response = http.get(url)
            slots = response.content.count(b'name="start"')
            times.sort()
            medians.append(statistics.median(times))
            cpus.append(statistics.median(cpu))
            print(
                f"{monday + timedelta(weeks=week)!s:<12} {statistics.median(times):>10.1f} "
                f"{times[int(0.95 * len(times)) - 1]:>8.1f} {statistics.median(cpu):>7.1f} "
                f"{len(queries):>8} {slots:>6}"
            )
        print(
            f"median over the {WEEKS} weeks: {statistics.median(medians):.1f} ms per request "
            f"(wall), {statistics.median(cpus):.1f} ms CPU in this process; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
    finally:
        clean(coach)


if __name__ == "__main__":
    main()
