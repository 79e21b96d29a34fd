"""Input checks shared by services: aware datetimes, sane ranges, and clean text."""

import re
import unicodedata
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


# No text anywhere may hold these: C0 controls but TAB, LF and CR (NUL above all: PostgreSQL
# `text` cannot store it), DEL, C1 controls, lone surrogates (not encodable as UTF-8, which a
# JSON "\ud800" escape produces) and the noncharacters U+FFFE, U+FFFF.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Invisible characters that change how a name reads without showing themselves: bidi marks,
# embeddings, overrides and isolates ("\u202e" turns "Ann gpj.exe" around), zero-width
# space, word joiner, invisible operators, byte-order mark, soft hyphen.
INVISIBLE_CHARACTERS = re.compile(
    "[\u00ad\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
# Zero-width (non-)joiners are part of writing Persian, Indic scripts and emoji sequences:
# allowed between two visible characters, refused anywhere else (leading, trailing, by a space).
JOINERS = "\u200c\u200d"


def forbidden_character(value: str) -> str | None:
    """The first character of `value` that no text may hold (see FORBIDDEN_CHARACTERS)."""
    match = FORBIDDEN_CHARACTERS.search(value)
    return match.group() if match else None


def require_clean_text(value: str, *, field: str) -> str:
    """The one rule every string from outside goes through (the API applies it to every
    string argument): INVALID_CHARACTERS when it holds a character no text may hold."""
    char = forbidden_character(value)
    if char is not None:
        raise DomainError(
            ErrorCode.INVALID_CHARACTERS,
            f"{field} contains a control character (U+{ord(char):04X}); it cannot be stored.",
            field=field,
        )
    return value


def _visible(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMNPS"


def hidden_character(value: str) -> str | None:
    """The first invisible formatting character that would make a name read as something it
    is not (see INVISIBLE_CHARACTERS and JOINERS)."""
    match = INVISIBLE_CHARACTERS.search(value)
    if match:
        return match.group()
    for index, char in enumerate(value):
        if char in JOINERS and not (
            0 < index < len(value) - 1 and _visible(value[index - 1]) and _visible(value[index + 1])
        ):
            return char
    return None


def require_one_line(value: str, *, field: str, max_length: int) -> str:
    """The text trimmed, or INVALID_INPUT when it is too long or holds control characters
    (a newline in a name or title would break the e-mail headers it goes into), or
    INVALID_CHARACTERS when it holds invisible bidi or zero-width characters (spoofing in
    mails and the admin)."""
    value = value.strip()
    if len(value) > max_length:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"{field} is too long ({max_length} at most).", field=field
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"{field} must be one line of text.", field=field
        )
    require_clean_text(value, field=field)
    char = hidden_character(value)
    if char is not None:
        raise DomainError(
            ErrorCode.INVALID_CHARACTERS,
            f"{field} contains an invisible formatting character (U+{ord(char):04X}).",
            field=field,
        )
    return value
