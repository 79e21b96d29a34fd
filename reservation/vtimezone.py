"""VTIMEZONEs that cover a series with no end: past and near transitions as the zone database
lists them (icalendar's `Timezone.from_tzinfo`), then the zone's current rule as yearly RRULEs
(RFC 5545 3.6.5), read from the POSIX TZ string that ends every TZif v2+ file (RFC 8536 3.3),
so a client expanding a series decades ahead still places every occurrence right. No ORM.

Zones whose current rule is not of the usual "Mm.w.d/time" form, or whose change times are
outside 00:00-23:59 (Santiago's "/24", Nuuk's "/-1"), get their transitions listed to 2100.
"""

import contextlib
import importlib.resources
import re
import zoneinfo
from datetime import date, datetime, timedelta
from pathlib import Path

import icalendar

_NAME = r"(?:<[^>]+>|[A-Za-z]{3,})"
_OFFSET = r"[+-]?\d{1,2}(?::\d{2}){0,2}"
_RULE = r"M(\d{1,2})\.([1-5])\.([0-6])(?:/(" + _OFFSET + r"))?"
_POSIX = re.compile(rf"({_NAME})({_OFFSET})(?:({_NAME})({_OFFSET})?,{_RULE},{_RULE})?")
_FAR = date(2100, 1, 1)
_CODES = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")  # POSIX day numbers: 0 = Sunday


def posix_rule(key: str) -> str | None:
    """The POSIX TZ string at the end of the zone's TZif file, or None."""
    data = None
    for root in zoneinfo.TZPATH:
        path = Path(root) / key
        if path.is_file():
            data = path.read_bytes()
            break
    if data is None:
        with contextlib.suppress(ModuleNotFoundError, FileNotFoundError, OSError):
            data = importlib.resources.files("tzdata.zoneinfo").joinpath(key).read_bytes()
    if not data or not data.startswith(b"TZif") or data[4:5] in (b"\0", b""):
        return None
    return data.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("ascii", "replace")


def _seconds(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")] + [0, 0]
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def _nth_weekday(year: int, month: int, week: int, posix_day: int) -> date:
    """The `week`-th (5: last) day `posix_day` (0 = Sunday) of the month."""
    first = date(year, month, 1)
    weekday = (posix_day - 1) % 7  # Python: 0 = Monday
    day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (week - 1))
    while day.month != month:
        day -= timedelta(days=7)
    return day


def _observance(
    kind: type[icalendar.cal.Component],
    *,
    name: str,
    offset_from: int,
    offset_to: int,
    rule: tuple[str, str, str, str | None],
    year: int,
) -> icalendar.cal.Component | None:
    month, week, day, at = int(rule[0]), int(rule[1]), int(rule[2]), rule[3]
    seconds = _seconds(at) if at else 2 * 3600
    if not 0 <= seconds < 24 * 3600:
        return None
    onset = datetime.combine(_nth_weekday(year, month, week, day), datetime.min.time())
    observance = kind()
    observance.add("dtstart", onset + timedelta(seconds=seconds))
    observance.add("tzoffsetfrom", timedelta(seconds=offset_from))
    observance.add("tzoffsetto", timedelta(seconds=offset_to))
    observance.add("tzname", name.strip("<>"))
    byday = f"{week if week < 5 else -1}{_CODES[day]}"  # POSIX week 5 is the last
    observance.add("rrule", {"freq": "YEARLY", "bymonth": month, "byday": byday})
    return observance


def _listed_far(key: str, first_date: date) -> icalendar.Timezone:
    """Every transition listed up to 2100, for a rule RRULEs here do not express."""
    listed = icalendar.Timezone.from_tzinfo(
        zoneinfo.ZoneInfo(key), tzid=key, first_date=first_date, last_date=_FAR
    )
    with contextlib.suppress(KeyError):
        del listed["COMMENT"]
    return listed


def open_ended(key: str, *, first_date: date, from_year: int) -> icalendar.Timezone:
    """A VTIMEZONE for `key`: transitions listed from `first_date` to the start of
    `from_year`, then yearly rules from `from_year` on (when the zone has a POSIX rule)."""
    listed = icalendar.Timezone.from_tzinfo(
        zoneinfo.ZoneInfo(key), tzid=key, first_date=first_date, last_date=date(from_year, 1, 1)
    )
    with contextlib.suppress(KeyError):
        del listed["COMMENT"]
    match = _POSIX.fullmatch(posix_rule(key) or "")
    if match is None:
        return _listed_far(key, first_date)
    if match.group(3) is None:
        return listed  # no DST: the last listed observance holds from then on
    std_name, std, dst_name, dst = match.group(1, 2, 3, 4)
    std_offset = -_seconds(std)  # POSIX offsets are west-positive
    dst_offset = -_seconds(dst) if dst else std_offset + 3600
    start_rule = match.group(5, 6, 7, 8)
    end_rule = match.group(9, 10, 11, 12)
    daylight = _observance(
        icalendar.TimezoneDaylight,
        name=dst_name,
        offset_from=std_offset,
        offset_to=dst_offset,
        rule=start_rule,
        year=from_year,
    )
    standard = _observance(
        icalendar.TimezoneStandard,
        name=std_name,
        offset_from=dst_offset,
        offset_to=std_offset,
        rule=end_rule,
        year=from_year,
    )
    if daylight is None or standard is None:
        return _listed_far(key, first_date)
    listed.add_component(daylight)
    listed.add_component(standard)
    return listed
