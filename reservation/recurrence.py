"""Recurring events: RFC 5545 RRULE strings expanded in the event's own zone; no ORM.

A recurrence is stored as the value of an RRULE property (``FREQ=WEEKLY;BYDAY=TU``), so it
round-trips through iCalendar unchanged; ``RecurrenceSpec`` is the structured form a user edits.

Expansion runs in naive local wall-clock time from a naive local DTSTART (python-dateutil), and
each occurrence is then placed in the event's IANA zone, so a 09:00 meeting stays at 09:00 local
across DST while its UTC instant moves:

- a local time that does not exist (spring-forward gap) moves forward by the gap, as zoneinfo
  does for ``fold=0`` (02:30 on the night Berlin skips 02:00-03:00 becomes 03:30 CEST);
- an ambiguous local time (fall-back overlap) takes ``fold=0``, the earlier instant.

Every occurrence lasts exactly ``end - start`` of elapsed time (RFC 5545 3.8.5.3 for DTEND), so a
22:00-06:00 shift over a DST night ends at 05:00 or 07:00 local. All returned instants are UTC.
"""

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

Occurrence = tuple[datetime, datetime, datetime]  # (start, end, original start), all UTC

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
# Local wall-clock time runs at most a day ahead of or behind the UTC-derived bound within one
# zone (Samoa skipped 2011-12-30 whole), so naive bounds widened by two days are safe.
_MARGIN = 2 * _DAY
# A wall-clock time is placed in its zone as EPOCH_UTC + (naive - EPOCH - offset): the same
# instant as naive.replace(tzinfo=tz).astimezone(UTC), in a tenth of the time (replace() parses
# keyword arguments; datetime arithmetic does not).
_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - the naive twin of _EPOCH_UTC
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_WORKDAYS = (0, 1, 2, 3, 4)
_WEEKS_OF_MONTH = (1, 2, 3, 4, -1)
# Weekday names as the API spells them (error messages never leak 0 = Monday numbering).
WEEKDAY_NAMES = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
# A power user's RRULE: what may appear, and what keeps it at most a few occurrences a day.
_RULE_PARTS = (
    "FREQ", "INTERVAL", "BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYSETPOS",
    "WKST", "COUNT", "UNTIL",
)  # fmt: skip
_DAILY_OR_LONGER = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_INT_LIST_BOUNDS = {
    "BYMONTH": (1, 12, False),
    "BYWEEKNO": (1, 53, True),
    "BYYEARDAY": (1, 366, True),
    "BYMONTHDAY": (1, 31, True),
    "BYSETPOS": (1, 366, True),
}
_FREQUENCIES = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_NTH_WEEKDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL_UTC = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_UNTIL_FLOATING = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})")
_UNTIL_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


class RecurrenceKind(StrEnum):
    """The recurrence patterns the calendar offers; each maps to one RRULE shape."""

    DAILY = "DAILY"  # FREQ=DAILY
    WEEKLY = "WEEKLY"  # FREQ=WEEKLY;BYDAY=... (weekdays)
    MONTHLY_BY_DAY = "MONTHLY_BY_DAY"  # FREQ=MONTHLY;BYMONTHDAY=n (month_day)
    MONTHLY_BY_WEEKDAY = "MONTHLY_BY_WEEKDAY"  # FREQ=MONTHLY;BYDAY=nXX (week_of_month, weekday)
    YEARLY = "YEARLY"  # FREQ=YEARLY: on DTSTART's month and day
    WORKDAYS = "WORKDAYS"  # FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
    YEARLY_BY_WEEKDAY = (
        "YEARLY_BY_WEEKDAY"  # FREQ=YEARLY;BYMONTH=m;BYDAY=nXX (last Sunday of March)
    )
    MONTHLY_BY_POSITION = "MONTHLY_BY_POSITION"  # FREQ=MONTHLY;BYDAY=...;BYSETPOS=n (last workday)


