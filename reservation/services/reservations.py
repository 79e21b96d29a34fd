"""Reserving a provider's time: hold, confirm, cancel, reschedule, expire.

Every write takes the provider's lock (services.locks) before it checks anything, and the
exclusion constraint `reservation_no_overlap` backs the check for whatever slips past it.
"""

import json
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from reservation import slots
from reservation.actors import Actor, utcnow
from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import Notification, Provider, Reservation, ReservationStatus
from reservation.selectors.booking import SlotQuery, slot_query
from reservation.selectors.coaching import require_booking_allowed
from reservation.selectors.reservations import reservation_visible_to, reservations_visible_to
from reservation.services import expiry
from reservation.services.audit import audit_entry, audit_record
from reservation.services.locks import lock_booking, lock_provider
from reservation.services.notifications import reservation_notify
from reservation.services.webhooks import webhooks_emit
from reservation.validation import describe_duration, require_aware

MAX_IDEMPOTENCY_KEY = 200
MAX_REASON = 500


def _snapshot(r: Reservation) -> dict[str, object]:
    return {
        "provider": r.provider_id,
        "client": r.client_id,
        "start": r.start,
        "end": r.end,
        "status": r.status,
        "expires_at": r.expires_at,
    }


def _check_bookable(*, query: SlotQuery, start: datetime, now: datetime) -> None:
    """Raise the most helpful code when `start` is not a slot the listing would offer."""
    rules = query.rules
    if slots.is_bookable(
        start_at=start, availability=query.availability, busy=query.busy, rules=rules, now=now
    ):
        return
    if start < now + rules.min_notice:
        raise DomainError(
            ErrorCode.NOTICE_TOO_SHORT,
            f"Book at least {describe_duration(rules.min_notice)} ahead.",
            field="start",
        )
    if start > now + rules.horizon:
        raise DomainError(
            ErrorCode.BEYOND_HORIZON,
            f"Book at most {describe_duration(rules.horizon)} ahead.",
            field="start",
        )
    raise DomainError(ErrorCode.SLOT_UNAVAILABLE, "That slot is not available.", field="start")


def _slot_taken(exc: IntegrityError) -> DomainError:
    """The constraint that only a race can hit, translated for the client."""
    if "reservation_no_overlap" in str(exc):
        return DomainError(ErrorCode.SLOT_UNAVAILABLE, "That slot was just taken.", field="start")
    raise exc


# The periodic job's sweep: batched, SKIP LOCKED, resumable (see services.expiry).
reservation_expire_sweep = expiry.expire_sweep


def reservation_expire_due(
    *,
    now: datetime | None = None,
    provider_id: int | None = None,
    reservation_id: int | None = None,
) -> int:
    """Mark every hold whose time ran out (of one provider, or just one reservation) as EXPIRED,
    auditing each as the system and telling each client (services.expiry: set-based, batched
    when unscoped). Scoped: in the caller's transaction. Returns how many expired."""
    if provider_id is None and reservation_id is None:
        return expiry.expire_sweep(now=now).expired
    return expiry.expire_due(now=now, provider_id=provider_id, reservation_id=reservation_id)


# The hold and its audit entry in one statement (one round trip fewer under the locks).
_INSERT_HOLD_SQL = """
WITH held AS (
    INSERT INTO reservation_reservation (provider_id, client_id, start, "end", status,
        expires_at, idempotency_key, cancel_reason, created_at, updated_at)
    VALUES (%(provider)s, %(client)s, %(start)s, %(end)s, %(status)s, %(expires_at)s,
        %(key)s, '', %(written)s, %(written)s)
    RETURNING id
), audited AS (
    INSERT INTO reservation_auditentry (at, actor_kind, actor_user_id, actor_token_id,
        actor_access_token_id, action, subject_type, subject_id, changes)
    SELECT %(at)s, %(actor_kind)s, %(actor_user)s, %(actor_token)s, %(actor_access_token)s,
        %(action)s, %(subject_type)s, held.id, %(changes)s::jsonb
    FROM held
    RETURNING id
)
SELECT (SELECT id FROM held), (SELECT id FROM audited)
"""


def _insert_hold(
    *, actor: Actor, reservation: Reservation, now: datetime, emit: bool
) -> Reservation:
    """INSERT the unsaved `reservation` and its `reservation.create` audit entry (as
    services.audit writes it) in one statement; returns it saved. `emit`: some webhook hears
    reservation.created, so queue its deliveries as services.audit does."""
    entry = audit_entry(
        actor=actor,
        action="reservation.create",
        subject=reservation,
        changes=_snapshot(reservation),
        at=now,
    )
    written = timezone.now()  # what auto_now(_add) would store
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_HOLD_SQL,
            {
                "provider": reservation.provider_id,
                "client": reservation.client_id,
                "start": reservation.start,
                "end": reservation.end,
                "status": reservation.status,
                "expires_at": reservation.expires_at,
                "key": reservation.idempotency_key,
                "written": written,
                "at": entry.at,
                "actor_kind": entry.actor_kind,
                "actor_user": entry.actor_user_id,
                "actor_token": entry.actor_token_id,
                "actor_access_token": entry.actor_access_token_id,
                "action": entry.action,
                "subject_type": entry.subject_type,
                "changes": json.dumps(entry.changes),
            },
        )
        reservation.pk, entry.pk = cursor.fetchone()
    if emit:
        entry.subject_id = reservation.pk
        webhooks_emit([entry])
    reservation.created_at = reservation.updated_at = written
    reservation._state.adding = False
    reservation._state.db = connection.alias
    return reservation


