"""Finding a time together: propose candidates to parties, narrow, extend, vote, agree;
notify parties with links that carry per-person access tokens. Every change and every view
through a link is audited with the candidate list of that moment."""

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from reservation.actors import SYSTEM, Actor, utcnow
from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import (
    CandidateSlot,
    Event,
    EventAccessToken,
    EventStatus,
    Notification,
    Participant,
    User,
    Vote,
)
from reservation.services.accounts import normalize_email
from reservation.services.audit import audit_record
from reservation.services.notifications import notification_enqueue, notification_enqueue_many
from reservation.services.reminders import reminders_cancel
from reservation.validation import require_aware, require_one_line

ACCESS_TOKEN_PREFIX = "rdve_"
MAX_PARTIES = 50
MAX_CANDIDATES = 100
MAX_SLOT_MINUTES = 7 * 24 * 60
MAX_MESSAGE = 2000


@dataclass(frozen=True, slots=True)
class SlotInput:
    """A candidate as given: a start with an offset and a length in minutes."""

    start: datetime
    duration_minutes: int


# --- helpers -----------------------------------------------------------------------------


_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def generate_title() -> str:
    """A short pronounceable title, e.g. 'Kavo Deluni', for events proposed without one."""

    def word(syllables: int) -> str:
        return "".join(
            secrets.choice(_CONSONANTS) + secrets.choice(_VOWELS) for _ in range(syllables)
        ).capitalize()

    return f"{word(2)} {word(3)}"


def slots_snapshot(event: Event) -> list[list[str]]:
    """The candidate list as [[start, end], ...] in ISO 8601 UTC, in order, written exactly as
    the audit log writes every other time (`2030-01-08T09:00:00Z`), so a client can compare an
    entry's `start` with its `slots`."""
    encode = DjangoJSONEncoder().default
    return [
        [encode(start), encode(end)]
        for start, end in CandidateSlot.objects.filter(event=event)
        .order_by("start", "end", "id")
        .values_list("start", "end")
    ]


def _validated_slots(
    slots: Sequence[SlotInput], *, now: datetime
) -> list[tuple[datetime, datetime]]:
    if not slots:
        raise DomainError(ErrorCode.INVALID_INPUT, "Give at least one slot.", field="slots")
    if len(slots) > MAX_CANDIDATES:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"At most {MAX_CANDIDATES} slots.", field="slots"
        )
    result = []
    for index, slot in enumerate(slots):
        start = require_aware(slot.start, field="slots")
        if not 1 <= slot.duration_minutes <= MAX_SLOT_MINUTES:
            raise DomainError(
                ErrorCode.INVALID_TIME_RANGE,
                f"slots[{index}]: durationMinutes must be 1–{MAX_SLOT_MINUTES}.",
                field="slots",
            )
        if start < now:
            raise DomainError(
                ErrorCode.IN_THE_PAST, f"slots[{index}] starts in the past.", field="slots"
            )
        result.append((start, start + timedelta(minutes=slot.duration_minutes)))
    return sorted(set(result))


def _require_link_for(actor: Actor, event_id: int) -> None:
    """A link opens its own event only. Checked before the event is looked up, so a link
    answers an unknown ID exactly as another event's (it cannot probe which IDs exist)."""
    if actor.access_token is not None and actor.access_token.event_id != event_id:
        raise AccessDenied("This link grants access to another event.")


def lock_event(actor: Actor, event_id: int) -> Event:
    """Lock the event row for the rest of the transaction (a link for another event is
    refused first, so links cannot probe IDs); NOT_FOUND if there is none."""
    _require_link_for(actor, event_id)
    event = Event.objects.select_for_update(of=("self",)).filter(pk=event_id).first()
    if event is None:
        raise NotFound("No such event.")
    return event


def _addresses(parties: Sequence[str]) -> set[str]:
    """The addresses normalised; INVALID_INPUT on `parties` (the argument given) for one
    that is not an address."""
    emails = set()
    for email in parties:
        try:
            emails.add(normalize_email(email))
        except DomainError as exc:
            raise DomainError(
                ErrorCode.INVALID_INPUT, f"Not an e-mail address: {email!r}.", field="parties"
            ) from exc
    return emails


