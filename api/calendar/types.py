from datetime import date, datetime, time

import strawberry
from strawberry.relay import to_base64

from api.accounts.types import UserType
from api.booking.types import Weekday
from api.enums import described_enum
from api.events.types import Rsvp
from reservation import models, recurrence
from reservation.errors import DomainError, ErrorCode
from reservation.selectors import calendar as calendar_selectors
from reservation.services import calendar
from reservation.timezones import zone

UpdateScope = described_enum(
    calendar.UpdateScope,
    name="UpdateScope",
    description="Which occurrences an eventUpdate changes: ALL (the series), THIS_OCCURRENCE "
    "(the time of one occurrence) or THIS_AND_FOLLOWING (splits the series into a new event).",
    values={
        "ALL": "The whole series.",
        "THIS_OCCURRENCE": "The time of one occurrence only.",
        "THIS_AND_FOLLOWING": "That occurrence and the later ones: the series is split.",
    },
)

RecurrenceKind = described_enum(
    recurrence.RecurrenceKind,
    name="RecurrenceKind",
    description="How an event repeats: DAILY, WEEKLY (on weekdays; none: the start's), "
    "MONTHLY_BY_DAY (a day number), MONTHLY_BY_WEEKDAY (the n-th or last weekday), YEARLY, "
    "WORKDAYS (Mon–Fri), YEARLY_BY_WEEKDAY (the n-th or last weekday of a month, e.g. the last "
    "Sunday of March), MONTHLY_BY_POSITION (the n-th or last of some weekdays, e.g. the last "
    "workday: BYSETPOS).",
    values={
        "DAILY": "Every N days.",
        "WEEKLY": "Every N weeks, on the weekdays given (none: the start's weekday).",
        "MONTHLY_BY_DAY": "Every N months, on a day number (monthDay).",
        "MONTHLY_BY_WEEKDAY": "Every N months, on the n-th (or last) weekday.",
        "YEARLY": "Every N years, on the start's date.",
        "WORKDAYS": "Monday to Friday.",
        "YEARLY_BY_WEEKDAY": "Every N years, on the n-th (or last) weekday of a month.",
        "MONTHLY_BY_POSITION": "Every N months, on the n-th (or last) of the weekdays given "
        "(BYSETPOS), e.g. the last workday.",
    },
)

ReminderChannel = described_enum(
    models.Channel,
    name="ReminderChannel",
    description="How a reminder reaches people: EMAIL, WEBHOOK, SLACK, TELEGRAM or SMS.",
    values={
        "EMAIL": "An e-mail to the person's address.",
        "WEBHOOK": "An HTTPS POST, signed with HMAC-SHA256.",
        "SLACK": "A Slack incoming webhook.",
        "TELEGRAM": "A Telegram message to a chat id.",
        "SMS": "A text message to a phone number.",
    },
)


@strawberry.input(
    description="How an event repeats, in its own time zone (stored as an RRULE): a kind with "
    "its fields, or `rrule`. The event's start must be one the rule gives (START_NOT_IN_RULE "
    "otherwise, unless alignStart)."
)
class RecurrenceInput:
    kind: RecurrenceKind | None = strawberry.field(
        default=None, description="The pattern (or give rrule instead)."
    )
    rrule: str | None = strawberry.field(
        default=None,
        description="For power users instead of kind: an RFC 5545 RRULE value such as "
        "'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1' (FREQ DAILY or longer, no BYHOUR/"
        "BYMINUTE/BYSECOND; COUNT at most 1000); stored normalised.",
    )
    interval: int = strawberry.field(
        default=1, description="Every N days, weeks, months or years (1–999)."
    )
    weekdays: list[Weekday] = strawberry.field(
        default_factory=list,
        description="WEEKLY: the days it happens on (none: the start's weekday); "
        "MONTHLY_BY_POSITION: the days to pick from.",
    )
    month_day: int | None = strawberry.field(
        default=None, description="MONTHLY_BY_DAY only: 1–31 (months without it are skipped)."
    )
    weekday: Weekday | None = strawberry.field(
        default=None, description="MONTHLY_BY_WEEKDAY, YEARLY_BY_WEEKDAY: the weekday."
    )
    week_of_month: int | None = strawberry.field(
        default=None,
        description="MONTHLY_BY_WEEKDAY, YEARLY_BY_WEEKDAY: 1–4, or -1 for the last.",
    )
    month: int | None = strawberry.field(
        default=None, description="YEARLY_BY_WEEKDAY only: the month, 1–12."
    )
    position: int | None = strawberry.field(
        default=None,
        description="MONTHLY_BY_POSITION only: 1–31 from the first, -1–-31 from the last.",
    )
    until: date | None = strawberry.field(
        default=None, description="Last day (inclusive, in the event's zone); null: forever."
    )
    count: int | None = strawberry.field(
        default=None, description="Or: how many occurrences in all (1–1000)."
    )

    def spec(self) -> calendar.Rule:
        if self.rrule is not None:
            if self.kind is not None:
                raise DomainError(
                    ErrorCode.INVALID_INPUT, "Give kind or rrule, not both.", field="recurrence"
                )
            return self.rrule
        if self.kind is None:
            raise DomainError(ErrorCode.INVALID_INPUT, "Give kind or rrule.", field="recurrence")
        return calendar.recurrence_spec(
            kind=self.kind.value,
            interval=self.interval,
            weekdays=[d.value for d in self.weekdays],
            month_day=self.month_day,
            weekday=self.weekday.value if self.weekday is not None else None,
            week_of_month=self.week_of_month,
            until=self.until,
            count=self.count,
            month=self.month,
            position=self.position,
        )


