"""Reads of events: lists, tallies and logs, limited to the people on them."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from reservation.actors import Actor
from reservation.errors import AccessDenied, NotFound
from reservation.models import AuditEntry, CandidateSlot, Event, Participant, User, Vote
from reservation.validation import require_aware


def events_of(user: User) -> QuerySet[Event]:
    """Events the user organises or is a party to."""
    return Event.objects.filter(Exists(Participant.objects.filter(event=OuterRef("pk"), user=user)))


def event_list(
    *,
    user: User,
    statuses: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[Event]:
    """The user's events, newest first. With a range: scheduled events whose time overlaps it,
    and proposed ones with a candidate overlapping it."""
    qs = events_of(user)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if start is not None or end is not None:
        slot_q = Q(event=OuterRef("pk"))
        time_q = Q(start__isnull=False)
        if start is not None:
            start = require_aware(start, field="start")
            slot_q &= Q(end__gt=start)
            time_q &= Q(end__gt=start)
        if end is not None:
            end = require_aware(end, field="end")
            slot_q &= Q(start__lt=end)
            time_q &= Q(start__lt=end)
        qs = qs.filter(time_q | Exists(CandidateSlot.objects.filter(slot_q)))
    return qs.order_by("-created_at", "-id")


@dataclass(frozen=True, slots=True)
class Tally:
    """Votes on one candidate."""

    candidate: CandidateSlot
    yes: int
    if_need_be: int
    no: int


def event_tallies(*, event: Event) -> list[Tally]:
    """Per-candidate vote counts, in candidate order (one query)."""
    answer = Vote.Answer
    candidates = (
        CandidateSlot.objects.filter(event=event)
        .annotate(
            yes=Count("votes", filter=Q(votes__answer=answer.YES)),
            if_need_be=Count("votes", filter=Q(votes__answer=answer.IF_NEED_BE)),
            no=Count("votes", filter=Q(votes__answer=answer.NO)),
        )
        .order_by("start", "end", "id")
    )
    return [Tally(candidate=c, yes=c.yes, if_need_be=c.if_need_be, no=c.no) for c in candidates]


def event_log(*, actor: Actor, event_id: int) -> QuerySet[AuditEntry]:
    """The event's audit entries, oldest first: for its organizer and parties (a link holder
    of this event included) and staff. Kept after the event is deleted (staff only then)."""
    entries = AuditEntry.objects.filter(subject_type="event", subject_id=event_id).order_by(
        "at", "id"
    )
    if actor.access_token is not None:
        if actor.access_token.event_id != event_id:
            raise AccessDenied("This link grants access to another event.")
        return entries
    user = actor.require_user()
    if user.is_staff or Participant.objects.filter(event_id=event_id, user=user).exists():
        return entries
    raise NotFound("No such event.")