def acting_participant(*, actor: Actor, event: Event) -> Participant:
    """The acting person's place on the event: through a link for this event, or signed in
    as its organizer or a party. Anyone else gets NOT_FOUND (events can't be probed)."""
    if actor.access_token is not None:
        if actor.access_token.event_id != event.pk:
            raise AccessDenied("This link grants access to another event.")
        user = actor.access_token.user
    else:
        user = actor.require_user()
    participant = Participant.objects.filter(event=event, user=user).first()
    if participant is None:
        if actor.access_token is None and user.is_staff:
            raise AccessDenied("Staff may look, not take part.")
        raise NotFound("No such event.")
    return participant


def require_organizer(*, actor: Actor, event: Event) -> Participant:
    """The organizer's participation, signed in (never through a link); else PERMISSION_DENIED."""
    participant = acting_participant(actor=actor, event=event)
    if participant.role != Participant.Role.ORGANIZER or actor.access_token is not None:
        raise AccessDenied("Only the organizer can do this.")
    return participant


def _require_not_cancelled(event: Event) -> None:
    if event.status == EventStatus.CANCELLED:
        raise DomainError(ErrorCode.EVENT_CANCELLED, "The event is cancelled.")


def _require_proposed(event: Event) -> None:
    if event.status == EventStatus.CANCELLED:
        raise DomainError(ErrorCode.EVENT_CANCELLED, "The event is cancelled.")
    if event.status != EventStatus.PROPOSED:
        raise DomainError(ErrorCode.EVENT_NOT_PROPOSED, "A time has already been agreed.")


def require_version(event: Event, expected_version: int) -> None:
    """STALE_VERSION unless the caller has seen the event's current version."""
    if event.version != expected_version:
        raise DomainError(
            ErrorCode.STALE_VERSION,
            f"The event changed (version {event.version}, you sent {expected_version}); "
            "reload it and try again.",
            field="expectedVersion",
        )


def event_for_change(
    *,
    actor: Actor,
    event_id: int,
    organizer_only: bool = False,
    require: Callable[[Event], None] | None = None,
    expected_version: int | None = None,
) -> tuple[Event, Participant]:
    """The preamble every write to an event shares, in this order: lock the event (a link for
    another event is refused first; NOT_FOUND if none), the acting person's place on it (the
    organizer signed in, when `organizer_only`), the state check `require`, then the version
    check. Call inside the write's transaction."""
    event = lock_event(actor, event_id)
    if organizer_only:
        participant = require_organizer(actor=actor, event=event)
    else:
        participant = acting_participant(actor=actor, event=event)
    if require is not None:
        require(event)
    if expected_version is not None:
        require_version(event, expected_version)
    return event, participant


def bump_version(event: Event, now: datetime, *fields: str) -> None:
    """Save the event with its version one up (and `fields` as changed by the caller)."""
    event.version += 1
    event.updated_at = now
    event.save(update_fields=["version", "updated_at", *fields])


def user_for_email(email: str) -> User:
    """The user with this address; an unknown one becomes an inactive user who acts through
    access-token links only."""
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            return User.objects.create_user(email, None, is_active=False)
    except IntegrityError:  # created concurrently
        return User.objects.get(email=email)


# --- propose, narrow, extend, vote, agree, cancel, delete ---------------------------------