@dataclass(frozen=True, slots=True)
class RecurrenceSpec:
    """A recurrence in structured form; validated on construction (ValueError).

    ``until`` is inclusive: a ``date`` keeps every occurrence starting on or before that day in
    the event's zone, an aware ``datetime`` every occurrence starting at or before it (RFC 5545).
    ``until`` and ``count`` exclude each other; with neither the event repeats forever.
    MONTHLY_BY_DAY skips months without that day (the 31st: no February, April, ...) and YEARLY
    from 29 February repeats in leap years only, as RFC 5545 ignores invalid dates.
    WEEKLY without weekdays repeats on the first start's weekday (RFC 5545: BYDAY defaults to
    DTSTART's day); ``with_start_weekday`` makes that explicit once the start is known.
    Messages name fields and weekdays as the API does (weekOfMonth, MONDAY).
    """

    kind: RecurrenceKind
    interval: int = 1  # every N days / weeks / months / years
    weekdays: tuple[int, ...] = ()  # WEEKLY, MONTHLY_BY_POSITION: 0 = Monday; sorted on creation
    month_day: int | None = None  # MONTHLY_BY_DAY only: 1..31
    weekday: int | None = None  # MONTHLY_BY_WEEKDAY, YEARLY_BY_WEEKDAY: 0 = Monday .. 6 = Sunday
    week_of_month: int | None = None  # MONTHLY_/YEARLY_BY_WEEKDAY: 1..4, or -1 for the last
    until: date | datetime | None = None
    count: int | None = None
    month: int | None = None  # YEARLY_BY_WEEKDAY only: 1..12
    position: int | None = None  # MONTHLY_BY_POSITION only: 1..31 or -31..-1 (BYSETPOS)

    def __post_init__(self) -> None:
        kind = RecurrenceKind(self.kind)  # ValueError for an unknown kind
        object.__setattr__(self, "kind", kind)
        if not _is_int(self.interval) or self.interval < 1:
            raise ValueError(f"interval must be an integer >= 1, got {self.interval!r}")

        with_days = (RecurrenceKind.WEEKLY, RecurrenceKind.MONTHLY_BY_POSITION)
        if kind in with_days:
            for day in self.weekdays:
                if not _is_int(day) or not 0 <= day <= 6:
                    raise ValueError(f"weekdays must be MONDAY..SUNDAY, got {day!r}")
            if kind is RecurrenceKind.MONTHLY_BY_POSITION and not self.weekdays:
                raise ValueError("MONTHLY_BY_POSITION needs weekdays (e.g. MONDAY..FRIDAY)")
            object.__setattr__(self, "weekdays", tuple(sorted(set(self.weekdays))))
        elif self.weekdays:
            raise ValueError(f"weekdays apply to WEEKLY and MONTHLY_BY_POSITION, not {kind}")

        if kind is RecurrenceKind.MONTHLY_BY_DAY:
            if not _is_int(self.month_day) or not 1 <= self.month_day <= 31:
                raise ValueError(f"monthDay must be 1..31, got {self.month_day!r}")
        elif self.month_day is not None:
            raise ValueError(f"monthDay applies to MONTHLY_BY_DAY only, not {kind}")

        by_weekday = (RecurrenceKind.MONTHLY_BY_WEEKDAY, RecurrenceKind.YEARLY_BY_WEEKDAY)
        if kind in by_weekday:
            if not _is_int(self.weekday) or not 0 <= self.weekday <= 6:
                raise ValueError(f"{kind} needs a weekday (MONDAY..SUNDAY)")
            if self.week_of_month not in _WEEKS_OF_MONTH or not _is_int(self.week_of_month):
                raise ValueError(
                    f"weekOfMonth must be 1, 2, 3, 4 or -1 (last), got {self.week_of_month!r}"
                )
        elif self.weekday is not None or self.week_of_month is not None:
            raise ValueError(
                f"weekday and weekOfMonth apply to MONTHLY_BY_WEEKDAY and YEARLY_BY_WEEKDAY, "
                f"not {kind}"
            )

        if kind is RecurrenceKind.YEARLY_BY_WEEKDAY:
            if not _is_int(self.month) or not 1 <= self.month <= 12:
                raise ValueError(f"month must be 1..12, got {self.month!r}")
        elif self.month is not None:
            raise ValueError(f"month applies to YEARLY_BY_WEEKDAY only, not {kind}")

        if kind is RecurrenceKind.MONTHLY_BY_POSITION:
            if not _is_int(self.position) or not (1 <= abs(self.position) <= 31):
                raise ValueError(
                    f"position must be 1..31 or -31..-1 (-1: the last), got {self.position!r}"
                )
        elif self.position is not None:
            raise ValueError(f"position applies to MONTHLY_BY_POSITION only, not {kind}")

        if self.until is not None and self.count is not None:
            raise ValueError("until and count exclude each other (RFC 5545); give one or neither")
        if self.count is not None and (not _is_int(self.count) or self.count < 1):
            raise ValueError(f"count must be an integer >= 1, got {self.count!r}")
        if isinstance(self.until, datetime):
            _utc(self.until, "until")  # a naive until would be a guess about its zone
        elif self.until is not None and not isinstance(self.until, date):
            raise ValueError(f"until must be a date or an aware datetime, got {self.until!r}")


def with_start_weekday(spec: RecurrenceSpec, local_start: datetime) -> RecurrenceSpec:
    """``spec`` with WEEKLY's missing weekdays set to the start's local weekday."""
    if spec.kind is RecurrenceKind.WEEKLY and not spec.weekdays:
        return replace(spec, weekdays=(local_start.weekday(),))
    return spec


@dataclass(frozen=True, slots=True)
class OccurrenceChange:
    """One occurrence cancelled, or moved to [new_start, new_end); kept in UTC.

    ``original_start`` is the occurrence's start as generated (its RECURRENCE-ID).
    """

    original_start: datetime
    cancelled: bool = False
    new_start: datetime | None = None
    new_end: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "original_start", _utc(self.original_start, "original_start"))
        if self.cancelled:
            if self.new_start is not None or self.new_end is not None:
                raise ValueError("a cancelled occurrence has no new_start or new_end")
            return
        if self.new_start is None or self.new_end is None:
            raise ValueError(
                "a change either cancels the occurrence or gives new_start and new_end"
            )
        new_start = _utc(self.new_start, "new_start")
        new_end = _utc(self.new_end, "new_end")
        if new_end < new_start:
            raise ValueError(f"new_end {new_end} is before new_start {new_start}")
        object.__setattr__(self, "new_start", new_start)
        object.__setattr__(self, "new_end", new_end)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _utc(value: datetime, name: str) -> datetime:
    """Return ``value`` in UTC; naive datetimes are rejected rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _local_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """UTC instant of a local wall-clock time: fold=0 (a gap moves forward, an overlap is early)."""
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The last whole second of ``day`` in ``tz``, in UTC (the next local midnight minus 1 s)."""
    return _local_to_utc(datetime.combine(day + _DAY, time()), tz) - _SECOND


