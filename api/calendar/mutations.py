from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django

from api.booking.types import WorkingHoursResult
from api.context import Info, actor_of
from api.events.mutations import EventId, ExpectedVersion, shown
from api.events.types import EventType, Rsvp
from api.ids import decode_id
from api.payloads import payload
from reservation.services import calendar

from .types import (
    EventCreateInput,
    EventUpdateInput,
    UpdateScope,
    WorkingHoursRangeInput,
    reminder_pairs,
)

OccurrenceStart = Annotated[
    datetime,
    strawberry.argument(description="The occurrence's originalStart (as its rule generates it)."),
]


@strawberry.type
class CalendarMutation:
    @strawberry_django.mutation(
        description="Create a scheduled event (optionally recurring) with you as organizer; "
        "participants answer with eventRespond and are e-mailed."
    )
    def event_create(
        self,
        info: Info,
        input: Annotated[EventCreateInput, strawberry.argument(description="The event.")],
    ) -> payload("EventCreatePayload", EventType, "The event, or why not."):
        event = calendar.event_create(
            actor=actor_of(info),
            title=input.title,
            description=input.description,
            start=input.start,
            end=input.end,
            time_zone=input.time_zone,
            participants=input.participants,
            recurrence_rule=input.recurrence.spec() if input.recurrence is not None else None,
            reminders=reminder_pairs(input.reminders) or [],
            extra_dates=input.extra_dates,
            excluded_dates=input.excluded_dates,
            align_start=input.align_start,
        )
        return shown(info, event)

    @strawberry_django.mutation(
        description="Change a scheduled event (organizer only): ALL occurrences, the time of "
        "THIS_OCCURRENCE, or THIS_AND_FOLLOWING (the series ends before it and a new event, "
        "returned, continues it). A change of time or rule resets answers to UNDECIDED."
    )
    def event_update(
        self,
        info: Info,
        id: EventId,
        input: Annotated[EventUpdateInput, strawberry.argument(description="What to change.")],
        expected_version: ExpectedVersion,
        scope: Annotated[
            UpdateScope, strawberry.argument(description="Which occurrences (default ALL).")
        ] = UpdateScope.ALL,
        occurrence_start: Annotated[
            datetime | None,
            strawberry.argument(
                description="For THIS_OCCURRENCE and THIS_AND_FOLLOWING: the occurrence's "
                "originalStart."
            ),
        ] = None,
    ) -> payload("EventUpdatePayload", EventType, "The event now, or why not."):
        event = calendar.event_update(
            actor=actor_of(info),
            event_id=decode_id(id, "Event"),
            expected_version=expected_version,
            changes=input.changes(),
            scope=calendar.UpdateScope(scope.value),
            occurrence_start=occurrence_start,
        )
        return shown(info, event)

    @strawberry_django.mutation(
        description="Cancel one occurrence of a recurring event (organizer only); eventCancel "
        "cancels the whole event. Cancelling it twice changes nothing."
    )
    def occurrence_cancel(
        self,
        info: Info,
        id: EventId,
        occurrence_start: OccurrenceStart,
        expected_version: ExpectedVersion,
    ) -> payload("OccurrenceCancelPayload", EventType, "The event now, or why not."):
        event = calendar.occurrence_cancel(
            actor=actor_of(info),
            event_id=decode_id(id, "Event"),
            occurrence_start=occurrence_start,
            expected_version=expected_version,
        )
        return shown(info, event)

    @strawberry_django.mutation(
        description="Answer a scheduled event, for all its occurrences (a party; a link "
        "works). The organizer sees every answer; NO frees your time in freeTime."
    )
    def event_respond(
        self,
        info: Info,
        id: EventId,
        decision: Annotated[Rsvp, strawberry.argument(description="YES, MAYBE, NO, UNDECIDED.")],
    ) -> payload("EventRespondPayload", EventType, "The event with your answer, or why not."):
        participant = calendar.event_respond(
            actor=actor_of(info), event_id=decode_id(id, "Event"), decision=decision.value
        )
        return shown(info, participant.event)

    @strawberry_django.mutation(
        description="Replace your weekly working hours by day ranges (e.g. MONDAY–FRIDAY "
        "09:00–17:00), in your time zone (optionally changing it)."
    )
    def working_hours_set_ranges(
        self,
        info: Info,
        ranges: Annotated[
            list[WorkingHoursRangeInput],
            strawberry.argument(description="All your hours (none: no hours)."),
        ],
        time_zone: Annotated[
            str | None, strawberry.argument(description="New IANA zone; null keeps yours.")
        ] = None,
    ) -> payload("WorkingHoursSetRangesPayload", WorkingHoursResult, "The hours, or why not."):
        actor = actor_of(info)
        rows = calendar.working_hours_set_ranges(
            actor=actor,
            time_zone=time_zone,
            ranges=[
                calendar.DayRange(first=r.first.value, last=r.last.value, start=r.start, end=r.end)
                for r in ranges
            ],
        )
        return WorkingHoursResult(time_zone=actor.user.time_zone, hours=rows)  # type: ignore