def event_propose(
    *,
    actor: Actor,
    parties: Sequence[str],
    slots: Sequence[SlotInput],
    title: str | None = None,
    description: str = "",
    auto_agree: bool = False,
    now: datetime | None = None,
) -> Event:
    """Propose candidate slots to parties given by e-mail. The party list is fixed from now on."""
    now = now or utcnow()
    organizer = actor.require_user()
    emails = sorted(_addresses(parties) - {organizer.email})
    if not emails:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "Invite at least one other party.", field="parties"
        )
    if len(emails) > MAX_PARTIES:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"At most {MAX_PARTIES} parties.", field="parties"
        )
    candidates = _validated_slots(slots, now=now)
    title = require_one_line(title or "", field="title", max_length=200) or generate_title()
    description = description.strip()
    if len(description) > 5000:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "description is too long (5000 at most).", field="description"
        )
    with transaction.atomic(durable=True):
        event = Event.objects.create(
            organizer=organizer,
            title=title,
            description=description,
            status=EventStatus.PROPOSED,
            time_zone=organizer.time_zone,
            auto_agree=auto_agree,
            created_at=now,
            updated_at=now,
        )
        Participant.objects.create(
            event=event, user=organizer, role=Participant.Role.ORGANIZER, rsvp=Participant.Rsvp.YES
        )
        Participant.objects.bulk_create(
            Participant(event=event, user=user_for_email(email), role=Participant.Role.PARTY)
            for email in emails
        )
        CandidateSlot.objects.bulk_create(
            CandidateSlot(event=event, start=start, end=end) for start, end in candidates
        )
        audit_record(
            actor=actor,
            action="event.propose",
            subject=event,
            at=now,
            changes={
                "title": title,
                "parties": emails,
                "auto_agree": auto_agree,
                "version": event.version,
                "slots": slots_snapshot(event),
            },
        )
    return event


def event_narrow(
    *,
    actor: Actor,
    event_id: int,
    keep_slot_ids: Sequence[int],
    expected_version: int,
    now: datetime | None = None,
) -> Event:
    """Keep only some candidates (any party). With auto-agree, one left schedules the event."""
    now = now or utcnow()
    with transaction.atomic(durable=True):
        event, _ = event_for_change(
            actor=actor,
            event_id=event_id,
            require=_require_proposed,
            expected_version=expected_version,
        )
        keep = set(keep_slot_ids)
        if not keep:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "Keep at least one slot (cancel the event to drop them all).",
                field="keepSlotIds",
            )
        existing = set(CandidateSlot.objects.filter(event=event).values_list("pk", flat=True))
        if not keep <= existing:
            raise DomainError(
                ErrorCode.NOT_A_CANDIDATE,
                "Some slots are not candidates of this event.",
                field="keepSlotIds",
            )
        before = slots_snapshot(event)
        CandidateSlot.objects.filter(event=event).exclude(pk__in=keep).delete()
        bump_version(event, now)
        audit_record(
            actor=actor,
            action="event.narrow",
            subject=event,
            at=now,
            changes={
                "version": event.version,
                "before": before,
                "slots": slots_snapshot(event),
            },
        )
        if event.auto_agree and len(keep) == 1:
            _agree(
                actor=SYSTEM,
                event=event,
                candidate=CandidateSlot.objects.get(pk=keep.pop()),
                now=now,
            )
    return event


def event_extend(
    *,
    actor: Actor,
    event_id: int,
    slots: Sequence[SlotInput],
    expected_version: int,
    now: datetime | None = None,
) -> Event:
    """Add candidates (organizer only); ones already proposed are ignored."""
    now = now or utcnow()
    candidates = _validated_slots(slots, now=now)
    with transaction.atomic(durable=True):
        event, _ = event_for_change(
            actor=actor,
            event_id=event_id,
            organizer_only=True,
            require=_require_proposed,
            expected_version=expected_version,
        )
        existing = set(CandidateSlot.objects.filter(event=event).values_list("start", "end"))
        new = [c for c in candidates if c not in existing]
        if len(existing) + len(new) > MAX_CANDIDATES:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"An event has at most {MAX_CANDIDATES} candidates.",
                field="slots",
            )
        before = slots_snapshot(event)
        CandidateSlot.objects.bulk_create(
            CandidateSlot(event=event, start=start, end=end) for start, end in new
        )
        bump_version(event, now)
        audit_record(
            actor=actor,
            action="event.extend",
            subject=event,
            at=now,
            changes={
                "version": event.version,
                "before": before,
                "slots": slots_snapshot(event),
            },
        )
    return event