@strawberry.input(
    description="A reminder before each occurrence, as iCalendar's TRIGGER:-PnDTnM: offsetDays "
    "in calendar time (the same local time n days before, in the event's zone, across DST), "
    "then offsetMinutes of elapsed time."
)
class ReminderInput:
    offset_minutes: int = strawberry.field(description="Minutes before the start (0–72000).")
    channel: ReminderChannel = strawberry.field(description="How it is sent.")
    offset_days: int = strawberry.field(
        default=0, description="Days before, keeping the local time of day (0–50)."
    )


def reminder_pairs(reminders: list[ReminderInput] | None) -> list[tuple[int, str, int]] | None:
    if reminders is None:
        return None
    return [(r.offset_minutes, r.channel.value, r.offset_days) for r in reminders]


@strawberry.input(description="A scheduled event to create.")
class EventCreateInput:
    title: str = strawberry.field(description="What it is about (1–200).")
    start: datetime = strawberry.field(description="Start of the (first) occurrence, with offset.")
    end: datetime = strawberry.field(description="Its end, with offset (at most 7 days later).")
    time_zone: str = strawberry.field(
        description="IANA zone the event repeats in: 09:00 stays 09:00 there across DST."
    )
    participants: list[str] = strawberry.field(
        default_factory=list,
        description="E-mail addresses of the others (0–50; yours is left out).",
    )
    description: str = strawberry.field(default="", description="Details (at most 5000).")
    recurrence: RecurrenceInput | None = strawberry.field(
        default=None, description="How it repeats; null: once."
    )
    reminders: list[ReminderInput] = strawberry.field(
        default_factory=list, description="Reminders to every participant (at most 10)."
    )
    extra_dates: list[date] = strawberry.field(
        default_factory=list,
        description="Extra days (RDATE, at most 100, after the start's) at its local time.",
    )
    excluded_dates: list[date] = strawberry.field(
        default_factory=list,
        description="Local days whose occurrences are left out (EXDATE, at most 100).",
    )
    align_start: bool = strawberry.field(
        default=False,
        description="When the rule does not give `start`: move the event to the rule's first "
        "start after it (same length) instead of refusing with START_NOT_IN_RULE.",
    )


@strawberry.input(description="What to change; null keeps a value.")
class EventUpdateInput:
    title: str | None = strawberry.field(default=None, description="New title.")
    description: str | None = strawberry.field(default=None, description="New details.")
    start: datetime | None = strawberry.field(
        default=None, description="New start (alone: the length is kept)."
    )
    end: datetime | None = strawberry.field(default=None, description="New end.")
    time_zone: str | None = strawberry.field(default=None, description="New IANA zone.")
    recurrence: RecurrenceInput | None = strawberry.field(
        default=None, description="New rule (replaces the old one)."
    )
    clear_recurrence: bool = strawberry.field(
        default=False, description="Stop repeating: only the first occurrence stays."
    )
    reminders: list[ReminderInput] | None = strawberry.field(
        default=None, description="New reminders (replace all); null keeps them."
    )
    extra_dates: list[date] | None = strawberry.field(
        default=None, description="New extra days (RDATE; replace all); null keeps them."
    )
    excluded_dates: list[date] | None = strawberry.field(
        default=None,
        description="New excluded days (replace every cancelled or moved occurrence); null "
        "keeps them.",
    )
    align_start: bool = strawberry.field(
        default=False,
        description="When the rule does not give the start: move it to the rule's next start.",
    )

    def changes(self) -> calendar.EventChanges:
        return calendar.EventChanges(
            title=self.title,
            description=self.description,
            start=self.start,
            end=self.end,
            time_zone=self.time_zone,
            recurrence_rule=self.recurrence.spec() if self.recurrence is not None else None,
            clear_recurrence=self.clear_recurrence,
            reminders=reminder_pairs(self.reminders),
            extra_dates=self.extra_dates,
            excluded_dates=self.excluded_dates,
            align_start=self.align_start,
        )


