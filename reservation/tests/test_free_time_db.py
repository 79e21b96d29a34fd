"""freeTime from the database: people in four zones with recurring events (one moved, one
cancelled, one declined), bookings as client and provider, time off and working hours (one
overnight shift), over both DST changes of 2030 — checked against a brute-force minute grid
built here from hand-written occurrence rules, not from reservation.recurrence."""

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reservation.models import Event, EventStatus, Participant, ReservationStatus, User
from reservation.selectors.calendar import free_time, occurrences_between
from reservation.services.availability import Shift, working_hours_set
from reservation.services.calendar import (
    EventChanges,
    UpdateScope,
    event_create,
    event_respond,
    event_update,
    occurrence_cancel,
    recurrence_spec,
)
from reservation.tests.factories import (
    NOW,
    actor_for,
    make_client,
    make_provider,
    make_reservation,
    make_time_off,
    make_user,
)

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
START = datetime(2030, 3, 4, tzinfo=UTC)  # a Monday; US DST on 10 March, EU on 31 March
END = datetime(2030, 4, 8, tzinfo=UTC)
UTCZ = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")

Interval = tuple[datetime, datetime]
WEEK = ((0, 1, 2, 3, 4), (0, 1, 2, 3, 4, 5))


def local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def days(first: date, last: date, keep: Callable[[date], bool]) -> Iterable[date]:
    day = first
    while day <= last:
        if keep(day):
            yield day
        day += timedelta(days=1)


def series(
    first: date, keep: Callable[[date], bool], at: time, minutes: int, tz: ZoneInfo
) -> list[Interval]:
    """Occurrences by hand: each kept local day at local time `at`, `minutes` long."""
    return [
        (local(d, at, tz), local(d, at, tz) + timedelta(minutes=minutes))
        for d in days(first, date(2030, 4, 10), keep)
    ]


def working(shifts: list[tuple[int, time, time]], tz: ZoneInfo) -> Callable[[datetime], bool]:
    """Whether a UTC minute is inside the weekly shifts (an end <= start ends the next day)."""

    def inside(instant: datetime) -> bool:
        wall = instant.astimezone(tz)
        for weekday, s, e in shifts:
            if e > s and wall.weekday() == weekday and s <= wall.time() < e:
                return True
            if e <= s and (
                (wall.weekday() == weekday and wall.time() >= s)
                or (wall.weekday() == (weekday + 1) % 7 and wall.time() < e)
            ):
                return True
        return False

    return inside


def brute_force(
    busy: dict[str, list[Interval]],
    works: dict[str, Callable[[datetime], bool]],
    minimum: timedelta,
) -> list[Interval]:
    """Maximal runs of minutes in [START, END) when everyone works and nobody is busy."""
    size = int((END - START) / MINUTE)
    free = bytearray([1]) * size
    for intervals in busy.values():
        for s, e in intervals:
            lo = max(0, int((s - START) / MINUTE))
            hi = min(size, int((e - START) / MINUTE))
            if lo < hi:
                free[lo:hi] = bytes(hi - lo)
    for inside in works.values():
        for i in range(size):
            if free[i] and not inside(START + i * MINUTE):
                free[i] = 0
    runs: list[Interval] = []
    i = 0
    while i < size:
        if free[i]:
            j = i
            while j < size and free[j]:
                j += 1
            if (j - i) * MINUTE >= minimum:
                runs.append((START + i * MINUTE, START + j * MINUTE))
            i = j
        else:
            i += 1
    return runs


def set_hours(user: User, shifts: list[tuple[int, time, time]]) -> None:
    working_hours_set(
        actor=actor_for(user), shifts=[Shift(weekday=w, start=s, end=e) for w, s, e in shifts]
    )


ANA_HOURS = [(d, time(8), time(18)) for d in WEEK[0]]
BEN_HOURS = [(d, time(9), time(17)) for d in WEEK[0]]
CHO_HOURS = [(d, time(5), time(13)) for d in WEEK[0]]
DAN_HOURS = [(d, time(16), time(2)) for d in WEEK[1]]  # overnight, Monday to Saturday


