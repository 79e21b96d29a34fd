"""The schema's date and time scalars, described for clients (the names and wire format are
strawberry's; only what they promise is spelt out)."""

import dataclasses
import datetime as dt

from strawberry.schema.types.base_scalars import (
    DateDefinition,
    DateTimeDefinition,
    TimeDefinition,
)
from strawberry.types.scalar import ScalarDefinition

RFC_3339 = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"

SCALARS: dict[object, ScalarDefinition] = {
    dt.datetime: dataclasses.replace(
        DateTimeDefinition,
        description="A moment in time as an RFC 3339 date-time WITH a UTC offset, e.g. "
        "2027-03-01T09:00:00+01:00 or 2027-03-01T08:00:00Z. Answers are given in UTC "
        "otherwise); an argument without one is never guessed: it is refused with NAIVE_DATETIME.",
        specified_by_url=RFC_3339,
    ),
    dt.date: dataclasses.replace(
        DateDefinition,
        description="A calendar date, RFC 3339 full-date (YYYY-MM-DD), in the zone the field "
        "names.",
        specified_by_url=RFC_3339,
    ),
    dt.time: dataclasses.replace(
        TimeDefinition,
        description="A local wall-clock time, HH:MM or HH:MM:SS (RFC 3339 partial-time), "
        "without an offset: the zone is the person's or the event's.",
        specified_by_url=RFC_3339,
    ),
}
