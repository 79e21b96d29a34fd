"""Calendar feeds: the secret URL's lifecycle (services), and the .ics a feed or an event export
holds, parsed back with icalendar and expanded as a calendar app would (python-dateutil), then
compared with the calendar's own reading of the same rows (`occurrences_between`)."""

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil.rrule import rrulestr

from reservation.actors import ANONYMOUS
from reservation.errors import ErrorCode
from reservation.ical import calendar_feed, event_export, event_uid, reservation_uid
from reservation.models import (
    AuditEntry,
    CalendarFeed,
    Client,
    Event,
    EventStatus,
    OccurrenceChange,
    Participant,
    Reminder,
    ReservationStatus,
    User,
)
from reservation.selectors.calendar import occurrences_between
from reservation.services.feeds import (
    calendar_feed_authenticate,
    calendar_feed_create,
    calendar_feed_revoke,
    calendar_feed_url,
)
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    make_client,
    make_provider,
    make_reservation,
    make_user,
    rejected,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
WEEKLY = "FREQ=WEEKLY;BYDAY=TU"
LAST_FRIDAY = "FREQ=MONTHLY;BYDAY=-1FR"


def make_event(
    *,
    organizer: User,
    parties: dict[User, str] | None = None,
    title: str = "Sync",
    start: datetime | None = None,
    length: timedelta = HOUR,
    time_zone: str = "UTC",
    recurrence: str = "",
    status: str = EventStatus.SCHEDULED,
    version: int = 3,
    organizer_rsvp: str = Participant.Rsvp.YES,
) -> Event:
    """An event with its organizer and `parties` ({user: rsvp}) on it, as of NOW."""
    start = start or at(10, 10)
    event = Event.objects.create(
        organizer=organizer,
        title=title,
        status=status,
        version=version,
        start=start if status != EventStatus.PROPOSED else None,
        end=start + length if status != EventStatus.PROPOSED else None,
        time_zone=time_zone,
        recurrence=recurrence,
        created_at=NOW,
        updated_at=NOW,
    )
    Participant.objects.create(
        event=event, user=organizer, role=Participant.Role.ORGANIZER, rsvp=organizer_rsvp
    )
    for user, rsvp in (parties or {}).items():
        Participant.objects.create(event=event, user=user, rsvp=rsvp)
    return event


def moved(event: Event, original: datetime, start: datetime, end: datetime) -> None:
    OccurrenceChange.objects.create(event=event, original_start=original, start=start, end=end)


def cancelled(event: Event, original: datetime) -> None:
    OccurrenceChange.objects.create(event=event, original_start=original, cancelled=True)


def parse(content: bytes) -> icalendar.Calendar:
    """The .ics parsed back strictly: icalendar raises on anything malformed."""
    calendar = icalendar.Calendar.from_ical(content)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == "-//Rendezvous//Rendezvous//EN"
    assert calendar.get_missing_tzids() == set()  # a VTIMEZONE for every TZID used
    return calendar


def lines(content: bytes) -> list[str]:
    return content.decode().replace("\r\n ", "").split("\r\n")


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def expand_feed(
    calendar: icalendar.Calendar, start: datetime, end: datetime
) -> set[tuple[str, datetime, datetime]]:
    """(UID, start, end) in UTC of every instance overlapping [start, end), as a client expands
    the file: RRULE from DTSTART in its TZID zone, minus EXDATEs, replaced by RECURRENCE-IDs."""
    masters = [c for c in calendar.walk("VEVENT") if "RECURRENCE-ID" not in c]
    overrides = {
        (str(c["UID"]), utc(c["RECURRENCE-ID"].dt)): c
        for c in calendar.walk("VEVENT")
        if "RECURRENCE-ID" in c
    }
    found = set()
    for master in masters:
        uid = str(master["UID"])
        first, first_end = master["DTSTART"].dt, master["DTEND"].dt
        duration = first_end - first  # aware: exact elapsed time (RFC 5545 3.8.5.3)
        if "RRULE" in master:
            rule = rrulestr(master["RRULE"].to_ical().decode(), dtstart=first)
            exdates = master.get("EXDATE", [])
            exdates = exdates if isinstance(exdates, list) else [exdates]
            excluded = {utc(entry.dt) for exdate in exdates for entry in exdate.dts}
            # Wide enough for the range and for every original an override moves from
            originals = [o for u, o in overrides if u == uid]
            lo = min([start - duration, *originals]) - 48 * HOUR
            hi = max([end, *originals]) + 48 * HOUR
            starts = [utc(s) for s in rule.between(lo, hi, inc=True)]
            starts = [s for s in starts if s not in excluded]
        else:
            starts = [utc(first)]
        for s in starts:
            override = overrides.pop((uid, s), None)
            if override is not None:
                s_new, e_new = utc(override["DTSTART"].dt), utc(override["DTEND"].dt)
            else:
                s_new, e_new = s, s + duration
            if s_new < end and e_new > start:
                found.add((uid, s_new, e_new))
    assert overrides == {}, "every RECURRENCE-ID names an instance of its series"
    return found