def reservation_create(
    *,
    actor: Actor,
    provider_id: int,
    start: datetime,
    idempotency_key: str = "",
    now: datetime | None = None,
) -> Reservation:
    """Hold a slot for the acting client until now + hold time.

    Accepts exactly the starts `available_slots` lists at `now`. A repeated call with the same
    idempotency key returns the first reservation unchanged. Five SQL statements in its
    transaction: two locks, the slot data (with the client's holds), the insert with its
    audit entry; a sixth expires the provider's lapsed holds when one is in the way.
    """
    now = now or utcnow()
    client = actor.require_client()
    start = require_aware(start, field="start")
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "idempotencyKey is too long (200 at most).",
            field="idempotencyKey",
        )
    try:
        with transaction.atomic(durable=True):
            try:
                provider, client = lock_booking(provider_id=provider_id, client_id=client.pk)
            except Provider.DoesNotExist:
                raise NotFound("No such provider.") from None
            if not provider.is_active:
                raise NotFound("No such provider.")
            # The single validation path: what the listing offers at `now`, and the client.
            query = slot_query(
                provider=provider,
                start=start,
                end=start,
                now=now,
                client_id=client.pk,
                idempotency_key=idempotency_key,
            )
            if query.earlier_id is not None:
                earlier = Reservation.objects.select_related("provider__user", "client__user").get(
                    pk=query.earlier_id
                )
                if earlier.provider_id != provider.pk or earlier.start != start:
                    raise DomainError(
                        ErrorCode.IDEMPOTENCY_KEY_REUSED,
                        "This idempotency key was used for another request.",
                        field="idempotencyKey",
                    )
                return earlier
            require_booking_allowed(
                policy=query.policy, provider_id=provider.pk, client_id=client.pk
            )
            _check_bookable(query=query, start=start, now=now)
            if query.client_holds >= query.policy.max_active_holds:
                raise DomainError(
                    ErrorCode.HOLD_LIMIT_REACHED,
                    f"You already hold {query.client_holds} unconfirmed slots; "
                    "confirm or cancel one first.",
                )
            if query.lapsed:
                # The exclusion constraint cannot see the clock: lapsed holds near the slot
                # must be EXPIRED before the insert (with their audit entries and mails).
                expiry.expire_due(
                    now=now,
                    provider_id=provider.pk,
                    emit="reservation.expired" in query.listening,
                )
            return _insert_hold(
                actor=actor,
                reservation=Reservation(
                    provider=provider,
                    client=client,
                    start=start,
                    end=start + query.rules.slot_length,
                    status=ReservationStatus.HELD,
                    expires_at=now + query.policy.hold_time,
                    idempotency_key=idempotency_key,
                ),
                now=now,
                emit="reservation.created" in query.listening,
            )
    except IntegrityError as exc:  # the whole transaction is gone: nothing was written
        raise _slot_taken(exc) from exc


def _locked_visible(*, actor: Actor, reservation_id: int) -> Reservation:
    user = actor.require_user()
    reservation = (
        Reservation.objects.select_for_update(of=("self",))
        .select_related("client__user", "provider__user")
        .filter(pk=reservation_id)
        .first()
    )
    if reservation is None or not reservation_visible_to(reservation, user):
        raise NotFound("No such reservation.")
    return reservation


def reservation_confirm(
    *, actor: Actor, reservation_id: int, now: datetime | None = None
) -> Reservation:
    """Confirm the acting client's live hold. Confirming twice is harmless; a hold whose time
    ran out becomes EXPIRED (that is kept) and the call fails with HOLD_EXPIRED."""
    now = now or utcnow()
    user = actor.require_user()
    with transaction.atomic(durable=True):
        reservation = _locked_visible(actor=actor, reservation_id=reservation_id)
        if reservation.client.user_id != user.pk:
            raise AccessDenied("Only the client who holds it can confirm a reservation.")
        if reservation.status == ReservationStatus.CONFIRMED:
            return reservation
        if reservation.status == ReservationStatus.HELD and reservation.expires_at > now:
            reservation.status = ReservationStatus.CONFIRMED
            reservation.confirmed_at = now
            reservation.expires_at = None
            reservation.save(update_fields=["status", "confirmed_at", "expires_at", "updated_at"])
            audit_record(
                actor=actor,
                action="reservation.confirm",
                subject=reservation,
                changes={"status": reservation.status},
                at=now,
            )
            reservation_notify(
                reservation=reservation, kind=Notification.Kind.RESERVATION_CONFIRMED, now=now
            )
            return reservation
        if reservation.status == ReservationStatus.HELD:
            # This row only: we hold its lock but not the provider's, and waiting here for
            # another row's lock could deadlock with a session that waits for this one.
            reservation_expire_due(now=now, reservation_id=reservation.pk)
        elif reservation.status != ReservationStatus.EXPIRED:
            raise DomainError(
                ErrorCode.RESERVATION_NOT_ACTIVE,
                f"The reservation is {reservation.status.lower()}.",
            )
    # Outside the block: the EXPIRED mark above is committed, the caller still gets the error.
    raise DomainError(
        ErrorCode.HOLD_EXPIRED, "The hold expired before it was confirmed; reserve the slot again."
    )


