"""Reads of reservations and audit entries, each limited to what the asking user may see."""

from datetime import datetime

from django.db.models import Q, QuerySet

from reservation.errors import NotFound
from reservation.models import ApiToken, AuditEntry, Provider, Reservation, User
from reservation.validation import require_aware


def reservation_visible_to(reservation: Reservation, user: User) -> bool:
    """Its client, its provider, and staff see a reservation; nobody else."""
    return (
        user.is_staff
        or reservation.client.user_id == user.pk
        or reservation.provider.user_id == user.pk
    )


def reservations_visible_to(user: User) -> QuerySet[Reservation]:
    """All reservations the user may see (own as client, with them as provider; staff: all)."""
    qs = Reservation.objects.all()
    if user.is_staff:
        return qs
    return qs.filter(Q(client__user=user) | Q(provider__user=user))


def reservation_for(*, user: User, reservation_id: int) -> Reservation:
    """One reservation the user may see, or NOT_FOUND (also for one they may not see)."""
    found = reservations_visible_to(user).filter(pk=reservation_id).first()
    if found is None:
        raise NotFound("No such reservation.")
    return found


def reservation_list(
    *,
    user: User,
    statuses: list[str] | None = None,
    provider_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[Reservation]:
    """Visible reservations, filtered, ordered by start then id. A reservation is in
    [start, end) when it overlaps it; naive bounds are NAIVE_DATETIME, never guessed."""
    qs = reservations_visible_to(user)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if provider_id is not None:
        qs = qs.filter(provider_id=provider_id)
    if start is not None:
        qs = qs.filter(end__gt=require_aware(start, field="start"))
    if end is not None:
        qs = qs.filter(start__lt=require_aware(end, field="end"))
    return qs.order_by("start", "id")


def audit_entries_for(*, user: User, subject_type: str, subject_id: int) -> QuerySet[AuditEntry]:
    """Audit entries of one subject, oldest first, if the user is involved in it (else none).

    Availability is audited on its provider, working hours and time off on their user, so
    entries stay visible after the rows they describe are deleted.
    """
    entries = AuditEntry.objects.filter(subject_type=subject_type, subject_id=subject_id).order_by(
        "at", "id"
    )
    if user.is_staff:
        return entries
    mine: dict[str, QuerySet] = {
        "reservation": reservations_visible_to(user),
        "provider": Provider.objects.filter(user=user),
        "user": User.objects.filter(pk=user.pk),
        "apitoken": ApiToken.objects.filter(user=user),
    }
    owned = mine.get(subject_type)
    if owned is None or not owned.filter(pk=subject_id).exists():
        return entries.none()
    return entries
