"""Builders and checks for the event tests (services here, the link page in api/tests): a
proposed event, link actors, service calls with the clock at NOW, and `refused(code)`, which
also proves that the event tables and the outbox were left alone."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from procrastinate.contrib.django.models import ProcrastinateJob

from reservation.actors import Actor
from reservation.errors import ErrorCode
from reservation.models import (
    AuditEntry,
    CandidateSlot,
    Event,
    EventAccessToken,
    EventStatus,
    Notification,
    Participant,
    User,
    Vote,
)
from reservation.services.events import (
    SlotInput,
    access_token_issue,
    event_agree,
    event_extend,
    event_narrow,
    event_propose,
    event_vote,
)
from reservation.services.mail import message_id, notification_send
from reservation.tests.factories import NOW, actor_for, at, json_time, rejected

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
LATER = NOW + HOUR
STARTS = (at(8, 9), at(8, 10), at(9, 14))  # the three one-hour candidates of `event`
PROPOSED, SCHEDULED, CANCELLED = EventStatus.PROPOSED, EventStatus.SCHEDULED, EventStatus.CANCELLED
ORGANIZER, PARTY = Participant.Role.ORGANIZER, Participant.Role.PARTY


def event_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the event tables and of the outbox (notifications, Procrastinate jobs),
    field by field: equal before and after means nothing was written."""
    return {
        "users": list(User.objects.order_by("pk").values_list("pk", "email", "is_active")),
        "events": list(
            Event.objects.order_by("pk").values_list(
                "pk", "title", "status", "version", "start", "end", "cancel_reason", "updated_at"
            )
        ),
        "participants": list(
            Participant.objects.order_by("pk").values_list("pk", "user_id", "role", "rsvp")
        ),
        "candidates": list(
            CandidateSlot.objects.order_by("pk").values_list("pk", "event_id", "start", "end")
        ),
        "votes": list(
            Vote.objects.order_by("pk").values_list("candidate_id", "participant_id", "answer")
        ),
        "tokens": list(EventAccessToken.objects.order_by("pk").values_list("pk", "revoked_at")),
        "notifications": list(Notification.objects.order_by("pk").values_list("pk", "status")),
        "jobs": list(ProcrastinateJob.objects.order_by("pk").values_list("pk", "args")),
        "audit": list(AuditEntry.objects.order_by("pk").values_list("pk", "action")),
    }


@contextmanager
def refused(code: ErrorCode) -> Iterator[pytest.ExceptionInfo]:
    """`rejected(code)`, and not one row of the event tables or the outbox changed either."""
    before = event_rows()
    with rejected(code) as info:
        yield info
    assert event_rows() == before


def slot_in(start: datetime, minutes: int = 60) -> SlotInput:
    return SlotInput(start=start, duration_minutes=minutes)


def spans(*starts: datetime, minutes: int = 60) -> list[list[str]]:
    """A candidate list as audit entries record it."""
    return [[json_time(s), json_time(s + minutes * MINUTE)] for s in starts]


def propose(
    organizer: User,
    *parties: str,
    starts: tuple[datetime, ...] = STARTS,
    now: datetime = NOW,
    **kwargs: Any,
) -> Event:
    return event_propose(
        actor=actor_for(organizer),
        parties=parties,
        slots=[slot_in(start) for start in starts],
        now=now,
        **{"title": "Planning", **kwargs},
    )


def candidate_ids(event: Event) -> list[int]:
    return list(CandidateSlot.objects.filter(event=event).values_list("pk", flat=True))


def link_actor(event: Event, user: User, *, now: datetime = NOW) -> Actor:
    """Who the API sees for a live link of `user` on `event`."""
    return Actor(user=user, access_token=access_token_issue(event=event, user=user, now=now))


def delivered(notification: Notification) -> mail.EmailMessage:
    """The mail that went out for a notification, from Django's test outbox (locmem)."""
    [message] = [
        m for m in mail.outbox if m.extra_headers.get("Message-ID") == message_id(notification)
    ]
    return message


def deliver(notification: Notification, *, now: datetime = NOW) -> str:
    """The secret of an invitation's link, as its recipient gets it: the mail is sent as the
    job sends it (unless it went already) and the link read from the mail that arrived."""
    notification_send(notification_id=notification.pk, now=now)
    # One secret per mail; a scheduled event's mail has it in each of its answer links.
    [secret] = set(re.findall(r"[?&]token=([^&\s]+)", delivered(notification).body))
    return secret


def changes_of(action: str) -> list[dict[str, Any]]:
    return list(
        AuditEntry.objects.filter(action=action)
        .order_by("at", "id")
        .values_list("changes", flat=True)
    )


def state(event: Event) -> tuple[object, ...]:
    event.refresh_from_db()
    return (event.status, event.version, event.start, event.end, event.updated_at)


def agree(actor: Actor, event: Event, slot_id: int, version: int, *, now: datetime = NOW) -> Event:
    return event_agree(
        actor=actor, event_id=event.pk, slot_id=slot_id, expected_version=version, now=now
    )


def narrow(
    actor: Actor, event: Event, keep: list[int], version: int, *, now: datetime = NOW
) -> Event:
    return event_narrow(
        actor=actor, event_id=event.pk, keep_slot_ids=keep, expected_version=version, now=now
    )


def extend(
    actor: Actor, event: Event, starts: list[datetime], version: int, *, now: datetime = NOW
) -> Event:
    return event_extend(
        actor=actor,
        event_id=event.pk,
        slots=[slot_in(start) for start in starts],
        expected_version=version,
        now=now,
    )


def vote(actor: Actor, event: Event, votes: list[tuple[int, str]], *, now: datetime = NOW) -> Event:
    return event_vote(actor=actor, event_id=event.pk, votes=votes, now=now)


def votes_of(user: User) -> list[tuple[int, str]]:
    return list(
        Vote.objects.filter(participant__user=user)
        .order_by("candidate_id")
        .values_list("candidate_id", "answer")
    )