@pytest.fixture
def world() -> tuple[list[User], dict[str, list[Interval]]]:
    """Ana (UTC, a provider), Ben (Berlin), Cho (New York, a client), Dan (Tokyo); their
    events, bookings and time off; and each one's busy time written out by hand."""
    ana_provider = make_provider(email="ana@example.com", time_zone="UTC", hours=None)
    ana = ana_provider.user
    ben = make_user(email="ben@example.com", time_zone="Europe/Berlin")
    cho_client = make_client(email="cho@example.com", time_zone="America/New_York")
    cho = cho_client.user
    dan = make_user(email="dan@example.com", time_zone="Asia/Tokyo")
    for person, hours in ((ana, ANA_HOURS), (ben, BEN_HOURS), (cho, CHO_HOURS), (dan, DAN_HOURS)):
        set_hours(person, hours)

    def create(organizer: User, start: datetime, minutes: int, zone: str, **kw: object) -> Event:
        return event_create(
            actor=actor_for(organizer),
            title="E",
            start=start,
            end=start + timedelta(minutes=minutes),
            time_zone=zone,
            now=NOW,
            **kw,  # type: ignore[arg-type]
        )

    # E1: Ben's Mon/Wed 10:00 Berlin hour with Ana (undecided) and Cho (declined); the 11 March
    # occurrence moved to Tuesday 12 March 15:00 Berlin, the 18 March one cancelled.
    e1 = create(
        ben,
        local(date(2030, 3, 4), time(10), BERLIN),
        60,
        "Europe/Berlin",
        participants=[ana.email, cho.email],
        recurrence_rule=recurrence_spec(kind="WEEKLY", weekdays=[0, 2]),
    )
    event_respond(actor=actor_for(cho), event_id=e1.pk, decision="NO", now=NOW)
    event_update(
        actor=actor_for(ben),
        event_id=e1.pk,
        expected_version=1,
        scope=UpdateScope.THIS_OCCURRENCE,
        occurrence_start=local(date(2030, 3, 11), time(10), BERLIN),
        changes=EventChanges(start=local(date(2030, 3, 12), time(15), BERLIN)),
        now=NOW,
    )
    occurrence_cancel(
        actor=actor_for(ben),
        event_id=e1.pk,
        occurrence_start=local(date(2030, 3, 18), time(10), BERLIN),
        expected_version=2,
        now=NOW,
    )
    e1_times = [
        o
        for o in series(date(2030, 3, 4), lambda d: d.weekday() in (0, 2), time(10), 60, BERLIN)
        if o[0].date() not in (date(2030, 3, 11), date(2030, 3, 18))
    ] + [(local(date(2030, 3, 12), time(15), BERLIN), local(date(2030, 3, 12), time(16), BERLIN))]

    # E2: Cho's workday 07:00 New York half hour with Dan (yes), since 1 March.
    e2 = create(
        cho,
        local(date(2030, 3, 1), time(7), NEW_YORK),
        30,
        "America/New_York",
        participants=[dan.email],
        recurrence_rule=recurrence_spec(kind="WORKDAYS"),
    )
    event_respond(actor=actor_for(dan), event_id=e2.pk, decision="YES", now=NOW)
    e2_times = series(date(2030, 3, 1), lambda d: d.weekday() < 5, time(7), 30, NEW_YORK)

    # E3: Ana alone, every other Thursday 14:00 UTC for 90 minutes from 7 March.
    create(
        ana,
        datetime(2030, 3, 7, 14, tzinfo=UTC),
        90,
        "UTC",
        recurrence_rule=recurrence_spec(kind="WEEKLY", interval=2, weekdays=[3]),
    )
    e3_times = series(
        date(2030, 3, 7),
        lambda d: d.weekday() == 3 and (d - date(2030, 3, 7)).days % 14 == 0,
        time(14),
        90,
        UTCZ,
    )

    # E4: Dan's last-Friday-of-the-month hour at 18:00 Tokyo, with Ben (maybe), since January.
    e4 = create(
        dan,
        local(date(2030, 1, 25), time(18), TOKYO),
        60,
        "Asia/Tokyo",
        participants=[ben.email],
        recurrence_rule=recurrence_spec(kind="MONTHLY_BY_WEEKDAY", weekday=4, week_of_month=-1),
    )
    event_respond(actor=actor_for(ben), event_id=e4.pk, decision="MAYBE", now=NOW)
    e4_times = series(
        date(2030, 1, 25),
        lambda d: d.weekday() == 4 and (d + timedelta(days=7)).month != d.month,
        time(18),
        60,
        TOKYO,
    )

    # E5: a single hour for Ben and Dan; E6: cancelled, frees Ana.
    e5_time = (datetime(2030, 3, 20, 13, tzinfo=UTC), datetime(2030, 3, 20, 14, tzinfo=UTC))
    create(ben, e5_time[0], 60, "UTC", participants=[dan.email])
    e6 = create(ana, datetime(2030, 3, 21, 9, tzinfo=UTC), 120, "UTC")
    Event.objects.filter(pk=e6.pk).update(status=EventStatus.CANCELLED)

    # Bookings of Ana's time by Cho: confirmed and live-held block both; others do not.
    booked = (datetime(2030, 3, 14, 15, tzinfo=UTC), datetime(2030, 3, 14, 16, tzinfo=UTC))
    held = (datetime(2030, 3, 26, 11, tzinfo=UTC), datetime(2030, 3, 26, 12, tzinfo=UTC))
    make_reservation(provider=ana_provider, client=cho_client, start=booked[0])
    make_reservation(
        provider=ana_provider,
        client=cho_client,
        start=held[0],
        status=ReservationStatus.HELD,
        expires_at=NOW + timedelta(minutes=30),
    )
    make_reservation(
        provider=ana_provider,
        client=cho_client,
        start=datetime(2030, 3, 27, 11, tzinfo=UTC),
        status=ReservationStatus.HELD,
        expires_at=NOW - timedelta(minutes=1),
    )
    make_reservation(
        provider=ana_provider,
        client=cho_client,
        start=datetime(2030, 3, 28, 11, tzinfo=UTC),
        status=ReservationStatus.CANCELLED,
    )
    off = (datetime(2030, 4, 1, 12, tzinfo=UTC), datetime(2030, 4, 2, 12, tzinfo=UTC))
    make_time_off(user=dan, start=off[0], end=off[1])

    busy = {
        "ana": [*e1_times, *e3_times, booked, held],
        "ben": [*e1_times, *e4_times, e5_time],
        "cho": [*e2_times, booked, held],
        "dan": [*e2_times, *e4_times, e5_time, off],
    }
    assert Participant.objects.get(event=e1, user=cho).rsvp == "NO"
    return [ana, ben, cho, dan], busy


