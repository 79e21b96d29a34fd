from typing import Annotated

import strawberry
import strawberry_django
from strawberry_django.optimizer import optimize

from api.booking.types import DeleteResult
from api.context import Info, actor_of
from api.ids import decode_id, decode_ids
from api.payloads import payload
from api.ratelimit import rate_limited
from reservation.models import Event
from reservation.selectors import events as event_selectors
from reservation.services import events

from .types import (
    CandidateSlotInput,
    EventAccessTokenType,
    EventNotifications,
    EventProposeInput,
    EventType,
    VoteInput,
)

EventId = Annotated[strawberry.ID, strawberry.argument(description="The event's ID.")]
ExpectedVersion = Annotated[
    int,
    strawberry.argument(
        description="The version you have seen; STALE_VERSION if the event changed since."
    ),
]


def shown(info: Info, event: Event) -> EventType:
    """The event a service returned, re-read with what the response selects (a fixed number
    of queries however many candidates, votes and participants it has)."""
    return optimize(event_selectors.event_by_id(event_id=event.pk), info).get()  # type: ignore


def slot_inputs(slots: list[CandidateSlotInput]) -> list[events.SlotInput]:
    return [events.SlotInput(start=s.start, duration_minutes=s.duration_minutes) for s in slots]


@strawberry.type
class EventMutation:
    @strawberry_django.mutation(
        description="Propose candidate times to parties given by e-mail (nobody is told yet: "
        "see eventNotify). The parties are fixed from now on."
    )
    def event_propose(
        self,
        info: Info,
        input: Annotated[EventProposeInput, strawberry.argument(description="What to propose.")],
    ) -> payload("EventProposePayload", EventType, "The proposed event, or why not."):
        event = events.event_propose(
            actor=actor_of(info),
            parties=input.parties,
            slots=slot_inputs(input.slots),
            title=input.title,
            description=input.description,
            auto_agree=input.auto_agree,
        )
        return shown(info, event)

    @strawberry_django.mutation(
        description="Keep only some candidates (organizer or any party; a link works). With "
        "autoAgree, keeping one schedules the event."
    )
    def event_narrow(
        self,
        info: Info,
        id: EventId,
        keep_slot_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="The candidates to keep (at least one)."),
        ],
        expected_version: ExpectedVersion,
    ) -> payload("EventNarrowPayload", EventType, "The event now, or why not."):
        event = events.event_narrow(
            actor=actor_of(info),
            event_id=decode_id(id, "Event"),
            keep_slot_ids=decode_ids(keep_slot_ids, "CandidateSlot"),
            expected_version=expected_version,
        )
        return shown(info, event)

    @strawberry_django.mutation(
        description="Add candidate times (organizer only); ones already proposed are ignored."
    )
    def event_extend(
        self,
        info: Info,
        id: EventId,
        slots: Annotated[
            list[CandidateSlotInput], strawberry.argument(description="The times to add.")
        ],
        expected_version: ExpectedVersion,
    ) -> payload("EventExtendPayload", EventType, "The event now, or why not."):
        event = events.event_extend(
            actor=actor_of(info),
            event_id=decode_id(id, "Event"),
            slots=slot_inputs(slots),
            expected_version=expected_version,
        )
        return shown(info, event)

    @strawberry_django.mutation(
        description="Replace your votes on a proposed event (a link works): candidates you "
        "leave out have no answer from you."
    )
    def event_vote(
        self,
        info: Info,
        id: EventId,
        votes: Annotated[
            list[VoteInput], strawberry.argument(description="One answer per candidate.")
        ],
    ) -> payload("EventVotePayload", EventType, "The event with its tallies, or why not."):
        event = events.event_vote(
            actor=actor_of(info),
            event_id=decode_id(id, "Event"),
            votes=[(decode_id(v.slot_id, "CandidateSlot"), v.answer.value) for v in votes],
        )
        return shown(info, event)

    @strawberry_django.mutation(
        description="Schedule the event at one candidate (organizer only, signed in): parties "
        "become participants with RSVP UNDECIDED, and each is e-mailed."
    )
    def event_agree(
        self,
        info: Info,
        id: EventId,
        slot_id: Annotated[strawberry.ID, strawberry.argument(description="The chosen candidate.")],
        expected_version: ExpectedVersion,
    ) -> payload("EventAgreePayload", EventType, "The scheduled event, or why not."):
        event = events.event_agree(
            actor=actor_of(info),
            event_id=decode_id(id, "Event"),
            slot_id=decode_id(slot_id, "CandidateSlot"),
            expected_version=expected_version,
        )
        return shown(info, event)

    @strawberry_django.mutation(
        description="Cancel a proposed or scheduled event (organizer only, signed in); the "
        "parties are e-mailed. Cancelling twice changes nothing."
    )
    def event_cancel(
        self,
        info: Info,
        id: EventId,
        reason: Annotated[str, strawberry.argument(description="Why (at most 500).")] = "",
    ) -> payload("EventCancelPayload", EventType, "The cancelled event, or why not."):
        event = events.event_cancel(
            actor=actor_of(info), event_id=decode_id(id, "Event"), reason=reason
        )
        return shown(info, event)

    @strawberry_django.mutation(description="Delete an event (staff only); its log stays.")
    def event_delete(self, info: Info, id: EventId) -> payload(
        "EventDeletePayload", DeleteResult, "1 when deleted, or why not."
    ):
        events.event_delete(actor=actor_of(info), event_id=decode_id(id, "Event"))
        return DeleteResult(deleted=1)

    @strawberry_django.mutation(
        description="E-mail parties a personal link to the event (organizer or any party; a "
        "link works). Each gets a fresh link; their older links stop working."
    )
    @rate_limited("event_notify", by=["actor"])
    def event_notify(
        self,
        info: Info,
        id: EventId,
        parties: Annotated[
            list[str],
            strawberry.argument(description="E-mail addresses of people on the event."),
        ],
        expected_version: ExpectedVersion,
        message: Annotated[
            str, strawberry.argument(description="A note for the e-mail (at most 2000).")
        ] = "",
    ) -> payload("EventNotifyPayload", EventNotifications, "The e-mails recorded, or why not."):
        sent = events.event_notify(
            actor=actor_of(info),
            event_id=decode_id(id, "Event"),
            parties=parties,
            expected_version=expected_version,
            message=message,
        )
        return EventNotifications(notification_ids=[n.pk for n in sent])

    @strawberry_django.mutation(
        description="Make a link stop working (the event's organizer, or the person it was "
        "issued to; signed in)."
    )
    def event_access_token_revoke(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The link's EventAccessToken ID.")
        ],
    ) -> payload("EventAccessTokenRevokePayload", EventAccessTokenType, "The link, or why not."):
        return events.access_token_revoke(  # type: ignore[return-value]
            actor=actor_of(info), token_id=decode_id(id, "EventAccessToken")
        )
