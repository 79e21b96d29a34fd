"""Connected calendars against real servers on loopback: Radicale (a real CalDAV server, from
PyPI) and a small HTTP server for .ics subscriptions. What they hold blocks slots, bookings
and free time through the one validation path; bookings are written back, moved and removed.
"""

import http.server
import threading
from collections.abc import Iterator
from datetime import timedelta

import caldav
import pytest
from django.test import override_settings
from procrastinate.contrib.django.models import ProcrastinateJob

from reservation import crypto
from reservation import external_calendars as remote
from reservation.errors import ErrorCode
from reservation.models import (
    AuditEntry,
    CalendarConnection,
    CalendarWriteback,
    ExternalBusy,
    ExternalCalendar,
    SyncState,
    WritebackState,
)
from reservation.selectors.booking import provider_slots
from reservation.selectors.calendar import busy_intervals
from reservation.services import external_calendars as service
from reservation.services import reservations
from reservation.tests.caldav_server import PASSWORD, USER, put, vevent
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    make_client,
    make_policy,
    make_provider,
    rejected,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("_loopback_allowed"),
]


_calendar_names = iter(range(1_000_000))


@pytest.fixture
def dav_calendar(radicale: str) -> caldav.Calendar:
    """A fresh calendar of USER on the server (each test its own)."""
    client = caldav.DAVClient(url=radicale, username=USER, password=PASSWORD)
    return client.principal().make_calendar(name=f"Work {next(_calendar_names)}")


def connect(provider_user, radicale: str) -> CalendarConnection:
    return service.calendar_connection_create(
        actor=actor_for(provider_user),
        kind="CALDAV",
        url=radicale,
        username=USER,
        password=PASSWORD,
        now=NOW,
    )


def only(connection: CalendarConnection, calendar: caldav.Calendar) -> ExternalCalendar:
    """Keep just `calendar` of the account as a busy source (others belong to other tests)."""
    chosen = None
    for row in connection.calendars.all():
        keep = row.href == str(calendar.url)
        row.busy = keep
        row.save()
        if keep:
            chosen = row
    assert chosen is not None
    return chosen


def slots_on(provider, day: int) -> list[tuple[int, int]]:
    found = provider_slots(provider_id=provider.pk, start=at(day, 0), end=at(day + 1, 0), now=NOW)
    return [(s.hour, e.hour) for s, e in found]


# --- connecting ---------------------------------------------------------------------------------


def test_connect_discovers_calendars_and_keeps_the_password_encrypted(
    radicale: str, dav_calendar: caldav.Calendar
) -> None:
    provider = make_provider()
    connection = connect(provider.user, radicale)

    hrefs = set(connection.calendars.values_list("href", flat=True))
    assert str(dav_calendar.url) in hrefs
    stored = CalendarConnection.objects.get(pk=connection.pk)
    assert PASSWORD not in stored.secret
    assert crypto.decrypt(stored.secret) == PASSWORD
    assert stored.state == SyncState.PENDING
    jobs = list(ProcrastinateJob.objects.values_list("task_name", "args"))
    assert jobs == [("reservation.calendar_sync", {"connection_id": connection.pk})]
    assert AuditEntry.objects.get(action="calendar_connection.create").changes == {
        "kind": "CALDAV",
        "url": radicale,
        "calendars": len(hrefs),
    }


def test_a_wrong_password_is_refused_and_nothing_is_written(radicale: str) -> None:
    provider = make_provider()
    with rejected(ErrorCode.CALENDAR_UNREACHABLE) as info:
        service.calendar_connection_create(
            actor=actor_for(provider.user),
            kind="CALDAV",
            url=radicale,
            username=USER,
            password="wrong",
            now=NOW,
        )
    assert "user name or password" in str(info.value)
    assert CalendarConnection.objects.count() == 0