@pytest.fixture
def olga(db: None) -> User:
    return make_user(email="olga@example.com", name="Olga", time_zone="Europe/Berlin")


@pytest.fixture
def pia(db: None) -> User:
    return make_user(email="pia@example.com", name="Pia")


# --- the secret URL ----------------------------------------------------------------------------


def test_a_feed_is_created_with_a_secret_shown_once(olga: User) -> None:
    feed, secret = calendar_feed_create(actor=actor_for(olga), now=NOW)

    assert secret.startswith("rdvc_")
    assert len(secret) == len("rdvc_") + 43  # 32 random bytes, URL-safe base64
    assert feed.user == olga
    assert feed.created_at == NOW
    assert feed.revoked_at is None
    assert feed.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert calendar_feed_url(secret=secret) == f"http://127.0.0.1:8000/calendar/{secret}.ics"
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.subject_type, entry.subject_id, entry.actor_user) == (
        "calendar_feed.create",
        "calendarfeed",
        feed.pk,
        olga,
    )
    assert secret not in str(entry.changes)
    assert feed.digest not in str(entry.changes)
    # Two feeds are two secrets
    _, other = calendar_feed_create(actor=actor_for(olga), now=NOW)
    assert other != secret


def test_nobody_creates_a_feed_unsigned(db: None) -> None:
    with rejected(ErrorCode.UNAUTHENTICATED):
        calendar_feed_create(actor=ANONYMOUS, now=NOW)
    assert not CalendarFeed.objects.exists()


def test_only_a_live_feed_of_an_active_user_authenticates(olga: User, pia: User) -> None:
    feed, secret = calendar_feed_create(actor=actor_for(olga), now=NOW)

    assert calendar_feed_authenticate(secret=secret) == feed
    assert calendar_feed_authenticate(secret=secret + "x") is None
    assert calendar_feed_authenticate(secret=secret.replace("rdvc_", "rdve_")) is None
    assert calendar_feed_authenticate(secret="") is None
    # The digest itself is no secret
    assert calendar_feed_authenticate(secret=feed.digest) is None

    olga.is_active = False
    olga.save(update_fields=["is_active"])
    assert calendar_feed_authenticate(secret=secret) is None


def test_revoking_is_idempotent_and_kills_the_url(olga: User) -> None:
    feed, secret = calendar_feed_create(actor=actor_for(olga), now=NOW)
    keep, keep_secret = calendar_feed_create(actor=actor_for(olga), now=NOW)

    first = calendar_feed_revoke(actor=actor_for(olga), feed_id=feed.pk, now=NOW + HOUR)
    again = calendar_feed_revoke(actor=actor_for(olga), feed_id=feed.pk, now=NOW + 2 * HOUR)

    assert first.revoked_at == again.revoked_at == NOW + HOUR
    assert calendar_feed_authenticate(secret=secret) is None
    assert calendar_feed_authenticate(secret=keep_secret) == keep
    assert list(
        AuditEntry.objects.filter(action="calendar_feed.revoke").values_list(
            "subject_id", "changes"
        )
    ) == [(feed.pk, {"revoked_at": "2030-01-07T09:00:00Z"})]


def test_nobody_revokes_someone_elses_feed(olga: User, pia: User) -> None:
    feed, secret = calendar_feed_create(actor=actor_for(olga), now=NOW)

    with rejected(ErrorCode.NOT_FOUND):
        calendar_feed_revoke(actor=actor_for(pia), feed_id=feed.pk, now=NOW)
    with rejected(ErrorCode.NOT_FOUND):
        calendar_feed_revoke(actor=actor_for(pia), feed_id=feed.pk + 1000, now=NOW)
    with rejected(ErrorCode.UNAUTHENTICATED):
        calendar_feed_revoke(actor=ANONYMOUS, feed_id=feed.pk, now=NOW)

    feed.refresh_from_db()
    assert feed.revoked_at is None
    assert calendar_feed_authenticate(secret=secret) == feed


# --- what a feed holds -------------------------------------------------------------------------