@strawberry.input(description="Working hours from one weekday to another, at the same times.")
class WorkingHoursRangeInput:
    first: Weekday = strawberry.field(description="First day, e.g. MONDAY.")
    last: Weekday = strawberry.field(
        description="Last day, inclusive (FRIDAY–MONDAY wraps past Sunday)."
    )
    start: time = strawberry.field(description="Local start, e.g. 09:00.")
    end: time = strawberry.field(description="Local end; earlier than start: the next day.")


@strawberry.type(description="One occurrence of a scheduled event.")
class Occurrence:
    occurrence: strawberry.Private[calendar_selectors.Occurrence]

    @strawberry.field(description="The event's ID (see event(id) for people and answers).")
    def event_id(self) -> strawberry.ID:
        return strawberry.ID(to_base64("Event", self.occurrence.event.pk))

    @strawberry.field(description="The event's title.")
    def title(self) -> str:
        return self.occurrence.event.title

    @strawberry.field(description="The organizer.")
    def organizer(self) -> UserType:
        return self.occurrence.event.organizer  # type: ignore[return-value]

    @strawberry.field(description="The event's IANA time zone.")
    def time_zone(self) -> str:
        return self.occurrence.event.time_zone

    @strawberry.field(description="Start (UTC).")
    def start(self) -> datetime:
        return self.occurrence.start

    @strawberry.field(description="End (UTC), exclusive.")
    def end(self) -> datetime:
        return self.occurrence.end

    @strawberry.field(
        description="The start its rule generated (send it as occurrenceStart); differs from "
        "start when the occurrence was moved."
    )
    def original_start(self) -> datetime:
        return self.occurrence.original_start

    @strawberry.field(description="Whether the event repeats.")
    def recurring(self) -> bool:
        return self.occurrence.recurring

    @strawberry.field(description="The event's RFC 5545 RRULE, empty if it does not repeat.")
    def recurrence(self) -> str:
        return self.occurrence.event.recurrence

    @strawberry.field(
        description="Your answer to the event (the organizer: YES); null if you are not on it."
    )
    def my_answer(self) -> Rsvp | None:
        answer = getattr(self.occurrence, "viewer_answer", None)
        return Rsvp(answer) if answer is not None else None


@strawberry.type(description="Occurrences in a range, earliest first.")
class Occurrences:
    items: list[Occurrence] = strawberry.field(description="At most `first` of them.")
    has_more: bool = strawberry.field(
        description="Whether more occurrences lie in the range: ask again with after: endCursor."
    )
    end_cursor: str | None = strawberry.field(
        default=None, description="The last item's cursor, for `after` (null: no items)."
    )


@strawberry.type(description="A free interval in one person's local time.")
class LocalInterval:
    user: UserType = strawberry.field(description="The person.")
    time_zone: str = strawberry.field(description="Their IANA time zone.")
    start: datetime = strawberry.field(description="Start, with their UTC offset.")
    end: datetime = strawberry.field(description="End, with their UTC offset.")


@strawberry.type(description="Time when everyone asked about is free and at work.")
class FreeInterval:
    start: datetime = strawberry.field(description="Start (UTC).")
    end: datetime = strawberry.field(description="End (UTC), exclusive.")
    local: list[LocalInterval] = strawberry.field(
        description="The same interval in each person's zone, in the order asked."
    )


@strawberry.type(description="A page of common free time, earliest first.")
class FreeTimePage:
    items: list[FreeInterval] = strawberry.field(description="At most `first` of them.")
    has_more: bool = strawberry.field(
        description="Whether more free time lies in the range: ask again with after: endCursor."
    )
    end_cursor: str | None = strawberry.field(
        default=None, description="The last item's cursor, for `after` (null: no items)."
    )


def free_interval(start: datetime, end: datetime, users: list[models.User]) -> FreeInterval:
    return FreeInterval(
        start=start,
        end=end,
        local=[
            LocalInterval(
                user=u,  # type: ignore[arg-type]
                time_zone=u.time_zone,
                start=start.astimezone(zone(u.time_zone)),
                end=end.astimezone(zone(u.time_zone)),
            )
            for u in users
        ],
    )