def event_vote(
    *,
    actor: Actor,
    event_id: int,
    votes: Sequence[tuple[int, str]],
    now: datetime | None = None,
) -> Event:
    """Replace the acting party's votes: [(candidate id, YES | IF_NEED_BE | NO)]."""
    now = now or utcnow()
    answers = dict(votes)
    if len(answers) != len(votes):
        raise DomainError(ErrorCode.INVALID_INPUT, "One vote per slot.", field="votes")
    if not set(answers.values()) <= set(Vote.Answer.values):
        raise DomainError(ErrorCode.INVALID_INPUT, "Answer YES, IF_NEED_BE or NO.", field="votes")
    with transaction.atomic(durable=True):
        event, participant = event_for_change(
            actor=actor, event_id=event_id, require=_require_proposed
        )
        candidates = set(CandidateSlot.objects.filter(event=event).values_list("pk", flat=True))
        if not set(answers) <= candidates:
            raise DomainError(
                ErrorCode.NOT_A_CANDIDATE,
                "Some slots are not candidates of this event.",
                field="votes",
            )
        Vote.objects.filter(participant=participant).delete()
        Vote.objects.bulk_create(
            Vote(candidate_id=slot_id, participant=participant, answer=answer)
            for slot_id, answer in sorted(answers.items())
        )
        event.updated_at = now
        event.save(update_fields=["updated_at"])
        audit_record(
            actor=actor,
            action="event.vote",
            subject=event,
            at=now,
            changes={
                "votes": {str(k): v for k, v in sorted(answers.items())},
                "version": event.version,
                "slots": slots_snapshot(event),
            },
        )
    return event


def _agree(*, actor: Actor, event: Event, candidate: CandidateSlot, now: datetime) -> None:
    event.status = EventStatus.SCHEDULED
    event.start, event.end = candidate.start, candidate.end
    bump_version(event, now, "status", "start", "end")
    Participant.objects.filter(event=event, role=Participant.Role.PARTY).update(
        rsvp=Participant.Rsvp.UNDECIDED
    )
    Participant.objects.filter(event=event, role=Participant.Role.ORGANIZER).update(
        rsvp=Participant.Rsvp.YES
    )
    audit_record(
        actor=actor,
        action="event.agree",
        subject=event,
        at=now,
        changes={
            "version": event.version,
            "start": event.start,
            "end": event.end,
            "slots": slots_snapshot(event),
        },
    )
    notify_participants(event=event, kind=Notification.Kind.EVENT_SCHEDULED, now=now)


def event_agree(
    *,
    actor: Actor,
    event_id: int,
    slot_id: int,
    expected_version: int,
    now: datetime | None = None,
) -> Event:
    """Schedule the event at one candidate (organizer only); parties become participants
    with RSVP UNDECIDED, and everyone is told."""
    now = now or utcnow()
    with transaction.atomic(durable=True):
        event, _ = event_for_change(
            actor=actor,
            event_id=event_id,
            organizer_only=True,
            require=_require_proposed,
            expected_version=expected_version,
        )
        candidate = CandidateSlot.objects.filter(event=event, pk=slot_id).first()
        if candidate is None:
            raise DomainError(
                ErrorCode.NOT_A_CANDIDATE, "Not a candidate of this event.", field="slotId"
            )
        _agree(actor=actor, event=event, candidate=candidate, now=now)
    return event


def event_cancel(
    *,
    actor: Actor,
    event_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> Event:
    """Cancel a proposed or scheduled event (organizer only); cancelling twice is harmless."""
    now = now or utcnow()
    reason = reason.strip()
    if len(reason) > 500:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "reason is too long (500 at most).", field="reason"
        )
    with transaction.atomic(durable=True):
        event, _ = event_for_change(actor=actor, event_id=event_id, organizer_only=True)
        if event.status == EventStatus.CANCELLED:
            return event
        before = event.status
        event.status = EventStatus.CANCELLED
        event.cancel_reason = reason
        bump_version(event, now, "status", "cancel_reason")
        reminders_cancel(event=event, now=now)
        audit_record(
            actor=actor,
            action="event.cancel",
            subject=event,
            at=now,
            changes={
                "status": [before, event.status],
                "reason": event.cancel_reason,
                "version": event.version,
                "slots": slots_snapshot(event),
            },
        )
        notify_participants(event=event, kind=Notification.Kind.EVENT_CANCELLED, now=now)
    return event