@pytest.fixture
def calendar(olga: User, pia: User) -> dict[str, object]:
    """Pia's world: Olga's weekly Berlin meeting (one moved, one cancelled occurrence), a
    monthly last-Friday New York call, a one-off, a booking and a live hold; and things that
    are not in her calendar (declined, proposed, cancelled, someone else's, lapsed or
    cancelled bookings)."""
    weekly = make_event(
        organizer=olga,
        parties={pia: Participant.Rsvp.YES},
        title="Weekly",
        start=datetime(2030, 1, 8, 9, tzinfo=BERLIN),
        time_zone="Europe/Berlin",
        recurrence=WEEKLY,
        version=5,
    )
    moved(
        weekly,
        datetime(2030, 1, 15, 9, tzinfo=BERLIN),
        datetime(2030, 1, 16, 14, tzinfo=BERLIN),
        datetime(2030, 1, 16, 15, 30, tzinfo=BERLIN),
    )
    cancelled(weekly, datetime(2030, 1, 22, 9, tzinfo=BERLIN))
    monthly = make_event(
        organizer=pia,
        parties={olga: Participant.Rsvp.NO},
        title="Review",
        start=datetime(2030, 1, 25, 17, tzinfo=NEW_YORK),
        length=timedelta(minutes=45),
        time_zone="America/New_York",
        recurrence=LAST_FRIDAY,
    )
    one_off = make_event(
        organizer=olga,
        parties={pia: Participant.Rsvp.MAYBE},
        title="Lunch",
        start=at(10, 11, 30),
        length=timedelta(minutes=90),
    )
    someone = make_user(email="sam@example.com")
    declined = make_event(organizer=olga, parties={pia: Participant.Rsvp.NO}, title="Declined")
    make_event(organizer=olga, parties={pia: "UNDECIDED"}, status=EventStatus.PROPOSED)
    make_event(organizer=olga, parties={pia: "YES"}, status=EventStatus.CANCELLED, title="Off")
    make_event(organizer=someone, title="Not hers")
    provider = make_provider(email="doc@example.com", name="Doc")
    client = make_client(email="cleo@example.com")
    pia_client = Client.objects.create(user=pia)
    booking = make_reservation(provider=provider, client=pia_client, start=at(11, 9))
    hold = make_reservation(
        provider=provider,
        client=pia_client,
        start=at(11, 12),
        status=ReservationStatus.HELD,
        expires_at=NOW + timedelta(minutes=30),
    )
    make_reservation(
        provider=provider,
        client=pia_client,
        start=at(11, 14),
        status=ReservationStatus.HELD,
        expires_at=NOW - timedelta(minutes=1),
    )
    make_reservation(
        provider=provider, client=pia_client, start=at(11, 15), status=ReservationStatus.CANCELLED
    )
    make_reservation(provider=provider, client=client, start=at(11, 16))
    return {
        "weekly": weekly,
        "monthly": monthly,
        "one_off": one_off,
        "declined": declined,
        "booking": booking,
        "hold": hold,
    }


