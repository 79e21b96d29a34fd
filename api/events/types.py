from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import F, QuerySet
from strawberry import relay

from api.accounts.types import UserType
from api.context import Info, actor_of
from api.enums import described_enum
from api.pagination import Order
from reservation import models
from reservation.selectors import events as event_selectors

Answer = models.Vote.Answer

EventStatus = described_enum(
    models.EventStatus,
    name="EventStatus",
    description="PROPOSED (finding a time), SCHEDULED (a time is agreed) or CANCELLED.",
    values={
        "PROPOSED": "Candidate times are being voted on.",
        "SCHEDULED": "A time is agreed (start and end are set).",
        "CANCELLED": "Called off.",
    },
)

ParticipantRole = described_enum(
    models.Participant.Role,
    name="ParticipantRole",
    description="ORGANIZER (proposed the event) or PARTY (invited to it).",
    values={"ORGANIZER": "Proposed the event.", "PARTY": "Invited to it."},
)

Rsvp = described_enum(
    models.Participant.Rsvp,
    name="Rsvp",
    description="A participant's answer once the event is scheduled: UNDECIDED, YES, MAYBE, NO.",
    values={
        "UNDECIDED": "No answer yet.",
        "YES": "Will attend.",
        "MAYBE": "Might attend.",
        "NO": "Will not attend.",
    },
)

VoteAnswer = described_enum(
    Answer,
    name="VoteAnswer",
    description="A party's answer for a candidate: YES, IF_NEED_BE, NO.",
    values={
        "YES": "The time suits them.",
        "IF_NEED_BE": "They could make it if no better time is found.",
        "NO": "The time does not work for them.",
    },
)

NotificationKind = described_enum(
    models.Notification.Kind,
    name="NotificationKind",
    description="What an e-mail is about (an event invitation, a scheduled or cancelled event, "
    "a reservation change).",
    values={
        "EVENT_INVITATION": "An invitation to vote on an event's candidate times.",
        "EVENT_SCHEDULED": "An event's time is agreed.",
        "EVENT_CANCELLED": "An event is called off.",
        "RESERVATION_CONFIRMED": "A reservation is confirmed.",
        "RESERVATION_CANCELLED": "A reservation is cancelled.",
        "RESERVATION_RESCHEDULED": "A reservation moved to another time.",
        "RESERVATION_EXPIRED": "A hold lapsed unconfirmed.",
        "WEBHOOK_DISABLED": "One of your webhooks was switched off after failing repeatedly.",
    },
)

NotificationStatus = described_enum(
    models.Notification.Status,
    name="NotificationStatus",
    description="PENDING (recorded, to be sent by a background job), SENT, RETRYING (an "
    "attempt failed; it will be tried again) or FAILED (given up).",
    values={
        "PENDING": "Recorded; a background job will send it.",
        "SENT": "Handed to the mail server.",
        "RETRYING": "An attempt failed; it will be tried again.",
        "FAILED": "Could not be sent; given up.",
    },
)


class EventOrderBy(Order):
    CREATED_DESC = ("-created_at", "-id")
    CREATED_ASC = ("created_at", "id")
    # A proposed event has no start yet: it comes after the scheduled ones either way.
    START_ASC = (F("start").asc(nulls_last=True), "id")
    START_DESC = (F("start").desc(nulls_last=True), "-id")


EventOrder = described_enum(
    EventOrderBy,
    name="EventOrder",
    description="The order of a list of events.",
    values={
        "CREATED_DESC": "Newest proposal first.",
        "CREATED_ASC": "Oldest proposal first.",
        "START_ASC": "Earliest agreed start first; events without one (proposed) last.",
        "START_DESC": "Latest agreed start first; events without one (proposed) last.",
    },
)


@strawberry_django.type(
    models.Participant, name="Participant", description="A person on an event and their answer."
)
class ParticipantType:
    user: UserType = strawberry_django.field(description="The person.")
    role: ParticipantRole = strawberry_django.field(description="Organizer or party.")
    rsvp: Rsvp = strawberry_django.field(
        description="Their answer to the agreed time (UNDECIDED until they give one)."
    )


@strawberry_django.type(models.Vote, name="Vote", description="A party's answer for a candidate.")
class VoteType:
    participant: ParticipantType = strawberry_django.field(description="Who answered.")
    answer: VoteAnswer = strawberry_django.field(description="Their answer.")

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: Info, **kwargs: object) -> QuerySet:
        return event_selectors.votes_visible(queryset, actor=actor_of(info))


def _tally(candidate: models.CandidateSlot, answer: str) -> int:
    # Read from the annotation the optimizer adds to every list of candidates; a candidate
    # read some other way costs one query.
    counted = getattr(candidate, f"tally_{answer.lower()}", None)
    if counted is None:
        return event_selectors.candidate_tally(candidate=candidate, answer=answer)
    return counted


