"""Reads of events: lists, tallies and logs, limited to the people on them."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from reservation.actors import Actor, utcnow
from reservation.errors import AccessDenied, NotFound
from reservation.models import (
    AuditEntry,
    CandidateSlot,
    Event,
    EventAccessToken,
    Notification,
    Participant,
    User,
    Vote,
)
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
        # Candidates count only for events never scheduled: agreeing keeps the others.
        never_scheduled = Q(start__isnull=True) & Exists(CandidateSlot.objects.filter(slot_q))
        qs = qs.filter(time_q | never_scheduled)
    return qs.order_by("-created_at", "-id")


@dataclass(frozen=True, slots=True)
class Tally:
    """Votes on one candidate."""

    candidate: CandidateSlot
    yes: int
    if_need_be: int
    no: int


def tally_annotation(answer: str) -> Count:
    """How many votes a candidate got with this answer, as an annotation of a CandidateSlot
    queryset: lists of candidates get their tallies in the query that reads them."""
    return Count("votes", filter=Q(votes__answer=answer))


def in_candidate_order(candidates: QuerySet[CandidateSlot]) -> QuerySet[CandidateSlot]:
    """Earliest first, spelled out: Django ignores Meta.ordering in a query with GROUP BY,
    which the tally annotations add."""
    return candidates.order_by("start", "end", "id")


def candidate_tally(*, candidate: CandidateSlot, answer: str) -> int:
    """How many votes one candidate got with this answer (one query; lists use
    tally_annotation instead)."""
    return Vote.objects.filter(candidate=candidate, answer=answer).count()


def event_tallies(*, event: Event) -> list[Tally]:
    """Per-candidate vote counts, in candidate order (one query)."""
    answer = Vote.Answer
    candidates = (
        CandidateSlot.objects.filter(event=event)
        .annotate(
            yes=tally_annotation(answer.YES),
            if_need_be=tally_annotation(answer.IF_NEED_BE),
            no=tally_annotation(answer.NO),
        )
        .order_by("start", "end", "id")
    )
    return [Tally(candidate=c, yes=c.yes, if_need_be=c.if_need_be, no=c.no) for c in candidates]


def acting_user_id(actor: Actor) -> int | None:
    """The person an actor stands for on events: a link's holder, or the signed-in user."""
    if actor.access_token is not None:
        return actor.access_token.user_id
    return actor.user.pk if actor.is_authenticated else None  # type: ignore[union-attr]


def event_by_id(*, event_id: int) -> QuerySet[Event]:
    """The event as a one-row queryset, so a caller can add what it will read (the API's
    optimizer). No access check: call it after a service or selector that made one."""
    return Event.objects.filter(pk=event_id)


def votes_visible(votes: QuerySet[Vote], *, actor: Actor) -> QuerySet[Vote]:
    """The votes of events the actor is on (organizer or party, a link's holder included),
    in participant order: who answered what is for the people on the event only, not for
    staff looking in."""
    user_id = acting_user_id(actor)
    if user_id is None:
        return votes.none()
    on_event = Participant.objects.filter(event=OuterRef("candidate__event"), user_id=user_id)
    return votes.filter(Exists(on_event)).order_by("candidate_id", "participant_id")


def access_tokens_visible(
    tokens: QuerySet[EventAccessToken], *, actor: Actor, now: datetime | None = None
) -> QuerySet[EventAccessToken]:
    """Live (unexpired, unrevoked) link tokens the actor may see, oldest first: all of an
    event they organise, else their own (staff: all)."""
    now = now or utcnow()
    tokens = tokens.filter(revoked_at__isnull=True, expires_at__gt=now).order_by("created_at", "id")
    if actor.access_token is None and actor.is_staff:
        return tokens
    user_id = acting_user_id(actor)
    if user_id is None:
        return tokens.none()
    return tokens.filter(Q(user_id=user_id) | Q(event__organizer_id=user_id))


def notifications_by_id(*, notification_ids: list[int]) -> QuerySet[Notification]:
    """Notifications just recorded by a service, in the order they were recorded."""
    return Notification.objects.filter(pk__in=notification_ids).order_by("id")


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


def own_votes(*, event: Event, user: User) -> dict[int, str]:
    """The user's answers on the event's candidates: {candidate id: answer}."""
    return dict(
        Vote.objects.filter(candidate__event=event, participant__user=user).values_list(
            "candidate_id", "answer"
        )
    )