def test_a_feed_holds_series_exceptions_one_offs_and_bookings(
    pia: User, calendar: dict[str, object]
) -> None:
    content = calendar_feed(user=pia, now=NOW)
    ics = parse(content)
    text = lines(content)
    weekly, monthly, one_off = calendar["weekly"], calendar["monthly"], calendar["one_off"]
    booking, hold = calendar["booking"], calendar["hold"]

    # One VEVENT per event and booking in her calendar, plus the moved occurrence's override
    vevents = ics.walk("VEVENT")
    assert sorted(str(v["UID"]) for v in vevents) == sorted(
        [
            event_uid(weekly.pk),
            event_uid(weekly.pk),
            event_uid(monthly.pk),
            event_uid(one_off.pk),
            reservation_uid(booking.pk),
            reservation_uid(hold.pk),
        ]
    )
    assert {"METHOD:PUBLISH", "X-WR-CALNAME:Rendezvous"} <= set(text)
    # The series: DTSTART in its own zone, the RRULE exactly as stored, the cancelled date out
    [series, override] = [v for v in vevents if str(v["UID"]) == event_uid(weekly.pk)]
    if "RECURRENCE-ID" in series:
        series, override = override, series
    assert series.to_ical().decode().count("RRULE:FREQ=WEEKLY;BYDAY=TU\r\n") == 1
    assert "DTSTART;TZID=Europe/Berlin:20300108T090000" in text
    assert "DTEND;TZID=Europe/Berlin:20300108T100000" in text
    assert "EXDATE;TZID=Europe/Berlin:20300122T090000" in text
    assert series["SEQUENCE"] == 5
    assert series["SUMMARY"] == "Weekly"
    assert series["STATUS"] == "CONFIRMED"
    # The moved occurrence: same UID, RECURRENCE-ID its original start, its own times
    assert override["RECURRENCE-ID"].dt == datetime(2030, 1, 15, 9, tzinfo=BERLIN)
    assert "RECURRENCE-ID;TZID=Europe/Berlin:20300115T090000" in text
    assert override["DTSTART"].dt == datetime(2030, 1, 16, 14, tzinfo=BERLIN)
    assert override["SEQUENCE"] == 5
    # The monthly series in New York; a one-off in UTC needs no zone
    assert "RRULE:FREQ=MONTHLY;BYDAY=-1FR" in text
    assert "DTSTART;TZID=America/New_York:20300125T170000" in text
    assert "DTSTART:20300110T113000Z" in text
    assert sorted(tz.tz_name for tz in ics.timezones) == ["America/New_York", "Europe/Berlin"]
    # Bookings: confirmed, and tentative while held
    by_uid = {str(v["UID"]): v for v in vevents}
    assert by_uid[reservation_uid(booking.pk)]["STATUS"] == "CONFIRMED"
    assert by_uid[reservation_uid(hold.pk)]["STATUS"] == "TENTATIVE"
    assert by_uid[reservation_uid(booking.pk)]["SUMMARY"] == "Appointment with Provider " + str(
        booking.provider.user_id
    )
    assert utc(by_uid[reservation_uid(booking.pk)]["DTSTART"].dt) == at(11, 9)
    # DTSTAMP is when the row last changed: the same feed twice is the same bytes
    assert by_uid[event_uid(one_off.pk)]["DTSTAMP"].dt == NOW
    assert calendar_feed(user=pia, now=NOW) == content


def test_the_provider_sees_the_booking_with_the_client(calendar: dict[str, object]) -> None:
    booking = calendar["booking"]
    provider_user = booking.provider.user

    ics = parse(calendar_feed(user=provider_user, now=NOW))

    summaries = {str(v["UID"]): str(v["SUMMARY"]) for v in ics.walk("VEVENT")}
    assert summaries[reservation_uid(booking.pk)] == "Appointment with Pia"
    assert len(summaries) == 3  # the booking, the hold, and another client's booking


def test_an_organizer_who_said_no_still_has_their_event(olga: User, pia: User) -> None:
    # The calendar counts the organizer as attending whatever their answer
    event = make_event(organizer=olga, organizer_rsvp=Participant.Rsvp.NO)

    ics = parse(calendar_feed(user=olga, now=NOW))

    assert [str(v["UID"]) for v in ics.walk("VEVENT")] == [event_uid(event.pk)]


def test_a_change_that_hits_no_occurrence_is_left_out(olga: User) -> None:
    event = make_event(
        organizer=olga,
        start=datetime(2030, 1, 8, 9, tzinfo=BERLIN),
        time_zone="Europe/Berlin",
        recurrence=WEEKLY,
    )
    cancelled(event, datetime(2030, 1, 9, 9, tzinfo=BERLIN))  # a Wednesday
    moved(event, datetime(2030, 1, 15, 9, 30, tzinfo=BERLIN), at(20, 9), at(20, 10))

    content = calendar_feed(user=olga, now=NOW)

    assert len(parse(content).walk("VEVENT")) == 1
    assert not [line for line in lines(content) if line.startswith(("EXDATE", "RECURRENCE-ID"))]


def test_a_one_offs_changes_are_ignored_as_the_calendar_ignores_them(olga: User) -> None:
    event = make_event(organizer=olga, start=at(10, 10))
    cancelled(event, at(10, 10))

    ics = parse(calendar_feed(user=olga, now=NOW))

    [vevent] = ics.walk("VEVENT")
    assert utc(vevent["DTSTART"].dt) == at(10, 10)
    assert occurrences_between(users=[olga], start=at(10, 0), end=at(11, 0))[0].start == at(10, 10)


def test_an_rrule_that_is_not_one_plain_value_is_rewritten_not_spliced(olga: User) -> None:
    event = make_event(organizer=olga, recurrence="FREQ=DAILY;COUNT=3;X-NAME=a b")

    content = calendar_feed(user=olga, now=NOW)

    ics = parse(content)
    assert str(ics.walk("VEVENT")[0]["UID"]) == event_uid(event.pk)
    assert not [line for line in lines(content) if line.startswith("X-NAME")]