@override_settings(REMINDER_ALLOW_PRIVATE_NETWORKS=False)
def test_a_private_address_is_refused_like_a_reminder_url() -> None:
    provider = make_provider()
    for url in ("http://127.0.0.1:5232/", "https://10.0.0.1/cal.ics", "https://169.254.169.254/"):
        with rejected(ErrorCode.INVALID_INPUT) as info:
            service.calendar_connection_create(
                actor=actor_for(provider.user), kind="ICS", url=url, now=NOW
            )
        assert "Not a usable calendar URL" in str(info.value)


# --- busy time ----------------------------------------------------------------------------------


def test_events_block_slots_bookings_and_free_time_after_a_sync(
    radicale: str, dav_calendar: caldav.Calendar
) -> None:
    provider = make_provider()  # Mon–Fri 09–17 UTC, hourly slots
    client = make_client()
    put(dav_calendar, "dentist", vevent("dentist", "20300108T100000Z", "20300108T113000Z"))
    # Weekly on Tuesdays and Wednesdays at 14:00, the Wednesday of the first week excepted.
    put(
        dav_calendar,
        "weekly",
        vevent(
            "weekly",
            "20300108T140000Z",
            "20300108T150000Z",
            "RRULE:FREQ=WEEKLY;BYDAY=TU,WE;COUNT=6",
            "EXDATE:20300109T140000Z",
        ),
    )
    put(
        dav_calendar,
        "free",
        vevent("free", "20300108T090000Z", "20300108T100000Z", "TRANSP:TRANSPARENT"),
    )
    put(
        dav_calendar,
        "off",
        vevent("off", "20300108T160000Z", "20300108T170000Z", "STATUS:CANCELLED"),
    )
    put(
        dav_calendar,
        "declined",
        vevent(
            "declined",
            "20300109T090000Z",
            "20300109T100000Z",
            f"ATTENDEE;PARTSTAT=DECLINED:mailto:{provider.user.email}",
        ),
    )
    connection = connect(provider.user, radicale)
    only(connection, dav_calendar)
    assert slots_on(provider, 8) == [(h, h + 1) for h in range(9, 17)]

    assert service.calendar_connection_sync(connection_id=connection.pk, now=NOW) == "OK"

    assert slots_on(provider, 8) == [(9, 10), (12, 13), (13, 14), (15, 16), (16, 17)]
    assert slots_on(provider, 9) == [(h, h + 1) for h in range(9, 17)]  # EXDATE, declined
    assert (14, 15) not in slots_on(provider, 15)  # the rule's second week
    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        reservations.reservation_create(
            actor=actor_for(client), provider_id=provider.pk, start=at(8, 11), now=NOW
        )
    assert busy_intervals(user=provider.user, start=at(8, 0), end=at(9, 0), now=NOW) == [
        (at(8, 10), at(8, 11, 30)),
        (at(8, 14), at(8, 15)),
    ]
    connection.refresh_from_db()
    assert (connection.state, connection.last_synced_at, connection.last_error) == (
        SyncState.OK,
        NOW,
        "",
    )


def test_incremental_sync_frees_deleted_and_moves_changed_events(
    radicale: str, dav_calendar: caldav.Calendar
) -> None:
    provider = make_provider()
    put(dav_calendar, "a", vevent("a", "20300108T100000Z", "20300108T110000Z"))
    put(dav_calendar, "b", vevent("b", "20300108T120000Z", "20300108T130000Z"))
    connection = connect(provider.user, radicale)
    calendar = only(connection, dav_calendar)
    service.calendar_connection_sync(connection_id=connection.pk, now=NOW)
    calendar.refresh_from_db()
    first_token = calendar.sync_token
    assert first_token
    assert slots_on(provider, 8) == [(9, 10), (11, 12), (13, 14), (14, 15), (15, 16), (16, 17)]

    dav_calendar.client.delete(f"{dav_calendar.url}a.ics")
    put(dav_calendar, "b", vevent("b", "20300108T150000Z", "20300108T160000Z"))
    later = NOW + timedelta(minutes=10)
    changes = remote.CaldavAccount(url=radicale, username=USER, password=PASSWORD).changes(
        href=calendar.href, token=first_token, start=NOW, end=NOW + timedelta(days=30)
    )
    assert (changes.full, [o.href.rsplit("/", 1)[1] for o in changes.changed]) == (False, ["b.ics"])
    assert [h.rsplit("/", 1)[1] for h in changes.deleted] == ["a.ics"]

    service.calendar_connection_sync(connection_id=connection.pk, now=later)

    calendar.refresh_from_db()
    assert calendar.sync_token not in ("", first_token)
    assert [
        (s.hour, e.hour)
        for s, e in provider_slots(provider_id=provider.pk, start=at(8, 0), end=at(9, 0), now=later)
    ] == [(9, 10), (10, 11), (11, 12), (12, 13), (13, 14), (14, 15), (16, 17)]


