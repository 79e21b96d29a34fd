"""A real CalDAV server (Radicale, started on loopback) holds the invitation of a series and
expands it itself (RFC 4791 calendar-query with <C:expand>); its occurrences must be the
calendar's own, occurrence by occurrence, across a half-hour DST change, with an extra date,
an excluded one, a moved and a cancelled occurrence."""

import base64
import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from reservation.ical import event_invite
from reservation.models import Event, User
from reservation.selectors.calendar import occurrences_between
from reservation.services.calendar import (
    EventChanges,
    UpdateScope,
    event_create,
    event_update,
    occurrence_cancel,
    recurrence_spec,
)
from reservation.tests.factories import NOW, actor_for, make_user

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        importlib.util.find_spec("radicale") is None, reason="radicale (dev dependency) missing"
    ),
]
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
AUTH = "Basic " + base64.b64encode(b"olga:x").decode()
QUERY = """<?xml version="1.0"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <D:prop><C:calendar-data><C:expand start="20300101T000000Z" end="20301231T000000Z"/>
 </C:calendar-data></D:prop>
 <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
  <C:time-range start="20300101T000000Z" end="20301231T000000Z"/>
 </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""


def lh(*args: int) -> datetime:
    return datetime(*args, tzinfo=LORD_HOWE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        [
            sys.executable,
            "-m",
            "radicale",
            f"--storage-filesystem-folder={tmp_path}",
            "--auth-type=none",
            "--rights-type=owner_only",
            f"--server-hosts=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("Radicale did not start")
            time.sleep(0.2)
    yield base
    server.terminate()
    server.wait(timeout=10)


def dav(method: str, url: str, body: bytes, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL we built
        url, data=body, method=method, headers={"Authorization": AUTH, **headers}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, response.read()


@pytest.fixture
def olga() -> User:
    return make_user(email="olga@example.com", time_zone="Australia/Lord_Howe")


def series(olga: User) -> Event:
    pia = make_user(email="pia@example.com")
    event = event_create(
        actor=actor_for(olga),
        title="Rounds",
        start=lh(2030, 3, 4, 8, 30),
        end=lh(2030, 3, 4, 9, 15),
        time_zone="Australia/Lord_Howe",
        participants=[pia.email],
        recurrence_rule=recurrence_spec(kind="WEEKLY", weekdays=[0, 3]),
        extra_dates=[date(2030, 4, 6)],
        excluded_dates=[date(2030, 3, 14)],
        now=NOW,
    )
    occurrence_cancel(
        actor=actor_for(olga),
        event_id=event.pk,
        occurrence_start=lh(2030, 4, 1, 8, 30),
        expected_version=1,
        now=NOW,
    )
    event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=2,
        changes=EventChanges(start=lh(2030, 10, 10, 14)),  # the week DST starts again
        scope=UpdateScope.THIS_OCCURRENCE,
        occurrence_start=lh(2030, 10, 10, 8, 30),
        now=NOW,
    )
    event.refresh_from_db()
    return event


def test_radicale_expands_the_invitation_as_the_calendar_does(radicale: str, olga: User) -> None:
    event = series(olga)
    invite = event_invite(event, stamp=NOW)
    assert invite is not None
    # A stored calendar object has no METHOD (RFC 4791 4.1); the rest goes in unchanged.
    stored = b"".join(
        line for line in invite.content.splitlines(keepends=True) if not line.startswith(b"METHOD:")
    )
    assert dav("MKCALENDAR", f"{radicale}/olga/work/", b"")[0] == 201
    status, _ = dav(
        "PUT", f"{radicale}/olga/work/rounds.ics", stored, **{"Content-Type": "text/calendar"}
    )
    assert status == 201
    status, body = dav(
        "REPORT",
        f"{radicale}/olga/work/",
        QUERY.encode(),
        **{"Depth": "1", "Content-Type": "application/xml"},
    )
    assert status == 207
    data = [
        element.text or ""
        for element in ET.fromstring(body).iter(  # noqa: S314 - our loopback server's answer
            "{urn:ietf:params:xml:ns:caldav}calendar-data"
        )
    ]
    theirs = sorted(
        (vevent.decoded("DTSTART").astimezone(UTC), vevent.decoded("DTEND").astimezone(UTC))
        for text in data
        for vevent in icalendar.Calendar.from_ical(text).walk("VEVENT")
    )
    ours = [
        (o.start, o.end)
        for o in occurrences_between(
            users=[olga],
            start=datetime(2030, 1, 1, tzinfo=UTC),
            end=datetime(2030, 12, 31, tzinfo=UTC),
        )
    ]
    assert len(ours) == 86  # Mondays and Thursdays from 4 March: 87, +1 extra, -1, -1
    assert theirs == ours
