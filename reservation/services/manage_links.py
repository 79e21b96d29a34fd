"""Manage links in booking mails: a signed, expiring token that lets the client cancel or
move one reservation without signing in.

Like the event links (services.events, services.mail) the secret is made only when the mail
is sent: the stored body holds MANAGE_PLACEHOLDER and `with_manage_link` puts the link into
the outgoing copy, so neither the outbox nor the admin ever holds a working link. The token
is signed with the SECRET_KEY (django.core.signing, its own salt), names the reservation by
its public reference, never its ID, and expires a day after the appointment ends. Every use
is written to the audit log as `reservation.manage_link` by the client, next to the service's
own entry for what was done.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction

from reservation.actors import Actor
from reservation.models import Notification, Reservation
from reservation.notify_text import MANAGE_PLACEHOLDER
from reservation.publicref import decode_ref, encode_ref
from reservation.services.audit import audit_record

SALT = "rendezvous.reservation.manage"
REF_PURPOSE = "reservation"
GRACE = timedelta(days=1)


def reservation_ref(reservation_id: int) -> str:
    """A reservation's public reference (pages and links use it, never the ID)."""
    return encode_ref(reservation_id, purpose=REF_PURPOSE)


def reservation_id_of(ref: str) -> int | None:
    return decode_ref(ref, purpose=REF_PURPOSE)


def manage_token(*, reservation: Reservation, now: datetime) -> str:
    """A signed token for this reservation, valid until a day after it ends (at least a day
    from now)."""
    expires = max(reservation.end, now) + GRACE
    payload = {"r": reservation_ref(reservation.pk), "x": int(expires.timestamp())}
    return signing.dumps(payload, salt=SALT)


def manage_link(*, reservation: Reservation, now: datetime) -> str:
    token = manage_token(reservation=reservation, now=now)
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/book/manage/{token}/"


def manage_token_read(*, token: str, now: datetime) -> Reservation | None:
    """The reservation a live token names, with its parties loaded; None for a forged,
    altered or expired token, or one whose client can no longer sign in."""
    try:
        payload = signing.loads(token, salt=SALT)
        ref, expires = str(payload["r"]), int(payload["x"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if now.timestamp() >= expires:
        return None
    pk = reservation_id_of(ref)
    if pk is None:
        return None
    reservation = (
        Reservation.objects.select_related("client__user", "provider__user").filter(pk=pk).first()
    )
    if reservation is None or not reservation.client.user.is_active:
        return None
    return reservation


def manage_actor(reservation: Reservation) -> Actor:
    """Whom a manage link acts as: the reservation's client (for this reservation only: the
    pages behind the link reach no other)."""
    return Actor(user=reservation.client.user)


def manage_link_used(*, reservation: Reservation, use: str, now: datetime) -> None:
    """Audit one use of a manage link (`view`, `cancel`, `move`, `cancel_series`)."""
    with transaction.atomic():
        audit_record(
            actor=manage_actor(reservation),
            action="reservation.manage_link",
            subject=reservation,
            changes={"use": use},
            at=now,
        )


def with_manage_link(body: str, notification: Notification, *, now: datetime) -> str:
    """The body as mailed: its manage-link placeholder (the last one: text the user wrote
    comes before it) replaced by a fresh link, for the reservation's client only."""
    reservation = notification.reservation
    if (
        MANAGE_PLACEHOLDER not in body
        or reservation is None
        or notification.recipient_id != reservation.client.user_id
    ):
        return body
    head, _, tail = body.rpartition(MANAGE_PLACEHOLDER)
    return head + manage_link(reservation=reservation, now=now) + tail