def event_delete(*, actor: Actor, event_id: int, now: datetime | None = None) -> None:
    """Delete an event (staff only). Its audit entries stay; its mails not yet sent are
    dropped (their links would lead nowhere)."""
    now = now or utcnow()
    actor.require_user()
    if not actor.is_staff:
        raise AccessDenied("Only staff can delete events.")
    with transaction.atomic(durable=True):
        event = lock_event(actor, event_id)
        unsent, _ = (
            Notification.objects.filter(event=event)
            .exclude(status=Notification.Status.SENT)
            .delete()
        )
        audit_record(
            actor=actor,
            action="event.delete",
            subject=event,
            at=now,
            changes={
                "title": event.title,
                "status": event.status,
                "version": event.version,
                "parties": sorted(event.participants.values_list("user__email", flat=True)),
                "unsent_notifications_dropped": unsent,
                "slots": slots_snapshot(event),
            },
        )
        event.delete()


def event_view(*, actor: Actor, event_id: int, now: datetime | None = None) -> Event:
    """The event, for its organizer, parties and staff; a view through a link is audited."""
    now = now or utcnow()
    _require_link_for(actor, event_id)
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound("No such event.")
    if actor.access_token is None and actor.is_staff:
        return event
    acting_participant(actor=actor, event=event)
    if actor.access_token is not None:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action="event.view",
                subject=event,
                at=now,
                changes={
                    "version": event.version,
                    "slots": slots_snapshot(event),
                },
            )
    return event


# --- links and notifications --------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def access_token_issue(*, event: Event, user: User, now: datetime) -> EventAccessToken:
    """A fresh link token for (event, user), not yet usable: its digest is of a random value
    that is never revealed (and lacks the prefix), so no secret exists until
    `access_token_mint` makes one as the mail goes. The person's earlier tokens for the event
    are revoked, so only the newest link works."""
    EventAccessToken.objects.filter(event=event, user=user, revoked_at__isnull=True).update(
        revoked_at=now
    )
    return EventAccessToken.objects.create(
        event=event,
        user=user,
        digest=_digest(secrets.token_urlsafe(32)),  # unique, like every digest
        created_at=now,
        expires_at=now + timedelta(days=settings.ACCESS_TOKEN_TTL_DAYS),
    )


def access_token_mint(*, token: EventAccessToken) -> str:
    """A new secret for the token, returned once and stored only as its digest; any earlier
    secret of the token stops working. Call it inside the caller's transaction, with the
    token locked (services.mail does, just before the mail carrying it goes)."""
    secret = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
    token.digest = _digest(secret)
    token.save(update_fields=["digest"])
    return secret


