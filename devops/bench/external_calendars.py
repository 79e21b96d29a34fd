"""Benchmark of connected calendars; prints its figures (never asserts a time).

    make bench            # against DATABASE_URL, or the embedded PostgreSQL

Starts a Radicale CalDAV server on a free loopback port, fills a calendar with 5,000 events
(one a working hour on weekdays, 20 weekly series among them), then times: the first sync
(a full time-range REPORT), an incremental sync after 10 events changed (RFC 6578
sync-collection), and listing 31 days of slots with that busy time present against the same
provider with none. Its rows (e-mails under bench.invalid) are removed at the end.
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

import caldav  # noqa: E402
from django.test import override_settings  # noqa: E402

from reservation.actors import Actor  # noqa: E402
from reservation.models import ExternalBusy, Provider, User, WorkingHours  # noqa: E402
from reservation.selectors.booking import available_slots  # noqa: E402
from reservation.services import external_calendars  # noqa: E402

DOMAIN = "bench.invalid"
EVENTS = 5000
USER, PASSWORD = "bench", "bench-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_radicale(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    (folder / "users").write_text(f"{USER}:{PASSWORD}\n")
    (folder / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {folder / 'users'}\n"
        "htpasswd_encryption = plain\n"
        f"[storage]\nfilesystem_folder = {folder / 'collections'}\n[logging]\nlevel = warning\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(folder / "config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}/"


def vevent(uid: str, start: datetime, minutes: int = 45, rule: str = "") -> str:
    end = start + timedelta(minutes=minutes)
    fmt = "%Y%m%dT%H%M%SZ"
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20300101T000000Z\r\n"
        f"DTSTART:{start.strftime(fmt)}\r\nDTEND:{end.strftime(fmt)}\r\n"
        f"{rule}SUMMARY:{uid}\r\nEND:VEVENT\r\n"
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def main() -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    monday = (now - timedelta(days=now.weekday())).replace(hour=0)
    folder = Path(tempfile.mkdtemp(prefix="rdv-bench-radicale-"))
    process, url = start_radicale(folder)
    stamp = f"{now.timestamp():.0f}"
    users = []
    try:
        dav = caldav.DAVClient(url=url, username=USER, password=PASSWORD)
        calendar = dav.principal().make_calendar(name="Busy")
        # Weekday working hours 08–18 UTC over the coming weeks, one event an hour.
        starts = [
            monday + timedelta(days=day, hours=hour)
            for day in range(0, 800)
            if (monday + timedelta(days=day)).weekday() < 5
            for hour in range(8, 18)
        ][: EVENTS - 20]
        body = "".join(vevent(f"e{i}", s) for i, s in enumerate(starts))
        body += "".join(
            vevent(f"w{i}", monday + timedelta(days=i % 5, hours=7), 30, "RRULE:FREQ=WEEKLY\r\n")
            for i in range(20)
        )
        # Radicale takes a whole collection in one PUT of a multi-event calendar.
        ics = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{body}END:VCALENDAR\r\n"
        started = time.perf_counter()
        response = dav.put(str(calendar.url), ics, {"Content-Type": "text/calendar"})
        assert response.status in (201, 204), response.status
        print(f"filled Radicale with {EVENTS} events in {ms(time.perf_counter() - started)}")

        busy_user = User.objects.create_user(f"busy-{stamp}@{DOMAIN}", time_zone="UTC")
        free_user = User.objects.create_user(f"free-{stamp}@{DOMAIN}", time_zone="UTC")
        users = [busy_user, free_user]
        providers = []
        for user in users:
            providers.append(Provider.objects.create(user=user, display_name=user.email))
            WorkingHours.objects.bulk_create(
                WorkingHours(user=user, weekday=d, start=clock(7), end=clock(19)) for d in range(5)
            )
        # Radicale parses every object for a REPORT: slow for 5,000 on two busy cores.
        with override_settings(REMINDER_ALLOW_PRIVATE_NETWORKS=True, CALENDAR_HTTP_TIMEOUT=300):
            connection = external_calendars.calendar_connection_create(
                actor=Actor(user=busy_user),
                kind="CALDAV",
                url=url,
                username=USER,
                password=PASSWORD,
            )
            started = time.perf_counter()
            state = external_calendars.calendar_connection_sync(
                connection_id=connection.pk, now=now
            )
            first = time.perf_counter() - started
            rows = ExternalBusy.objects.filter(user=busy_user).count()
            connection.refresh_from_db()
            print(f"first sync ({state} {connection.last_error}): {ms(first)} for {EVENTS} events,")
            print(f"  {rows:,} busy intervals kept in the window")

            for i in range(10):
                dav.put(
                    f"{calendar.url}changed{i}.ics",
                    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
                    + vevent(f"changed{i}", monday + timedelta(days=7 + i, hours=6))
                    + "END:VCALENDAR\r\n",
                    {"Content-Type": "text/calendar"},
                )
            runs = []
            for _ in range(5):
                started = time.perf_counter()
                external_calendars.calendar_connection_sync(connection_id=connection.pk, now=now)
                runs.append(time.perf_counter() - started)
            print(
                f"incremental sync (10 new events, then nothing new): first {ms(runs[0])}, "
                f"median of the next four {ms(statistics.median(runs[1:]))}"
            )

        # Alternate the two providers run by run, so both see the same machine load.
        timings: dict[int, list[float]] = {p.pk: [] for p in providers}
        for _ in range(100):
            for provider in providers:
                started = time.perf_counter()
                available_slots(provider=provider, start=now, end=now + timedelta(days=31), now=now)
                timings[provider.pk].append(time.perf_counter() - started)
        with_busy = statistics.median(timings[providers[0].pk])
        without = statistics.median(timings[providers[1].pk])
        print(
            f"31 days of slots: {with_busy * 1000:.2f} ms with external busy time, "
            f"{without * 1000:.2f} ms without ({with_busy / without:.2f}x, medians of 100 "
            "alternating runs)"
        )
    finally:
        process.terminate()
        process.wait(10)
        for user in users:
            Provider.objects.filter(user=user).delete()
            user.delete()


if __name__ == "__main__":
    main()
