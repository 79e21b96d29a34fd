"""Who may see whose free/busy time.

A person's free/busy is theirs to share (User.free_busy_sharing): by default (CONTACTS) with
the people they share an event with (organizer or party, on an event not cancelled) or a
booking with (client and provider, any booking not cancelled); EVERYONE: any signed-in user;
NOBODY: no one but themselves. Someone hidden answers exactly like an address with no account
(NOT_FOUND, "No such user."), so the answer tells nothing about who has an account.
"""

from collections.abc import Sequence

from django.db.models import Exists, OuterRef, Q

from reservation.errors import NotFound
from reservation.models import (
    Event,
    EventStatus,
    FreeBusySharing,
    Participant,
    Reservation,
    ReservationStatus,
    User,
)


def contacts_among(*, viewer: User, user_ids: Sequence[int]) -> set[int]:
    """The ids among `user_ids` that share a live event or a booking with `viewer` (one query)."""
    if not user_ids:
        return set()
    shared_event = Participant.objects.filter(
        user=OuterRef("pk"),
        event__in=Event.objects.filter(participants__user=viewer).exclude(
            status=EventStatus.CANCELLED
        ),
    )
    shared_booking = Reservation.objects.exclude(status=ReservationStatus.CANCELLED).filter(
        Q(provider__user=viewer, client__user=OuterRef("pk"))
        | Q(client__user=viewer, provider__user=OuterRef("pk"))
    )
    return set(
        User.objects.filter(pk__in=user_ids)
        .filter(Exists(shared_event) | Exists(shared_booking))
        .values_list("pk", flat=True)
    )


def require_free_busy_shared(*, viewer: User, users: Sequence[User]) -> None:
    """NOT_FOUND (exactly as for an unknown address) unless every one of `users` shares their
    free/busy with `viewer`: themselves, EVERYONE, or CONTACTS and a contact. No query when
    nobody's CONTACTS setting needs checking."""
    to_check = []
    for user in users:
        if user.pk == viewer.pk or user.free_busy_sharing == FreeBusySharing.EVERYONE:
            continue
        if user.free_busy_sharing != FreeBusySharing.CONTACTS:
            raise NotFound("No such user.")
        to_check.append(user.pk)
    if to_check and contacts_among(viewer=viewer, user_ids=to_check) != set(to_check):
        raise NotFound("No such user.")