def test_a_failed_sync_keeps_the_last_good_copy_and_says_why(
    radicale: str, dav_calendar: caldav.Calendar
) -> None:
    provider = make_provider()
    put(dav_calendar, "a", vevent("a", "20300108T100000Z", "20300108T110000Z"))
    connection = connect(provider.user, radicale)
    only(connection, dav_calendar)
    service.calendar_connection_sync(connection_id=connection.pk, now=NOW)
    CalendarConnection.objects.filter(pk=connection.pk).update(
        secret=crypto.encrypt("no longer valid")
    )

    state = service.calendar_connection_sync(
        connection_id=connection.pk, now=NOW + timedelta(hours=1)
    )

    connection.refresh_from_db()
    assert state == SyncState.ERROR
    assert connection.state == SyncState.ERROR
    assert "user name or password" in connection.last_error
    assert connection.last_synced_at == NOW
    assert (10, 11) not in slots_on(provider, 8)


# --- .ics subscriptions ---------------------------------------------------------------------------


class _IcsServer(http.server.BaseHTTPRequestHandler):
    body = b""
    etag = '"v1"'
    requests: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        type(self).requests.append((self.path, self.headers.get("If-None-Match", "")))
        if self.headers.get("If-None-Match") == type(self).etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("ETag", type(self).etag)
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ics_server() -> Iterator[type[_IcsServer]]:
    handler = type("Handler", (_IcsServer,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_port}/team.ics"
    yield handler
    server.shutdown()


def test_an_ics_subscription_is_fetched_conditionally_and_follows_changes(
    ics_server: type[_IcsServer],
) -> None:
    provider = make_provider()
    ics_server.body = vevent("x", "20300108T100000Z", "20300108T110000Z").encode()
    connection = service.calendar_connection_create(
        actor=actor_for(provider.user), kind="ICS", url=ics_server.url, now=NOW
    )
    service.calendar_connection_sync(connection_id=connection.pk, now=NOW)
    assert (10, 11) not in slots_on(provider, 8)

    service.calendar_connection_sync(connection_id=connection.pk, now=NOW)  # unchanged: 304
    ics_server.body = vevent("x", "20300108T130000Z", "20300108T140000Z").encode()
    ics_server.etag = '"v2"'
    service.calendar_connection_sync(connection_id=connection.pk, now=NOW)

    assert ics_server.requests == [("/team.ics", ""), ("/team.ics", '"v1"'), ("/team.ics", '"v1"')]
    assert (10, 11) in slots_on(provider, 8)
    assert (13, 14) not in slots_on(provider, 8)
    assert ExternalBusy.objects.count() == 1


def test_a_broken_ics_is_an_error_and_the_last_copy_stays(ics_server: type[_IcsServer]) -> None:
    provider = make_provider()
    ics_server.body = vevent("x", "20300108T100000Z", "20300108T110000Z").encode()
    connection = service.calendar_connection_create(
        actor=actor_for(provider.user), kind="ICS", url=ics_server.url, now=NOW
    )
    service.calendar_connection_sync(connection_id=connection.pk, now=NOW)
    ics_server.body, ics_server.etag = b"<html>not a calendar</html>", '"v3"'

    assert service.calendar_connection_sync(connection_id=connection.pk, now=NOW) == "ERROR"
    connection.refresh_from_db()
    assert connection.last_error.startswith("not an iCalendar file")
    assert (10, 11) not in slots_on(provider, 8)


# --- write-back -----------------------------------------------------------------------------------


def _objects(calendar: caldav.Calendar) -> dict[str, tuple]:
    found = {}
    for obj in calendar.search(start=at(1, 0), end=at(28, 0), event=True):
        event = obj.icalendar_component
        found[str(event["UID"])] = (event["DTSTART"].dt, event["DTEND"].dt, str(event["SUMMARY"]))
    return found


def test_a_confirmed_booking_is_written_moved_and_removed(
    radicale: str, dav_calendar: caldav.Calendar
) -> None:
    provider = make_provider()
    make_policy(provider=provider, min_notice_minutes=0)
    client = make_client(name="Cleo")
    connection = connect(provider.user, radicale)
    target = only(connection, dav_calendar)
    service.external_calendar_update(
        actor=actor_for(provider.user), calendar_id=target.pk, write_back=True, now=NOW
    )
    held = reservations.reservation_create(
        actor=actor_for(client), provider_id=provider.pk, start=at(8, 10), now=NOW
    )
    ProcrastinateJob.objects.all().delete()
    reservations.reservation_confirm(actor=actor_for(client), reservation_id=held.pk, now=NOW)
    assert list(
        ProcrastinateJob.objects.filter(task_name="reservation.calendar_writeback").values_list(
            "args", flat=True
        )
    ) == [{"reservation_id": held.pk}]

    assert service.calendar_writeback(reservation_id=held.pk, now=NOW) == WritebackState.OK
    record = CalendarWriteback.objects.get(reservation=held)
    assert _objects(dav_calendar) == {record.uid: (at(8, 10), at(8, 11), "Booking: Cleo")}

    reservations.reservation_reschedule(
        actor=actor_for(client), reservation_id=held.pk, start=at(8, 13), now=NOW
    )
    service.calendar_writeback(reservation_id=held.pk, now=NOW)
    assert _objects(dav_calendar) == {record.uid: (at(8, 13), at(8, 14), "Booking: Cleo")}
    # Our own event never counts as the provider's busy time.
    service.calendar_connection_sync(connection_id=connection.pk, now=NOW)
    assert ExternalBusy.objects.count() == 0

    reservations.reservation_cancel(actor=actor_for(client), reservation_id=held.pk, now=NOW)
    assert service.calendar_writeback(reservation_id=held.pk, now=NOW) == "REMOVED"
    assert _objects(dav_calendar) == {}
    assert not CalendarWriteback.objects.exists()


def test_the_owner_editing_the_written_event_is_detected_not_overwritten(
    radicale: str, dav_calendar: caldav.Calendar
) -> None:
    provider = make_provider()
    make_policy(provider=provider, min_notice_minutes=0)
    client = make_client(name="Cleo")
    connection = connect(provider.user, radicale)
    target = only(connection, dav_calendar)
    service.external_calendar_update(
        actor=actor_for(provider.user), calendar_id=target.pk, write_back=True, now=NOW
    )
    held = reservations.reservation_create(
        actor=actor_for(client), provider_id=provider.pk, start=at(8, 10), now=NOW
    )
    reservations.reservation_confirm(actor=actor_for(client), reservation_id=held.pk, now=NOW)
    service.calendar_writeback(reservation_id=held.pk, now=NOW)
    record = CalendarWriteback.objects.get(reservation=held)
    put(dav_calendar, record.uid, vevent(record.uid, "20300108T150000Z", "20300108T160000Z"))

    service.calendar_connection_sync(connection_id=connection.pk, now=NOW)
    record.refresh_from_db()
    assert record.state == WritebackState.CHANGED

    reservations.reservation_reschedule(
        actor=actor_for(client), reservation_id=held.pk, start=at(8, 13), now=NOW
    )
    assert service.calendar_writeback(reservation_id=held.pk, now=NOW) == WritebackState.CHANGED
    assert _objects(dav_calendar)[record.uid][:2] == (at(8, 15), at(8, 16))


def test_write_back_goes_to_one_caldav_calendar_only(
    radicale: str, dav_calendar: caldav.Calendar, ics_server: type[_IcsServer]
) -> None:
    provider = make_provider()
    actor = actor_for(provider.user)
    ics_server.body = vevent("x", "20300108T100000Z", "20300108T110000Z").encode()
    ics = service.calendar_connection_create(actor=actor, kind="ICS", url=ics_server.url, now=NOW)
    with rejected(ErrorCode.INVALID_INPUT):
        service.external_calendar_update(
            actor=actor, calendar_id=ics.calendars.get().pk, write_back=True, now=NOW
        )
    second_dav = dav_calendar.client.principal().make_calendar(name="Second")
    connection = connect(provider.user, radicale)
    first = connection.calendars.get(href=str(dav_calendar.url))
    second = connection.calendars.get(href=str(second_dav.url))
    service.external_calendar_update(actor=actor, calendar_id=first.pk, write_back=True, now=NOW)
    service.external_calendar_update(actor=actor, calendar_id=second.pk, write_back=True, now=NOW)
    assert list(ExternalCalendar.objects.filter(write_back=True).values_list("pk", flat=True)) == [
        second.pk
    ]


# --- secrets --------------------------------------------------------------------------------------


def test_credentials_rotate_to_a_new_key() -> None:
    old_key, new_key = (
        k.decode() for k in (crypto.Fernet.generate_key(), crypto.Fernet.generate_key())
    )
    with override_settings(CALENDAR_CREDENTIAL_KEYS=[old_key]):
        token = crypto.encrypt("s3cret")
    with override_settings(CALENDAR_CREDENTIAL_KEYS=[new_key, old_key]):
        rotated = crypto.rotate(token)
    with override_settings(CALENDAR_CREDENTIAL_KEYS=[new_key]):
        assert crypto.decrypt(rotated) == "s3cret"
        with pytest.raises(crypto.UnreadableSecret):
            crypto.decrypt(token)


def test_the_rotate_command_re_encrypts_stored_passwords() -> None:
    from io import StringIO

    from django.core.management import call_command

    old_key, new_key = (crypto.Fernet.generate_key().decode() for _ in range(2))
    provider = make_provider()
    with override_settings(CALENDAR_CREDENTIAL_KEYS=[old_key]):
        connection = CalendarConnection.objects.create(
            user=provider.user,
            kind="CALDAV",
            url="https://dav.example.com/",
            username="u",
            secret=crypto.encrypt("pw"),
        )
    out = StringIO()
    with override_settings(CALENDAR_CREDENTIAL_KEYS=[new_key, old_key]):
        call_command("calendar_credentials_rotate", stdout=out)
    assert out.getvalue() == "rotated 1 calendar password(s)\n"
    connection.refresh_from_db()
    with override_settings(CALENDAR_CREDENTIAL_KEYS=[new_key]):
        assert crypto.decrypt(connection.secret) == "pw"


def test_the_slot_query_reads_copied_busy_time_exactly() -> None:
    from reservation.models import ExternalObject
    from reservation.selectors.booking import slot_query

    provider = make_provider()
    connection = CalendarConnection.objects.create(
        user=provider.user, kind="ICS", url="https://calendar.example.com/a.ics"
    )
    calendar = ExternalCalendar.objects.create(connection=connection, user=provider.user, href="h")
    row = ExternalObject.objects.create(calendar=calendar, href="o")
    odd = at(8, 10) + timedelta(seconds=7, microseconds=123457)
    ExternalBusy.objects.create(object=row, user=provider.user, start=odd, end=at(8, 11))

    query = slot_query(provider=provider, start=at(8, 0), end=at(9, 0), now=NOW)

    assert query.busy == [(odd, at(8, 11))]
