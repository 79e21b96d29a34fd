"""Benchmark of the freeTime selector against the database; prints figures, never asserts a time.

    DEBUG=1 DATABASE_URL=postgresql://... .venv/bin/python devops/bench/freetime_db.py

Stores the calendars of devops/bench/freetime.py (10 people in 10 zones, each with a year of
mixed recurring events, some occurrences moved or cancelled, about 400 one-offs, working hours
Mon-Fri 09-17 in their own zone) through the ORM, plus confirmed bookings between them; then
times reservation.selectors.calendar.free_time end to end (queries, expansion and sweep) and the
pure sweep (reservation.freetime.free_intervals) on the same inputs, and counts SQL queries.
Everything it creates (e-mails under bench.invalid) is deleted at the end.
"""

import os
import random
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from freetime import (  # noqa: E402 - devops/bench/freetime.py, this script's neighbour
    YEAR_END,
    YEAR_START,
    ZONES,
    person_events,
    timed,
)

from reservation import freetime  # noqa: E402
from reservation.models import (  # noqa: E402
    Client,
    Event,
    EventStatus,
    OccurrenceChange,
    Participant,
    Provider,
    Reservation,
    ReservationStatus,
    User,
    WorkingHours,
)
from reservation.selectors.calendar import (  # noqa: E402
    _busy_by_user,
    _working_by_user,
    free_time,
)

DOMAIN = "bench.invalid"
NOW = datetime(2026, 12, 1, tzinfo=UTC)  # before the year asked about: every booking is live
DURATION = timedelta(minutes=30)
PROVIDERS = (0, 3, 6)  # people whose time the others book
BOOKINGS_PER_PROVIDER = 40


def store(stamp: str) -> list[User]:
    """The ten people and their calendars, in one transaction; returns the users in order."""
    users: list[User] = []
    with transaction.atomic():
        for index, zone in enumerate(ZONES):
            users.append(
                User.objects.create_user(f"freetime-{index}-{stamp}@{DOMAIN}", time_zone=zone)
            )
        WorkingHours.objects.bulk_create(
            WorkingHours(user=user, weekday=d, start=time(9), end=time(17))
            for user in users
            for d in range(5)
        )
        for user, (events, _) in zip(users, map(person_events, range(len(users))), strict=True):
            rows = Event.objects.bulk_create(
                Event(
                    organizer=user,
                    title="Bench",
                    status=EventStatus.SCHEDULED,
                    start=event.start,
                    end=event.end,
                    time_zone=event.tz.key,
                    recurrence=event.rule or "",
                    created_at=NOW,
                    updated_at=NOW,
                )
                for event in events
            )
            Participant.objects.bulk_create(
                Participant(
                    event=row,
                    user=user,
                    role=Participant.Role.ORGANIZER,
                    rsvp=Participant.Rsvp.YES,
                )
                for row in rows
            )
            OccurrenceChange.objects.bulk_create(
                OccurrenceChange(
                    event=row,
                    original_start=change.original_start,
                    cancelled=change.cancelled,
                    start=change.new_start,
                    end=change.new_end,
                )
                for row, event in zip(rows, events, strict=True)
                for change in event.changes
            )
        rng = random.Random(2027)
        for index in PROVIDERS:
            provider = Provider.objects.create(user=users[index], display_name=f"Bench {index}")
            bookings = []
            for day in sorted(rng.sample(range(365), BOOKINGS_PER_PROVIDER)):
                start = YEAR_START + timedelta(days=day, hours=rng.randint(8, 17))
                client, _ = Client.objects.get_or_create(user=users[(index + 1 + day) % 10])
                bookings.append(
                    Reservation(
                        provider=provider,
                        client=client,
                        status=ReservationStatus.CONFIRMED,
                        start=start,
                        end=start + timedelta(hours=1),
                    )
                )
            Reservation.objects.bulk_create(bookings)
    return users


def remove(stamp: str) -> None:
    users = User.objects.filter(email__endswith=f"-{stamp}@{DOMAIN}")
    with transaction.atomic():
        Reservation.objects.filter(provider__user__in=users).delete()
        Event.objects.filter(organizer__in=users).delete()  # participants and changes cascade
        Provider.objects.filter(user__in=users).delete()
        Client.objects.filter(user__in=users).delete()
        users.delete()  # working hours cascade


def main() -> None:
    stamp = f"{datetime.now(UTC).timestamp():.0f}"
    users = store(stamp)
    try:
        counts = (
            Event.objects.filter(organizer__in=users).count(),
            OccurrenceChange.objects.filter(event__organizer__in=users).count(),
            Reservation.objects.filter(provider__user__in=users).count(),
        )
        print(
            f"stored: {len(users)} people, {counts[0]} events, {counts[1]} occurrence changes, "
            f"{counts[2]} confirmed bookings, over 2027"
        )
        for size in (2, 5, len(users)):
            people = users[:size]
            busy = _busy_by_user(users=people, start=YEAR_START, end=YEAR_END, now=NOW)
            working = _working_by_user(users=people, start=YEAR_START, end=YEAR_END)
            intervals = sum(len(busy[u.pk]) + len(working[u.pk]) for u in people)
            for limit in (10, 100):
                with CaptureQueriesContext(connection) as queries:
                    found = free_time(
                        users=people,
                        start=YEAR_START,
                        end=YEAR_END,
                        duration=DURATION,
                        limit=limit,
                        now=NOW,
                    )
                median, worst, again = timed(
                    lambda people=people, limit=limit: free_time(
                        users=people,
                        start=YEAR_START,
                        end=YEAR_END,
                        duration=DURATION,
                        limit=limit,
                        now=NOW,
                    ),
                    repeat=10,
                )
                pure_median, pure_worst, pure = timed(
                    lambda people=people, limit=limit, busy=busy, working=working: (
                        freetime.free_intervals(
                            busy_by_person=[busy[u.pk] for u in people],
                            working_by_person=[working[u.pk] for u in people],
                            start=YEAR_START,
                            end=YEAR_END,
                            min_length=DURATION,
                            limit=limit,
                        )
                    ),
                    repeat=20,
                )
                assert found == again == pure  # the same inputs give the same answer
                first = f"{found[0][0]:%m-%d %H:%M} UTC" if found else "none"
                print(
                    f"free_time {size:>2} people, 1 year, >= 30 min, limit {limit:>3}: "
                    f"{len(found):>3} intervals (first {first}) from {intervals} intervals; "
                    f"{len(queries)} SQL queries; end to end median {median:.1f} ms "
                    f"(max {worst:.1f}), sweep alone median {pure_median:.1f} ms "
                    f"(max {pure_worst:.1f})"
                )
    finally:
        remove(stamp)
    left = User.objects.filter(email__endswith=f"-{stamp}@{DOMAIN}").count()
    print(f"cleaned up: {left} bench users left")


if __name__ == "__main__":
    main()