@strawberry_django.type(
    models.CandidateSlot, name="CandidateSlot", description="A time proposed for an event."
)
class CandidateSlotType(relay.Node):
    start: datetime = strawberry_django.field(description="Start (UTC).")
    end: datetime = strawberry_django.field(description="End (UTC), exclusive.")

    @strawberry_django.field(description="Length in minutes.", only=["start", "end"])
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @strawberry_django.field(
        description="How many parties answered YES.",
        annotate={"tally_yes": event_selectors.tally_annotation(Answer.YES)},
    )
    def yes(self) -> int:
        return _tally(self, Answer.YES)  # type: ignore[arg-type]

    @strawberry_django.field(
        description="How many parties answered IF_NEED_BE.",
        annotate={"tally_if_need_be": event_selectors.tally_annotation(Answer.IF_NEED_BE)},
    )
    def if_need_be(self) -> int:
        return _tally(self, Answer.IF_NEED_BE)  # type: ignore[arg-type]

    @strawberry_django.field(
        description="How many parties answered NO.",
        annotate={"tally_no": event_selectors.tally_annotation(Answer.NO)},
    )
    def no(self) -> int:
        return _tally(self, Answer.NO)  # type: ignore[arg-type]

    votes: list[VoteType] = strawberry_django.field(
        description="Who answered what: shown to the people on the event only (empty for "
        "staff looking in; the tallies are for everyone who sees the event)."
    )

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: Info, **kwargs: object) -> QuerySet:
        return event_selectors.in_candidate_order(queryset)


@strawberry_django.type(
    models.EventAccessToken,
    name="EventAccessToken",
    description="The key of one person's link to one event (its secret is only in the e-mail).",
)
class EventAccessTokenType(relay.Node):
    user: UserType = strawberry_django.field(description="Whose link it is.")
    created_at: datetime = strawberry_django.field(description="When it was issued (UTC).")
    expires_at: datetime = strawberry_django.field(description="When it stops working (UTC).")
    revoked_at: datetime | None = strawberry_django.field(
        description="When it was revoked (UTC); a newer link for the same person revokes it."
    )

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: Info, **kwargs: object) -> QuerySet:
        return event_selectors.access_tokens_visible(queryset, actor=actor_of(info))


@strawberry_django.type(
    models.Event,
    name="Event",
    description="Something several people attend: proposed with candidate times, then "
    "scheduled at one of them, or cancelled.",
)
class EventType(relay.Node):
    title: str = strawberry_django.field(description="What it is about.")
    description: str = strawberry_django.field(description="Details, if given.")
    status: EventStatus = strawberry_django.field(description="Where it stands.")
    version: int = strawberry_django.field(
        description="Grows with every change of the candidates or the status; send it back as "
        "expectedVersion."
    )
    start: datetime | None = strawberry_django.field(description="Once scheduled: start (UTC).")
    end: datetime | None = strawberry_django.field(
        description="Once scheduled: end (UTC), exclusive."
    )
    time_zone: str = strawberry_django.field(
        description="The IANA zone the event (and its recurrence) runs in."
    )
    recurrence: str = strawberry_django.field(
        description="RFC 5545 RRULE (without 'RRULE:'), expanded in timeZone from start; "
        "empty for a single occurrence."
    )
    auto_agree: bool = strawberry_django.field(
        description="Whether a narrow that leaves one candidate schedules the event."
    )
    organizer: UserType = strawberry_django.field(description="Who proposed it.")
    participants: list[ParticipantType] = strawberry_django.field(
        description="The organizer, then the parties (fixed when proposed; at most 51)."
    )
    candidates: list[CandidateSlotType] = strawberry_django.field(
        description="The times still proposed, earliest first (at most 100)."
    )
    access_tokens: list[EventAccessTokenType] = strawberry_django.field(
        description="Live links you may revoke: every party's if you organise the event, "
        "else your own."
    )
    cancel_reason: str = strawberry_django.field(description="Why it was cancelled, if given.")
    created_at: datetime = strawberry_django.field(description="When it was proposed (UTC).")
    updated_at: datetime = strawberry_django.field(description="When it last changed (UTC).")


@strawberry_django.type(
    models.Notification,
    name="Notification",
    description="One e-mail to one person, recorded now and sent by a background job.",
)
class NotificationType:
    recipient: UserType = strawberry_django.field(description="Who it goes to.")
    kind: NotificationKind = strawberry_django.field(description="What it is about.")
    status: NotificationStatus = strawberry_django.field(description="Whether it has gone.")
    access_token: EventAccessTokenType | None = strawberry_django.field(
        description="The link it carries, if you may revoke it (never its secret)."
    )
    created_at: datetime = strawberry_django.field(description="When it was recorded (UTC).")


@strawberry.type(description="The e-mails an eventNotify recorded, one per party.")
class EventNotifications:
    notification_ids: strawberry.Private[list[int]]

    @strawberry_django.field(description="The e-mails, in the order of the parties' addresses.")
    def notifications(self) -> list[NotificationType]:
        return event_selectors.notifications_by_id(  # type: ignore[return-value]
            notification_ids=self.notification_ids
        )


@strawberry.input(description="A candidate time.")
class CandidateSlotInput:
    start: datetime = strawberry.field(description="Start, with a UTC offset.")
    duration_minutes: int = strawberry.field(description="Length in minutes (1 to 10080).")


@strawberry.input(description="An event to propose.")
class EventProposeInput:
    parties: list[str] = strawberry.field(
        description="E-mail addresses of the others (1–50; yours is left out). Unknown "
        "addresses take part through their links."
    )
    slots: list[CandidateSlotInput] = strawberry.field(
        description="The candidate times (1–100; duplicates count once)."
    )
    title: str | None = strawberry.field(
        default=None, description="What it is about (at most 200); null: a generated title."
    )
    description: str = strawberry.field(default="", description="Details (at most 5000).")
    auto_agree: bool = strawberry.field(
        default=False, description="Schedule the event when a narrow leaves one candidate."
    )


@strawberry.input(description="A party's answer for one candidate.")
class VoteInput:
    slot_id: strawberry.ID = strawberry.field(description="The candidate's ID.")
    answer: VoteAnswer = strawberry.field(description="YES, IF_NEED_BE or NO.")