def reservation_cancel(
    *, actor: Actor, reservation_id: int, reason: str = "", now: datetime | None = None
) -> Reservation:
    """Cancel a live reservation, by its client, its provider or staff. Cancelling twice is
    harmless."""
    now = now or utcnow()
    user = actor.require_user()
    if len(reason) > MAX_REASON:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "reason is too long (500 at most).", field="reason"
        )
    with transaction.atomic(durable=True):
        reservation = _locked_visible(actor=actor, reservation_id=reservation_id)
        if reservation.status == ReservationStatus.CANCELLED:
            return reservation
        if not _is_live(reservation, now):
            raise DomainError(
                ErrorCode.RESERVATION_NOT_ACTIVE,
                "Only held or confirmed reservations that are not over can be cancelled.",
            )
        before = reservation.status
        reservation.status = ReservationStatus.CANCELLED
        reservation.cancelled_at = now
        reservation.cancelled_by = user
        reservation.cancel_reason = reason.strip()
        reservation.expires_at = None
        reservation.save(
            update_fields=[
                "status",
                "cancelled_at",
                "cancelled_by",
                "cancel_reason",
                "expires_at",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action="reservation.cancel",
            subject=reservation,
            changes={"status": [before, reservation.status], "reason": reason.strip()},
            at=now,
        )
        reservation_notify(
            reservation=reservation,
            kind=Notification.Kind.RESERVATION_CANCELLED,
            now=now,
            by=user,
        )
    return reservation


def _is_live(reservation: Reservation, now: datetime) -> bool:
    """Held and not lapsed, or confirmed — and not over yet: the past is not rewritten."""
    if reservation.end <= now:
        return False
    return reservation.status == ReservationStatus.CONFIRMED or (
        reservation.status == ReservationStatus.HELD and reservation.expires_at > now
    )


def reservation_reschedule(
    *, actor: Actor, reservation_id: int, start: datetime, now: datetime | None = None
) -> Reservation:
    """Move a live reservation to another slot of the same provider, atomically: the new start
    is validated like a new booking; the old time is freed only if the move succeeds."""
    now = now or utcnow()
    user = actor.require_user()
    start = require_aware(start, field="start")
    # Visibility first, without locks: a stranger learns nothing (the same NOT_FOUND as an
    # unknown ID) and makes the service lock nothing.
    found = (
        reservations_visible_to(user)
        .filter(pk=reservation_id)
        .values_list("provider_id", flat=True)
        .first()
    )
    if found is None:
        raise NotFound("No such reservation.")
    with transaction.atomic(durable=True):
        provider = lock_provider(provider_id=found)
        if not provider.is_active:  # like a new booking: a retired provider takes none
            raise NotFound("No such provider.")
        # Expire before locking the reservation: holding its row while waiting for the rows
        # being expired could deadlock with the periodic job, which locks them in id order.
        reservation_expire_due(now=now, provider_id=provider.pk)
        reservation = _locked_visible(actor=actor, reservation_id=reservation_id)
        if not _is_live(reservation, now):
            raise DomainError(
                ErrorCode.RESERVATION_NOT_ACTIVE,
                "Only held or confirmed reservations that are not over can be moved.",
            )
        query = slot_query(
            provider=provider,
            start=start,
            end=start,
            now=now,
            exclude_reservation_id=reservation.pk,
        )
        require_booking_allowed(
            policy=query.policy, provider_id=provider.pk, client_id=reservation.client_id
        )
        _check_bookable(query=query, start=start, now=now)
        before = {"start": reservation.start, "end": reservation.end}
        reservation.start = start
        reservation.end = start + query.rules.slot_length
        try:
            with transaction.atomic():
                reservation.save(update_fields=["start", "end", "updated_at"])
        except IntegrityError as exc:
            raise _slot_taken(exc) from exc
        audit_record(
            actor=actor,
            action="reservation.reschedule",
            subject=reservation,
            changes={"from": before, "to": {"start": reservation.start, "end": reservation.end}},
            at=now,
        )
        reservation_notify(
            reservation=reservation,
            kind=Notification.Kind.RESERVATION_RESCHEDULED,
            now=now,
            by=actor.user,
            previous=(before["start"], before["end"]),
        )
    return reservation
