"""Input checks shared by services: aware datetimes and sane ranges."""

from datetime import UTC, datetime, timedelta

from reservation.errors import DomainError, ErrorCode


def require_aware(value: datetime, *, field: str) -> datetime:
    """The datetime in UTC, or NAIVE_DATETIME when it carries no offset (never guessed)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(
            ErrorCode.NAIVE_DATETIME,
            f"{field} has no UTC offset; send e.g. 2030-01-07T09:00:00Z.",
            field=field,
        )
    return value.astimezone(UTC)


def require_range(
    start: datetime, end: datetime, *, field: str = "end", max_length: timedelta | None = None
) -> tuple[datetime, datetime]:
    """(start, end) in UTC with end > start (INVALID_TIME_RANGE) and at most `max_length`
    apart (RANGE_TOO_LONG)."""
    start = require_aware(start, field="start")
    end = require_aware(end, field="end")
    if end <= start:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, "end must be after start.", field=field)
    if max_length is not None and end - start > max_length:
        raise DomainError(
            ErrorCode.RANGE_TOO_LONG,
            f"The range may span at most {max_length.days} days.",
            field=field,
        )
    return start, end


def describe_duration(value: timedelta) -> str:
    """A duration as people say it: days from two days up ('60 days', '2 days 6 hours'), else
    hours and minutes ('24 hours', '1 hour 30 minutes')."""
    minutes = int(value.total_seconds() // 60)
    units = [("hour", 60), ("minute", 1)]
    if minutes >= 2 * 24 * 60:
        units.insert(0, ("day", 24 * 60))
    parts = []
    for unit, size in units:
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 minutes"


def require_one_line(value: str, *, field: str, max_length: int) -> str:
    """The text trimmed, or INVALID_INPUT when it is too long or holds control characters
    (a newline in a name or title would break the e-mail headers it goes into)."""
    value = value.strip()
    if len(value) > max_length:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"{field} is too long ({max_length} at most).", field=field
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"{field} must be one line of text.", field=field
        )
    return value