def access_token_authenticate(
    *, secret: str, now: datetime | None = None
) -> EventAccessToken | None:
    """The live (unexpired, unrevoked) token for this secret, or None. Its person must be
    active, or invited only (inactive with no password yet): a deactivated account's links
    die with it."""
    if not secret.startswith(ACCESS_TOKEN_PREFIX):
        return None
    now = now or utcnow()
    token = (
        EventAccessToken.objects.select_related("user", "event")
        .filter(digest=_digest(secret), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None or not (token.user.is_active or not token.user.has_usable_password()):
        return None
    return token


def access_token_revoke(
    *, actor: Actor, token_id: int, now: datetime | None = None
) -> EventAccessToken:
    """Revoke a link token: by the event's organizer, or by the person it was issued to."""
    now = now or utcnow()
    user = actor.require_user()
    with transaction.atomic(durable=True):
        token = (
            EventAccessToken.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(pk=token_id)
            .first()
        )
        if token is None or (token.user_id != user.pk and token.event.organizer_id != user.pk):
            raise NotFound("No such access token.")
        if token.revoked_at is None:
            token.revoked_at = now
            token.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action="event.token_revoke",
                subject=token.event,
                at=now,
                changes={"token": token.pk, "slots": slots_snapshot(token.event)},
            )
    return token


def event_link(*, event: Event, secret: str) -> str:
    """The page a link's secret opens; built only for the outgoing mail, never stored."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/e/{event.pk}/?token={secret}"


def event_notify(
    *,
    actor: Actor,
    event_id: int,
    parties: Sequence[str],
    expected_version: int,
    message: str = "",
    now: datetime | None = None,
) -> list[Notification]:
    """E-mail parties a link with a fresh access token (organizer or any party). The version
    check makes sure the sender has seen the list the mail shows. The secret is not made
    here: the stored mail has a placeholder where the link goes, and the job that sends it
    mints the secret (services.mail.notification_send), so it is never written anywhere."""
    from reservation.notify_text import event_invitation  # rendering lives with the mail code

    now = now or utcnow()
    message = message.strip()
    if len(message) > MAX_MESSAGE:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"message is too long ({MAX_MESSAGE} at most).",
            field="message",
        )
    emails = sorted(_addresses(parties))
    if not emails:
        raise DomainError(ErrorCode.INVALID_INPUT, "Name at least one party.", field="parties")
    with transaction.atomic(durable=True):
        event, _ = event_for_change(
            actor=actor,
            event_id=event_id,
            require=_require_not_cancelled,
            expected_version=expected_version,
        )
        recipients = {
            p.user.email: p
            for p in Participant.objects.filter(event=event, user__email__in=emails).select_related(
                "user"
            )
        }
        strangers = [e for e in emails if e not in recipients]
        if strangers:
            raise DomainError(
                ErrorCode.NOT_A_PARTY,
                f"Not parties of this event: {', '.join(strangers)}.",
                field="parties",
            )
        slots = slots_snapshot(event)
        sent = []
        for email in emails:
            user = recipients[email].user
            token = access_token_issue(event=event, user=user, now=now)
            subject, body = event_invitation(
                event=event, recipient=user, message=message, sender=actor
            )
            notification = notification_enqueue(
                kind=Notification.Kind.EVENT_INVITATION,
                recipient=user,
                subject=subject,
                body=body,
                event=event,
                access_token=token,
                now=now,
            )
            audit_record(
                actor=actor,
                action="event.notify",
                subject=event,
                at=now,
                changes={
                    "recipient": email,
                    "token": token.pk,
                    "notification": notification.pk,
                    "version": event.version,
                    "slots": slots,
                },
            )
            sent.append(notification)
    return sent


def access_token_for(*, event: Event, user: User, now: datetime) -> EventAccessToken:
    """The person's live link token for the event, or a fresh one: mails about a scheduled
    event reuse it, so a second update does not kill the first mail's links before it goes
    (each send mints a new secret; the newest mail's links work)."""
    token = (
        EventAccessToken.objects.filter(
            event=event, user=user, revoked_at__isnull=True, expires_at__gt=now
        )
        .order_by("-expires_at", "-pk")
        .first()
    )
    if token is not None and token.expires_at - now > timedelta(days=1):
        return token
    return access_token_issue(event=event, user=user, now=now)


def notify_participants(
    *, event: Event, kind: str, now: datetime, occurrence_start: datetime | None = None
) -> None:
    """Tell every participant but the organizer that the event (or, with `occurrence_start`,
    one occurrence) was scheduled, changed or cancelled (inside the caller's transaction).
    Mails about a scheduled event carry the person's answer links (their link token)."""
    from reservation.notify_text import event_update

    rows = []
    slots = slots_snapshot(event)
    participants = event.participants.select_related("user").exclude(
        role=Participant.Role.ORGANIZER
    )
    for participant in participants.order_by("pk"):
        token = None
        if kind == Notification.Kind.EVENT_SCHEDULED and event.status == EventStatus.SCHEDULED:
            token = access_token_for(event=event, user=participant.user, now=now)
        subject, body = event_update(
            event=event,
            recipient=participant.user,
            kind=kind,
            occurrence_start=occurrence_start,
            with_links=token is not None,
        )
        rows.append(
            Notification(
                kind=kind,
                recipient=participant.user,
                subject=subject,
                body=body,
                event=event,
                access_token=token,
                occurrence_start=occurrence_start,
                created_at=now,
            )
        )
    for notification in notification_enqueue_many(rows):
        audit_record(
            actor=SYSTEM,
            action="event.notify",
            subject=event,
            at=now,
            changes={
                "recipient": notification.recipient.email,
                "notification": notification.pk,
                **({"token": notification.access_token_id} if notification.access_token_id else {}),
                "kind": kind,
                **({"occurrence_start": occurrence_start} if occurrence_start else {}),
                "version": event.version,
                "slots": slots,
            },
        )