def _format_floating(v: datetime) -> str:
    """``YYYYMMDDTHHMMSS`` of the wall-clock fields as they are (RRULE has whole seconds)."""
    # strftime("%Y") would not zero-pad years before 1000.
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}"


def _format_utc(value: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` of an aware datetime."""
    return _format_floating(value.astimezone(UTC)) + "Z"


def _until_utc(until: date | datetime, tz: ZoneInfo) -> datetime:
    """The inclusive UTC bound of ``until``: an aware datetime itself, a date its day's end."""
    if isinstance(until, datetime):
        return _utc(until, "until").replace(microsecond=0)
    return _end_of_day(until, tz)


def _parse_until(value: str, tz: ZoneInfo | None) -> date | datetime:
    """An UNTIL value: ``...Z`` is aware UTC, a bare date a date, a floating time local in tz."""
    if match := _UNTIL_UTC.fullmatch(value):
        return datetime(*map(int, match.groups()), tzinfo=UTC)
    if match := _UNTIL_DATE.fullmatch(value):
        return date(*map(int, match.groups()))
    if match := _UNTIL_FLOATING.fullmatch(value):
        if tz is None:
            raise ValueError(f"UNTIL={value} has no zone; RFC 5545 wants UTC (...Z) here")
        wall = datetime(*map(int, match.groups()))  # noqa: DTZ001 - local wall-clock time
        return _local_to_utc(wall, tz)
    raise ValueError(f"UNTIL={value} is not YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ")


def _parse_rule(rule: str) -> dict[str, str]:
    """The parts of one RRULE value (an optional ``RRULE:`` prefix allowed), names upper-cased."""
    text = rule.strip()
    if text[:6].upper() == "RRULE:":
        text = text[6:]
    if not text or any(ch in text for ch in ":\r\n"):
        raise ValueError(f"expected one RRULE value such as 'FREQ=WEEKLY;BYDAY=TU', got {rule!r}")
    parts: dict[str, str] = {}
    for item in text.split(";"):
        name, sep, value = item.partition("=")
        name = name.strip().upper()
        value = value.strip().upper()
        if not sep or not name or not value:
            raise ValueError(f"RRULE part {item!r} is not NAME=VALUE")
        if name in parts:
            raise ValueError(f"RRULE part {name} appears twice")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq not in _FREQUENCIES:
        raise ValueError(f"RRULE needs FREQ, one of {', '.join(_FREQUENCIES)}; got {freq!r}")
    for name in ("INTERVAL", "COUNT"):
        if name in parts and (not parts[name].isdigit() or int(parts[name]) < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {parts[name]!r}")
    if "UNTIL" in parts and "COUNT" in parts:
        raise ValueError("UNTIL and COUNT exclude each other (RFC 5545)")
    return parts


# --- RecurrenceSpec <-> RRULE -------------------------------------------------------------------


def to_rrule(spec: RecurrenceSpec, *, tz: ZoneInfo) -> str:
    """The RRULE value of ``spec``, e.g. ``FREQ=WEEKLY;INTERVAL=2;BYDAY=TU``.

    UNTIL is written in UTC (``...Z``), as RFC 5545 requires with a zoned DTSTART: an until date
    becomes the last second of that day in ``tz``. INTERVAL=1 is left out.
    """
    kind = spec.kind
    freq = {
        RecurrenceKind.DAILY: "DAILY",
        RecurrenceKind.WEEKLY: "WEEKLY",
        RecurrenceKind.WORKDAYS: "WEEKLY",
        RecurrenceKind.MONTHLY_BY_DAY: "MONTHLY",
        RecurrenceKind.MONTHLY_BY_WEEKDAY: "MONTHLY",
        RecurrenceKind.YEARLY: "YEARLY",
        RecurrenceKind.YEARLY_BY_WEEKDAY: "YEARLY",
        RecurrenceKind.MONTHLY_BY_POSITION: "MONTHLY",
    }[kind]
    parts = [f"FREQ={freq}"]
    if spec.interval != 1:
        parts.append(f"INTERVAL={spec.interval}")
    if kind is RecurrenceKind.WEEKLY and spec.weekdays:
        parts.append("BYDAY=" + ",".join(_DAY_CODES[d] for d in spec.weekdays))
    elif kind is RecurrenceKind.WORKDAYS:
        parts.append("BYDAY=" + ",".join(_DAY_CODES[d] for d in _WORKDAYS))
    elif kind is RecurrenceKind.MONTHLY_BY_DAY:
        parts.append(f"BYMONTHDAY={spec.month_day}")
    elif kind is RecurrenceKind.MONTHLY_BY_WEEKDAY:
        assert spec.weekday is not None  # checked by RecurrenceSpec
        parts.append(f"BYDAY={spec.week_of_month}{_DAY_CODES[spec.weekday]}")
    elif kind is RecurrenceKind.YEARLY_BY_WEEKDAY:
        assert spec.weekday is not None  # checked by RecurrenceSpec
        parts.append(f"BYMONTH={spec.month}")
        parts.append(f"BYDAY={spec.week_of_month}{_DAY_CODES[spec.weekday]}")
    elif kind is RecurrenceKind.MONTHLY_BY_POSITION:
        parts.append("BYDAY=" + ",".join(_DAY_CODES[d] for d in spec.weekdays))
        parts.append(f"BYSETPOS={spec.position}")
    if spec.count is not None:
        parts.append(f"COUNT={spec.count}")
    if spec.until is not None:
        parts.append(f"UNTIL={_format_utc(_until_utc(spec.until, tz))}")
    return ";".join(parts)


def from_rrule(rule: str, *, tz: ZoneInfo | None = None) -> RecurrenceSpec:
    """The structured form of an RRULE value; ValueError for rules outside ``RecurrenceKind``.

    A best-effort inverse of ``to_rrule``: also reads ``BYDAY=FR;BYSETPOS=-1`` as the last
    Friday and daily-on-weekdays as WORKDAYS, and WEEKLY on exactly Monday-Friday is WORKDAYS.
    UNTIL comes back as an aware UTC datetime, or, given the event's zone ``tz``, as a date when
    it is the last second of a local day (what ``to_rrule`` writes for a date).
    """
    parts = _parse_rule(rule)
    allowed = {
        *("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYSETPOS", "UNTIL", "COUNT", "WKST"),
        "BYMONTH",
    }
    if unsupported := sorted(set(parts) - allowed):
        raise ValueError(f"RRULE parts {', '.join(unsupported)} are outside the supported kinds")
    if parts.get("WKST", "MO") != "MO":
        raise ValueError("only WKST=MO (the default) is supported")
    freq = parts["FREQ"]
    interval = int(parts.get("INTERVAL", "1"))
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    until: date | datetime | None = None
    if "UNTIL" in parts:
        until = _parse_until(parts["UNTIL"], tz)
        if isinstance(until, datetime) and tz is not None:
            day = (until + _SECOND).astimezone(tz).date() - _DAY
            if _end_of_day(day, tz) == until:
                until = day
    byday = [_parse_byday(code) for code in parts["BYDAY"].split(",")] if "BYDAY" in parts else []
    bymonthday = parts.get("BYMONTHDAY")
    bysetpos = parts.get("BYSETPOS")
    common = {"interval": interval, "until": until, "count": count}

    def outside() -> ValueError:
        return ValueError(f"RRULE {rule!r} is outside the supported kinds")

    plain_days = tuple(day for n, day in byday if n is None)
    bymonth = parts.get("BYMONTH")
    if bymonth is not None:
        if not (freq == "YEARLY" and bymonth.isdigit() and len(byday) == 1 and bysetpos is None):
            raise outside()
        n, day = byday[0]
        if bymonthday is not None or n not in _WEEKS_OF_MONTH:
            raise outside()
        return RecurrenceSpec(
            kind=RecurrenceKind.YEARLY_BY_WEEKDAY,
            month=int(bymonth),
            weekday=day,
            week_of_month=n,
            **common,
        )
    if bysetpos is not None and freq == "MONTHLY" and len(plain_days) == len(byday) > 1:
        if bymonthday is not None or not bysetpos.lstrip("+-").isdigit():
            raise outside()
        return RecurrenceSpec(
            kind=RecurrenceKind.MONTHLY_BY_POSITION,
            weekdays=plain_days,
            position=int(bysetpos),
            **common,
        )
    if bysetpos is not None and not (freq == "MONTHLY" and len(plain_days) == len(byday) == 1):
        raise outside()
    if freq == "YEARLY" and not byday and bymonthday is None:
        return RecurrenceSpec(kind=RecurrenceKind.YEARLY, **common)
    if freq == "WEEKLY" and not byday and bymonthday is None:
        return RecurrenceSpec(kind=RecurrenceKind.WEEKLY, **common)
    if freq == "DAILY" and bymonthday is None:
        if not byday:
            return RecurrenceSpec(kind=RecurrenceKind.DAILY, **common)
        if interval == 1 and len(plain_days) == len(byday) and set(plain_days) == {*_WORKDAYS}:
            return RecurrenceSpec(kind=RecurrenceKind.WORKDAYS, **common)
    if freq == "WEEKLY" and bymonthday is None and byday and len(plain_days) == len(byday):
        if sorted(set(plain_days)) == list(_WORKDAYS):
            return RecurrenceSpec(kind=RecurrenceKind.WORKDAYS, **common)
        return RecurrenceSpec(kind=RecurrenceKind.WEEKLY, weekdays=plain_days, **common)
    if freq == "MONTHLY":
        if bymonthday is not None and not byday:
            if not bymonthday.isdigit():
                raise outside()
            return RecurrenceSpec(
                kind=RecurrenceKind.MONTHLY_BY_DAY, month_day=int(bymonthday), **common
            )
        if bymonthday is None and len(byday) == 1:
            n, day = byday[0]
            if bysetpos is not None:
                try:
                    n = int(bysetpos)
                except ValueError:
                    raise outside() from None
            if n in _WEEKS_OF_MONTH:
                return RecurrenceSpec(
                    kind=RecurrenceKind.MONTHLY_BY_WEEKDAY, weekday=day, week_of_month=n, **common
                )
    raise outside()


def _parse_byday(code: str) -> tuple[int | None, int]:
    """``2TU`` -> (2, 1); ``FR`` -> (None, 4)."""
    match = _NTH_WEEKDAY.fullmatch(code.strip())
    if match is None:
        raise ValueError(f"BYDAY entry {code!r} is not a weekday such as TU, 2TU or -1FR")
    n, day = match.groups()
    return (int(n) if n is not None else None), _DAY_CODES.index(day)


def normalize_rrule(rule: str, *, tz: ZoneInfo) -> str:
    """A power user's RRULE value validated, bounded and written canonically; ValueError.

    Bounded: FREQ is DAILY or longer and BYHOUR / BYMINUTE / BYSECOND are refused, so a rule
    gives at most one occurrence per local day (the first start's time of day); INTERVAL and
    COUNT are at most 999 and 1000. Canonical: parts in RFC 5545 order, INTERVAL=1 and WKST=MO
    left out, BYDAY entries ordered from Monday, UNTIL in UTC (``...Z``; a date is the end of
    that day in ``tz``, a floating time is read in ``tz``).
    """
    parts = _parse_rule(rule)
    if unknown := sorted(set(parts) - set(_RULE_PARTS)):
        raise ValueError(
            f"RRULE parts {', '.join(unknown)} are not accepted (the time of day comes from "
            "the event's start)"
        )
    if parts["FREQ"] not in _DAILY_OR_LONGER:
        raise ValueError(f"FREQ must be one of {', '.join(_DAILY_OR_LONGER)}: at most daily")
    out = {"FREQ": parts["FREQ"]}
    interval = int(parts.get("INTERVAL", "1"))
    if interval > 999:
        raise ValueError("INTERVAL must be 1..999")
    if interval != 1:
        out["INTERVAL"] = str(interval)
    for name, (low, high, signed) in _INT_LIST_BOUNDS.items():
        if name not in parts:
            continue
        values = []
        for item in parts[name].split(","):
            text = item.strip()
            number = int(text) if re.fullmatch(r"[+-]?\d{1,3}", text) else None
            if (
                number is None
                or not low <= abs(number) <= high
                or (number < 0 and not signed)
                or (text[0] in "+-" and not signed)
            ):
                bound = f"{low}..{high}" + (f" or -{high}..-{low}" if signed else "")
                raise ValueError(f"{name} values must be {bound}, got {text!r}")
            values.append(number)
        out[name] = ",".join(str(v) for v in sorted(set(values), key=lambda v: (v < 0, v)))
    if "BYDAY" in parts:
        days = sorted({_parse_byday(code) for code in parts["BYDAY"].split(",")}, key=_day_key)
        for n, _day in days:
            if n is not None and not (1 <= abs(n) <= 53):
                raise ValueError("BYDAY ordinals must be 1..53 or -53..-1")
            if n is not None and parts["FREQ"] not in ("MONTHLY", "YEARLY"):
                raise ValueError("BYDAY with an ordinal (2TU, -1FR) needs FREQ=MONTHLY or YEARLY")
        out["BYDAY"] = ",".join(f"{'' if n is None else n}{_DAY_CODES[d]}" for n, d in days)
    if parts["FREQ"] == "WEEKLY" and "BYMONTHDAY" in out:
        raise ValueError("BYMONTHDAY does not apply to FREQ=WEEKLY (RFC 5545)")
    if "BYWEEKNO" in out and parts["FREQ"] != "YEARLY":
        raise ValueError("BYWEEKNO applies to FREQ=YEARLY only (RFC 5545)")
    if "BYYEARDAY" in out and parts["FREQ"] in ("DAILY", "WEEKLY", "MONTHLY"):
        raise ValueError("BYYEARDAY does not apply to FREQ=DAILY, WEEKLY or MONTHLY (RFC 5545)")
    if "BYSETPOS" in out and not ({"BYDAY", "BYMONTHDAY", "BYMONTH", "BYYEARDAY"} & out.keys()):
        raise ValueError("BYSETPOS needs another BYxxx part to pick from (RFC 5545)")
    if parts.get("WKST", "MO") != "MO":
        if parts["WKST"] not in _DAY_CODES:
            raise ValueError(f"WKST must be MO..SU, got {parts['WKST']!r}")
        out["WKST"] = parts["WKST"]
    if "COUNT" in parts:
        if int(parts["COUNT"]) > 1000:
            raise ValueError("COUNT must be 1..1000")
        out["COUNT"] = str(int(parts["COUNT"]))
    if "UNTIL" in parts:
        out["UNTIL"] = _format_utc(_until_utc(_parse_until(parts["UNTIL"], tz), tz))
    order = ("FREQ", "INTERVAL", "BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")
    order += ("BYSETPOS", "WKST", "COUNT", "UNTIL")
    return ";".join(f"{name}={out[name]}" for name in order if name in out)


def _day_key(entry: tuple[int | None, int]) -> tuple[int, int]:
    n, day = entry
    return day, 0 if n is None else n


def rule_until(rule: str) -> datetime | None:
    """The UNTIL of a stored (UTC) rule as an aware datetime, None without one."""
    value = _parse_rule(rule).get("UNTIL")
    if value is None:
        return None
    until = _parse_until(value, UTC)
    return until if isinstance(until, datetime) else _end_of_day(until, UTC)


def with_until(rule: str, until: datetime) -> str:
    """``rule`` ending at ``until`` (inclusive, written in UTC); an earlier UNTIL is kept, a
    COUNT is refused (ValueError): where a counted series ends depends on its start."""
    parts = _parse_rule(rule)
    if "COUNT" in parts:
        raise ValueError("a rule with COUNT cannot be given an UNTIL")
    current = rule_until(rule)
    if current is not None and current <= until:
        return rule
    parts["UNTIL"] = _format_utc(until.replace(microsecond=0))
    return ";".join(f"{name}={value}" for name, value in parts.items())


def rule_count(rule: str) -> int | None:
    """The COUNT of a rule, None without one."""
    value = _parse_rule(rule).get("COUNT")
    return int(value) if value is not None else None


def with_count(rule: str, count: int) -> str:
    """``rule`` with its COUNT replaced by ``count``."""
    parts = _parse_rule(rule)
    parts["COUNT"] = str(count)
    return ";".join(f"{name}={value}" for name, value in parts.items())


def without_count(rule: str) -> str:
    """``rule`` without its COUNT (to be ended by an UNTIL instead)."""
    parts = _parse_rule(rule)
    parts.pop("COUNT", None)
    return ";".join(f"{name}={value}" for name, value in parts.items())


def first_start(*, rule: str, start: datetime, tz: ZoneInfo) -> datetime | None:
    """The first start the rule generates at or after ``start`` (UTC), looking ahead at most
    eight years and a day (29 February rules), or None."""
    parsed = _Rule(rule, start, tz)
    for days in (400, 8 * 366 + 1):  # most rules answer within a year: a short walk first
        found = parsed.starts(start, start + timedelta(days=days), max_occurrences=5000)
        if found:
            return found[0]
    return None


# --- expansion ----------------------------------------------------------------------------------


def _shifted(value: datetime, delta: timedelta) -> datetime:
    """``value + delta``, saturating at datetime.min / datetime.max instead of overflowing."""
    try:
        return value + delta
    except OverflowError:
        return datetime.max if delta > timedelta(0) else datetime.min  # noqa: DTZ901 - naive


# Any fixed DTSTART: a compiled rule is re-based on the real one (rrule.replace).
_COMPILE_DTSTART = datetime(2000, 1, 3)  # noqa: DTZ001 - naive local, like every DTSTART


@lru_cache(maxsize=4096)
def _compiled(text: str) -> rrule:
    """``text`` (RRULE parts without UNTIL, FREQ=DAILY or longer) parsed once per process.

    Parsing is a fifth of an expansion's time (dateutil's tokenizer), and the same few rules
    are expanded again for every window asked for. dateutil keeps what it derives from DTSTART
    (a WEEKLY rule's weekday, a MONTHLY rule's day, the time of day) out of the rule it
    re-bases, so ``_compiled(text).replace(dtstart=d, until=u)`` is the rule
    ``rrulestr(text + UNTIL, dtstart=d)`` would build (a test compares both); sub-daily rules
    are not cached, as dateutil narrows their BYHOUR/BYMINUTE/BYSECOND by DTSTART itself.
    """
    compiled = rrulestr(text, dtstart=_COMPILE_DTSTART)
    assert isinstance(compiled, rrule)  # one RRULE, no RDATE/EXDATE: never an rruleset
    return compiled


def _dateutil_rule(parts: dict[str, str], dtstart: datetime, until: datetime | None) -> rrule:
    """dateutil's rule for ``parts`` (without UNTIL) from ``dtstart``, stopping at ``until``."""
    text = ";".join(f"{k}={v}" for k, v in parts.items())
    if parts["FREQ"] in _DAILY_OR_LONGER:
        return _compiled(text).replace(dtstart=dtstart, until=until)
    if until is not None:
        text += f";UNTIL={_format_floating(until)}"
    built = rrulestr(text, dtstart=dtstart)
    assert isinstance(built, rrule)
    return built


# Parts after which a DAILY or WEEKLY rule's wall-clock occurrences no longer repeat with a
# fixed period (months differ in length; COUNT and BYSETPOS count from somewhere).
_APERIODIC = frozenset(
    {"COUNT", "BYSETPOS", "BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYEASTER"}
)


def _repeat_period(parts: dict[str, str]) -> timedelta | None:
    """The shift P under which the rule's local wall-clock occurrences repeat exactly (each
    occurrence t >= DTSTART has a next one t + P, and nothing in between but what the first
    P after DTSTART had), or None when the rule does not repeat that way.

    A WEEKLY rule repeats every INTERVAL weeks; a DAILY one every INTERVAL days, or, filtered
    by weekdays, every lcm(INTERVAL, 7) days. Times of day (BYHOUR/BYMINUTE/BYSECOND) repeat
    with them. Naive wall-clock arithmetic is exact: DST is applied afterwards, per occurrence.
    """
    freq = parts["FREQ"]
    if freq not in {"DAILY", "WEEKLY"} or _APERIODIC & parts.keys():
        return None
    if any(code[:1] in "+-0123456789" for code in parts.get("BYDAY", "").split(",") if code):
        return None  # "1MO" and the like: not meaningful for these frequencies anyway
    interval = int(parts.get("INTERVAL", "1"))
    if freq == "WEEKLY":
        return 7 * interval * _DAY
    if "BYDAY" in parts:
        return math.lcm(interval, 7) * _DAY
    return interval * _DAY


def _tiled(
    first: list[datetime], dtstart: datetime, period: timedelta, until: datetime
) -> Iterator[datetime]:
    """The occurrences ``first`` (those in [DTSTART, DTSTART + P), sorted) repeated every
    ``period`` up to ``until``, in order."""
    if not first:
        return
    offsets = [t - dtstart for t in first]
    base = dtstart
    while True:
        for offset in offsets:
            t = base + offset
            if t > until:
                return
            yield t
        base += period


class _Rule:
    """One parsed RRULE bound to an event's first start and zone."""

    def __init__(self, rule: str, start: datetime, tz: ZoneInfo) -> None:
        self.parts = _parse_rule(rule)
        self.tz = tz
        self.start = start
        local = start.astimezone(tz)
        # dateutil drops microseconds from DTSTART; they are added back to each occurrence.
        self.micro = timedelta(microseconds=local.microsecond)
        self.dtstart = local.replace(tzinfo=None, microsecond=0)
        until = self.parts.get("UNTIL")
        self.until = _until_utc(_parse_until(until, tz), tz) if until else None

    def _fast_forward(self, target: datetime) -> tuple[datetime, dict[str, str]]:
        """A DTSTART at most ``target`` and parts giving the same occurrences from there on.

        Only without COUNT (which counts from the real DTSTART) and for FREQ=DAILY or longer.
        The new DTSTART lies a whole number of INTERVAL periods after the real one, so the period
        grid is unchanged, and parts that dateutil derives from DTSTART are made explicit. The
        walk then misses only occurrences before the new DTSTART, so before ``target``.
        """
        parts = dict(self.parts)
        dt = self.dtstart
        freq = parts["FREQ"]
        interval = int(parts.get("INTERVAL", "1"))
        if "COUNT" in parts or target <= dt or freq not in {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}:
            return dt, parts
        if freq in {"DAILY", "WEEKLY"}:
            step = interval * (_DAY if freq == "DAILY" else 7 * _DAY)
            return dt + (target - dt) // step * step, parts
        if freq == "MONTHLY":
            periods = ((target.year - dt.year) * 12 + target.month - dt.month) // interval
            index = dt.year * 12 + dt.month - 1 + periods * interval
            new_start = datetime(index // 12, index % 12 + 1, 1)  # noqa: DTZ001 - local
        else:
            periods = (target.year - dt.year) // interval
            new_start = datetime(dt.year + periods * interval, 1, 1)  # noqa: DTZ001 - local
        if periods < 1:
            return dt, parts  # the real DTSTART's own period: nothing to skip
        if not {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"} & parts.keys():
            if freq == "YEARLY":
                parts.setdefault("BYMONTH", str(dt.month))
            parts["BYMONTHDAY"] = str(dt.day)
        parts.setdefault("BYHOUR", str(dt.hour))
        parts.setdefault("BYMINUTE", str(dt.minute))
        parts.setdefault("BYSECOND", str(dt.second))
        return new_start, parts

    def starts(self, lo: datetime, hi: datetime, max_occurrences: int) -> list[datetime]:
        """Sorted UTC starts s with lo <= s < hi (and s <= UNTIL).

        ValueError when more than ``max_occurrences`` occurrences before ``hi`` are walked
        through: those from ``lo`` on after a skip ahead, all from DTSTART otherwise.
        """
        hi_bound = hi if self.until is None else min(hi, self.until + _SECOND)
        if hi_bound <= lo:
            return []
        lo_local = _shifted(lo.astimezone(self.tz).replace(tzinfo=None), -_MARGIN)
        hi_local = _shifted(hi_bound.astimezone(self.tz).replace(tzinfo=None), _MARGIN)
        dtstart, parts = self._fast_forward(lo_local)
        # The lead-in of a skip ahead is a few periods at most; a walk from DTSTART is not.
        count_from = lo if dtstart != self.dtstart else self.start
        parts.pop("UNTIL", None)
        parts.setdefault("WKST", "MO")  # not calendar.firstweekday(), which is global state
        # UNTIL lets dateutil stop by itself (a rule that never matches would walk to 9999).
        until = None if "COUNT" in parts else hi_local.replace(microsecond=0)
        period = _repeat_period(parts) if until is not None else None
        rule: Iterable[datetime]
        if period is not None and until - dtstart > 2 * period:
            # dateutil walks one period; the rest repeats it (a year of a weekly rule is 52
            # times the same week: dateutil's walk was half an expansion's time).
            first = list(_dateutil_rule(parts, dtstart, min(until, dtstart + period - _SECOND)))
            rule = _tiled(first, dtstart, period, until)
        else:
            rule = _dateutil_rule(parts, dtstart, until)

        found: list[datetime] = []
        append = found.append
        walked = 0
        # Once per occurrence: each placed in the zone inline, attributes read once.
        first_naive, first_start, micro = self.dtstart, self.start, self.micro
        utcoffset = self.tz.utcoffset
        last = self.until if self.until is not None else hi
        for naive in rule:
            if naive > hi_local:
                break
            if naive == first_naive:
                start = first_start  # exact, even when DTSTART's wall time is in a fold
            else:
                if micro:
                    naive += micro
                # fold=0 from dateutil: a time in a gap or a fold takes the offset before the
                # transition (PEP 495), as astimezone() would.
                start = _EPOCH_UTC + (naive - _EPOCH - utcoffset(naive))
            if start < hi:
                if start >= count_from:
                    walked += 1
                    if walked > max_occurrences:
                        raise ValueError(
                            f"more than {max_occurrences} occurrences to expand before {hi}; "
                            "narrow the window or raise max_occurrences"
                        )
                if start >= lo and start <= last:
                    append(start)
        found.sort()  # a DST gap can reorder sub-daily occurrences
        return found

    def has_occurrence_at(self, instant: datetime, max_occurrences: int) -> bool:
        return instant in self.starts(instant, instant + _SECOND, max_occurrences)


def _new_times(change: OccurrenceChange) -> tuple[datetime, datetime] | None:
    """(new_start, new_end) of a moved occurrence; None for a cancelled one."""
    if change.new_start is None or change.new_end is None:
        return None
    return change.new_start, change.new_end


def _overlaps(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> bool:
    """Whether [start, end) meets [window_start, window_end); an instant (start == end) inside."""
    if start == end:
        return window_start <= start < window_end
    return start < window_end and end > window_start


def expand(
    *,
    rule: str | None,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
    changes: Sequence[OccurrenceChange] = (),
    max_occurrences: int = 5000,
    extra_starts: Sequence[datetime] = (),
) -> list[Occurrence]:
    """(start, end, original start) in UTC of the occurrences overlapping the window, by start.

    ``start``/``end`` are the first occurrence; ``rule`` an RRULE value, or None for a single
    occurrence; ``extra_starts`` are RDATE starts added to the rule's (each lasting as long as
    the first; one the rule gives anyway counts once). A cancelled occurrence is dropped; a
    moved one appears at its new time when that overlaps the window, wherever its original
    was; a change matching no occurrence is ignored.

    Work is bounded: the walk stops just past the window, and raises ValueError rather than
    truncate when more than ``max_occurrences`` occurrences start before ``window_end``. Rules
    without COUNT of FREQ=DAILY or longer skip ahead to the window, so only the window's own
    occurrences count; COUNT rules (counted from DTSTART) and sub-daily rules are walked from
    DTSTART, so their earlier occurrences count too.
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    window_start = _utc(window_start, "window_start")
    window_end = _utc(window_end, "window_end")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if max_occurrences < 1:
        raise ValueError(f"max_occurrences must be >= 1, got {max_occurrences}")
    by_original: dict[datetime, OccurrenceChange] = {}
    for change in changes:
        if change.original_start in by_original:
            raise ValueError(f"two changes for the occurrence at {change.original_start}")
        by_original[change.original_start] = change
    if window_end <= window_start:
        return []

    duration = end - start
    recurrence = _Rule(rule, start, tz) if rule is not None else None

    extras = {_utc(s, "extra_starts") for s in extra_starts}

    def is_occurrence(instant: datetime) -> bool:
        if instant in extras:
            return True
        if recurrence is None:
            return instant == start
        return recurrence.has_occurrence_at(instant, max_occurrences)

    lo = window_start - duration  # an occurrence starting after lo may still run into the window
    if recurrence is None:
        starts = [start] if lo <= start < window_end else []
    else:
        starts = recurrence.starts(lo, window_end, max_occurrences)
    if extras:
        starts = sorted({*starts, *(s for s in extras if lo <= s < window_end)})

    if not by_original:  # no moved or cancelled occurrence: the common case, kept lean
        if duration:
            return [(s, s + duration, s) for s in starts if s < window_end and s > lo]
        return [(s, s, s) for s in starts if window_start <= s < window_end]

    result: list[Occurrence] = []
    handled: set[datetime] = set()
    for s in starts:
        if not _overlaps(s, s + duration, window_start, window_end):
            continue
        handled.add(s)
        change = by_original.get(s)
        if change is None:
            result.append((s, s + duration, s))
        elif (moved := _new_times(change)) and _overlaps(*moved, window_start, window_end):
            result.append((*moved, s))
    # Occurrences moved into the window from outside it.
    for original, change in by_original.items():
        moved = _new_times(change)
        if (
            moved is not None
            and original not in handled
            and _overlaps(*moved, window_start, window_end)
            and is_occurrence(original)
        ):
            result.append((*moved, original))
    result.sort()
    return result
