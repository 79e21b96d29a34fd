"""Times as people type and read them, in their own zone; UTC offsets only on the wire."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# `YYYY-MM-DDThh[:mm[:ss]][Z|±hh:mm] hh[:mm]`: a start (in my zone unless it carries an
# offset) and a duration. A space may stand for the T.
_SPAN = re.compile(
    r"""^\s*
    (?P<date>\d{4}-\d{2}-\d{2})[T\s]
    (?P<hour>\d{1,2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?
    (?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?
    \s+
    (?P<dh>\d{1,3})(?::(?P<dm>\d{2}))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
SPAN_FORMAT = "YYYY-MM-DDThh[:mm] hh[:mm]"


class BadTime(ValueError):
    """Typed text that is not a time the client can use; the message says why."""


@dataclass(frozen=True)
class Span:
    start: datetime  # aware
    minutes: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    def as_input(self) -> dict[str, object]:
        """A CandidateSlotInput."""
        return {"start": self.start.astimezone(UTC).isoformat(), "durationMinutes": self.minutes}


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTime(f"unknown time zone {name!r}") from None


def local(day: date, hour: int, minute: int, second: int, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz`; refuses a time the clocks skip (DST gap)."""
    naive = datetime(day.year, day.month, day.day, hour, minute, second)  # noqa: DTZ001
    aware = naive.replace(tzinfo=tz)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise BadTime(f"{naive:%Y-%m-%d %H:%M} does not exist in {tz.key} (clocks go forward)")
    return aware


def parse_span(text: str, tz: ZoneInfo) -> Span:
    """`2030-01-15T10 0:45` → 10:00 local for 45 minutes."""
    match = _SPAN.match(text)
    if not match:
        raise BadTime(f"type a start and a length as {SPAN_FORMAT}, e.g. 2030-01-15T10:30 0:45")
    try:
        day = date.fromisoformat(match["date"])
    except ValueError:
        raise BadTime(f"{match['date']} is not a date") from None
    hour, minute, second = int(match["hour"]), int(match["minute"] or 0), int(match["second"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise BadTime(f"{hour:02}:{minute:02} is not a time of day")
    if match["offset"]:
        offset = match["offset"].upper().replace(":", "")
        if offset == "Z":
            tzinfo = UTC
        else:
            sign = 1 if offset[0] == "+" else -1
            hours, mins = int(offset[1:3]), int(offset[3:5] or 0)
            if hours > 23 or mins > 59:
                raise BadTime(f"{match['offset']} is not a UTC offset")
            tzinfo = timezone(sign * timedelta(hours=hours, minutes=mins))
        start = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tzinfo)
    else:
        start = local(day, hour, minute, second, tz)
    dh, dm = int(match["dh"]), int(match["dm"] or 0)
    if dm > 59:
        raise BadTime(f"{dh}:{dm:02} is not a length (minutes go up to 59)")
    minutes = dh * 60 + dm
    if minutes < 1:
        raise BadTime("the length must be at least one minute")
    return Span(start=start, minutes=minutes)


def parse_day(text: str, tz: ZoneInfo, *, today: date) -> date:
    """`2030-01-15`, `today`, `tomorrow` or `+3` (days from today)."""
    text = text.strip().lower()
    if text in ("", "today"):
        return today
    if text == "tomorrow":
        return today + timedelta(days=1)
    if re.fullmatch(r"\+\d{1,3}", text):
        return today + timedelta(days=int(text[1:]))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadTime(f"{text!r} is not a day (YYYY-MM-DD, today, tomorrow or +N)") from None


def instant(value: str) -> datetime:
    """A DateTime from the server (ISO 8601 with offset)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def when(value: str | datetime, tz: ZoneInfo, *, short: bool = False) -> str:
    """`Tue 2030-01-15 10:30` in `tz`; short: `Tue 01-15 10:30`."""
    moment = instant(value) if isinstance(value, str) else value
    return moment.astimezone(tz).strftime("%a %m-%d %H:%M" if short else "%a %Y-%m-%d %H:%M")


def span_text(start: str, end: str, tz: ZoneInfo, *, short: bool = False) -> str:
    """`Tue 2030-01-15 10:30–11:15` (the end's day too when it differs); short: no year."""
    day = "%a %m-%d" if short else "%a %Y-%m-%d"
    a, b = instant(start).astimezone(tz), instant(end).astimezone(tz)
    tail = b.strftime("%H:%M") if a.date() == b.date() else b.strftime(f"{day} %H:%M")
    return f"{a.strftime(day)} {a:%H:%M}–{tail}"


def length(minutes: int) -> str:
    """`45m`, `1h`, `1h30m`."""
    hours, mins = divmod(minutes, 60)
    if not hours:
        return f"{mins}m"
    return f"{hours}h{mins:02}m" if mins else f"{hours}h"


_FREQ = {
    "DAILY": ("daily", "days"),
    "WEEKLY": ("weekly", "weeks"),
    "MONTHLY": ("monthly", "months"),
    "YEARLY": ("yearly", "years"),
}
_DAYS = {"MO": "Mon", "TU": "Tue", "WE": "Wed", "TH": "Thu", "FR": "Fri", "SA": "Sat", "SU": "Sun"}


def rule_text(rrule: str) -> str:
    """`FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=5` → `every 2 weeks on Mon, Thu, 5 times`."""
    parts = dict(p.split("=", 1) for p in rrule.split(";") if "=" in p)
    once, many = _FREQ.get(parts.get("FREQ", ""), (rrule.lower(), ""))
    interval = int(parts.get("INTERVAL", "1") or 1)
    words = [once if interval == 1 else f"every {interval} {many}"]
    if days := parts.get("BYDAY"):
        nth = {"": "", "-1": "last ", "1": "1st ", "2": "2nd ", "3": "3rd ", "4": "4th "}
        named = [nth.get(d[:-2], d[:-2] + " ") + _DAYS.get(d[-2:], d[-2:]) for d in days.split(",")]
        words.append("on " + ", ".join(named))
    if day := parts.get("BYMONTHDAY"):
        words.append(f"on day {day}")
    if count := parts.get("COUNT"):
        words.append(f"{count} times")
    if until := parts.get("UNTIL"):
        words.append(f"until {until[:4]}-{until[4:6]}-{until[6:8]}")
    return " ".join(words[:2]) + "".join(f", {w}" for w in words[2:])