WORKS = {
    "ana": working(ANA_HOURS, UTCZ),
    "ben": working(BEN_HOURS, BERLIN),
    "cho": working(CHO_HOURS, NEW_YORK),
    "dan": working(DAN_HOURS, TOKYO),
}


@pytest.mark.parametrize("minutes", [1, 30, 45, 90])
@pytest.mark.parametrize(
    "who", [("ana", "ben"), ("ben", "cho", "dan"), ("ana", "ben", "cho", "dan")]
)
def test_free_time_matches_a_minute_grid(
    world: tuple[list[User], dict[str, list[Interval]]], who: tuple[str, ...], minutes: int
) -> None:
    people, busy = world
    by_name = dict(zip(("ana", "ben", "cho", "dan"), people, strict=True))
    expected = brute_force(
        {n: busy[n] for n in who}, {n: WORKS[n] for n in who}, timedelta(minutes=minutes)
    )
    got = free_time(
        users=[by_name[n] for n in who],
        start=START,
        end=END,
        duration=timedelta(minutes=minutes),
        limit=100,
        now=NOW,
    )
    assert expected  # the scenario leaves some common time
    assert got == expected[:100]


def test_busy_occurrences_match_the_hand_written_ones(
    world: tuple[list[User], dict[str, list[Interval]]],
) -> None:
    people, busy = world
    ben = people[1]
    found = occurrences_between(users=[ben], start=START, end=END)
    assert sorted((o.start, o.end) for o in found) == sorted(
        (s, e) for s, e in busy["ben"] if s < END and e > START
    )


def test_free_time_queries_do_not_grow_with_data(
    world: tuple[list[User], dict[str, list[Interval]]], django_assert_num_queries
) -> None:
    people, _ = world
    with django_assert_num_queries(6):
        free_time(users=people, start=START, end=END, duration=timedelta(minutes=30), now=NOW)
    for i in range(30):  # many more events and bookings
        event_create(
            actor=actor_for(people[i % 4]),
            title=f"More {i}",
            start=START + timedelta(hours=i * 7),
            end=START + timedelta(hours=i * 7 + 1),
            time_zone="UTC",
            participants=[p.email for p in people],
            recurrence_rule=recurrence_spec(kind="DAILY") if i % 2 else None,
            now=NOW,
        )
    with django_assert_num_queries(6):
        free_time(users=people, start=START, end=END, duration=timedelta(minutes=30), now=NOW)