def test_an_empty_calendar_is_a_valid_feed(pia: User) -> None:
    ics = parse(calendar_feed(user=pia, now=NOW))

    assert ics.walk("VEVENT") == []
    assert ics.timezones == []


# --- one event's export ------------------------------------------------------------------------


def test_an_event_exports_as_its_series(olga: User, pia: User, calendar: dict) -> None:
    weekly = calendar["weekly"]

    content = event_export(event=weekly)

    ics = parse(content)
    assert "METHOD:PUBLISH" in lines(content)
    assert "X-WR-CALNAME:Rendezvous" not in lines(content)
    assert [str(v["UID"]) for v in ics.walk("VEVENT")] == [event_uid(weekly.pk)] * 2
    assert [tz.tz_name for tz in ics.timezones] == ["Europe/Berlin"]
    assert expand_feed(ics, at(1, 0), at(31, 0)) == {
        (event_uid(weekly.pk), at(8, 8), at(8, 9)),
        (event_uid(weekly.pk), at(16, 13), at(16, 14, 30)),
        (event_uid(weekly.pk), at(29, 8), at(29, 9)),
    }


def test_a_cancelled_event_exports_as_cancelled(olga: User) -> None:
    event = make_event(organizer=olga, status=EventStatus.CANCELLED)

    [vevent] = parse(event_export(event=event)).walk("VEVENT")

    assert vevent["STATUS"] == "CANCELLED"


def test_a_proposed_event_has_nothing_to_export(olga: User) -> None:
    event = make_event(organizer=olga, status=EventStatus.PROPOSED)

    with pytest.raises(ValueError, match="no time yet"):
        event_export(event=event)


# --- the check: the feed holds the calendar's occurrences -------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(1, 0), datetime(2030, 7, 1, tzinfo=UTC)),  # across both zones' DST changes
        (at(15, 8, 30), at(16, 13, 30)),  # the moved occurrence's original and new times
        (datetime(2030, 3, 29, 21, tzinfo=UTC), datetime(2030, 3, 29, 22, tzinfo=UTC)),
    ],
)
def test_the_feed_expands_to_the_calendars_occurrences(
    pia: User, calendar: dict[str, object], start: datetime, end: datetime
) -> None:
    # Given Pia's feed, parsed back and expanded as a calendar app does
    in_feed = expand_feed(parse(calendar_feed(user=pia, now=NOW)), start, end)

    # Then its instances are the calendar's occurrences and her live bookings in that range
    expected = {
        (event_uid(o.event.pk), o.start, o.end)
        for o in occurrences_between(users=[pia], start=start, end=end)
    } | {
        (reservation_uid(r.pk), r.start, r.end)
        for r in (calendar["booking"], calendar["hold"])
        if r.start < end and r.end > start
    }
    assert in_feed == expected
    assert in_feed  # each range holds something


def test_the_check_sees_what_it_should(pia: User, calendar: dict[str, object]) -> None:
    """The expansion above, spelled out for January: nobody's mistake cancels another's."""
    weekly, monthly = calendar["weekly"], calendar["monthly"]

    occurrences = expand_feed(parse(calendar_feed(user=pia, now=NOW)), at(1, 0), at(31, 0))

    assert {(u, s, e) for u, s, e in occurrences if u == event_uid(weekly.pk)} == {
        (event_uid(weekly.pk), at(8, 8), at(8, 9)),
        (event_uid(weekly.pk), at(16, 13), at(16, 14, 30)),  # moved from the 15th
        (event_uid(weekly.pk), at(29, 8), at(29, 9)),  # the 22nd was cancelled
    }
    assert {(u, s, e) for u, s, e in occurrences if u == event_uid(monthly.pk)} == {
        (event_uid(monthly.pk), at(25, 22), at(25, 22, 45)),
    }


def test_the_feed_carries_the_reminders_as_valarms(olga: User) -> None:
    event = make_event(organizer=olga, time_zone="Europe/Berlin", recurrence=WEEKLY)
    Reminder.objects.bulk_create(
        [
            Reminder(event=event, offset_days=1, offset_minutes=0, channel="EMAIL"),
            Reminder(event=event, offset_days=1, offset_minutes=0, channel="SMS"),  # same alarm
            Reminder(event=event, offset_days=0, offset_minutes=15, channel="EMAIL"),
        ]
    )

    [vevent] = parse(calendar_feed(user=olga, now=NOW)).walk("VEVENT")

    assert [
        (str(alarm["ACTION"]), alarm["TRIGGER"].to_ical().decode())
        for alarm in vevent.walk("VALARM")
    ] == [("DISPLAY", "-P1D"), ("DISPLAY", "-PT15M")]
