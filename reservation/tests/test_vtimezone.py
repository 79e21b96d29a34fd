"""VTIMEZONEs that cover series with no end: built, then read back by icalendar's own
VTIMEZONE reader (`Timezone.to_tz`, which follows RRULE/RDATE observances and knows nothing of
the zone database name) and compared with zoneinfo decades ahead, transitions included."""

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from reservation.vtimezone import open_ended

HOUR = timedelta(hours=1)


def read_back(key: str) -> icalendar.Timezone:
    text = open_ended(key, first_date=date(2029, 1, 1), from_year=2032).to_ical()
    [vtimezone] = icalendar.Calendar.from_ical(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n" + text + b"END:VCALENDAR\r\n"
    ).walk("VTIMEZONE")
    return vtimezone


@pytest.mark.parametrize(
    "key",
    [
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",  # half-hour DST
        "Pacific/Chatham",  # +12:45 / +13:45, changes at 02:45 and 03:45
        "America/Santiago",  # changes at "24:00": listed instead of a rule
        "Asia/Tokyo",  # no DST
    ],
)
def test_offsets_agree_with_the_zone_database_for_decades(key: str) -> None:
    vtimezone = read_back(key)
    assert "only works" not in vtimezone.to_ical().decode()
    theirs = vtimezone.to_tz(lookup_tzid=False)
    ours = ZoneInfo(key)
    # Every 5 days, through 2029-2070, plus the instants around each transition of 2065.
    instants = [datetime(2029, 1, 1, 12, tzinfo=UTC) + n * 5 * 24 * HOUR for n in range(3000)]
    year = [datetime(2065, 1, 1, tzinfo=UTC) + n * HOUR for n in range(365 * 24)]
    changes = [
        at
        for before, at in itertools.pairwise(year)
        if ours.utcoffset(before.replace(tzinfo=None)) != ours.utcoffset(at.replace(tzinfo=None))
    ]
    instants += [at + d for at in changes for d in (-2 * HOUR, -HOUR, HOUR, 2 * HOUR)]
    wrong = [
        at
        for at in instants
        if at.astimezone(theirs).utcoffset() != at.astimezone(ours).utcoffset()
    ]
    assert wrong == []


def test_berlin_is_written_as_yearly_rules_from_the_given_year() -> None:
    text = read_back("Europe/Berlin").to_ical().decode()
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in text
    assert "DTSTART:20320328T020000" in text  # 02:00 CET, the local time before the change
