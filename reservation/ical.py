"""iCalendar (.ics) files for the mails, built with the `icalendar` package.

A file holds one VEVENT for a scheduled event or a confirmed booking, with a UID that stays
the same for its whole life (so calendars update the entry instead of adding another), times
in UTC, and METHOD REQUEST (add or update) or CANCEL (remove).

Files are built when the mail is sent, from the rows as they are then: a mail delayed by
retries never carries a time or a status that has since changed, and SEQUENCE (which grows
with every change) lets calendars order the files they get.
"""

from dataclasses import dataclass
from datetime import datetime

import icalendar
from django.conf import settings

from reservation.models import (
    AuditEntry,
    Event,
    EventStatus,
    Notification,
    Participant,
    Reservation,
    ReservationStatus,
    User,
)

PRODID = "-//Rendezvous//Rendezvous//EN"
REQUEST = "REQUEST"
CANCEL = "CANCEL"

_PARTSTAT = {
    Participant.Rsvp.YES: "ACCEPTED",
    Participant.Rsvp.MAYBE: "TENTATIVE",
    Participant.Rsvp.NO: "DECLINED",
    Participant.Rsvp.UNDECIDED: "NEEDS-ACTION",
}

_EVENT_KINDS = {Notification.Kind.EVENT_SCHEDULED, Notification.Kind.EVENT_CANCELLED}
_RESERVATION_KINDS = {
    Notification.Kind.RESERVATION_CONFIRMED,
    Notification.Kind.RESERVATION_CANCELLED,
    Notification.Kind.RESERVATION_RESCHEDULED,
}


@dataclass(frozen=True, slots=True)
class Invite:
    """An .ics file and its METHOD (the mail part's Content-Type carries it too)."""

    method: str
    content: bytes
    filename: str = "invite.ics"


def event_uid(event_id: int) -> str:
    return f"event-{event_id}@{settings.MAIL_DOMAIN}"


def reservation_uid(reservation_id: int) -> str:
    return f"reservation-{reservation_id}@{settings.MAIL_DOMAIN}"


def _address(user: User, **params: str) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{user.email}")
    if user.name:
        address.params["CN"] = user.name
    for key, value in params.items():
        address.params[key] = value
    return address


def _calendar(method: str, vevent: icalendar.Event) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(vevent)
    return calendar.to_ical()


def _vevent(
    *,
    uid: str,
    stamp: datetime,
    start: datetime,
    end: datetime,
    summary: str,
    sequence: int,
    cancelled: bool,
) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", uid)
    vevent.add("dtstamp", stamp)
    vevent.add("dtstart", start)  # aware UTC datetimes: written as ...Z
    vevent.add("dtend", end)
    vevent.add("summary", summary)
    vevent.add("sequence", sequence)
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return vevent


def event_invite(event: Event, *, stamp: datetime) -> Invite | None:
    """REQUEST for a scheduled event, CANCEL for a cancelled one that had a time, else None
    (a proposed event has no time to put in a calendar). SEQUENCE is the event's version."""
    if event.start is None or event.end is None:
        return None
    if event.status == EventStatus.SCHEDULED:
        method = REQUEST
    elif event.status == EventStatus.CANCELLED:
        method = CANCEL
    else:
        return None
    vevent = _vevent(
        uid=event_uid(event.pk),
        stamp=stamp,
        start=event.start,
        end=event.end,
        summary=event.title,
        sequence=event.version,
        cancelled=method == CANCEL,
    )
    if event.description:
        vevent.add("description", event.description)
    vevent.add("organizer", _address(event.organizer))
    for participant in event.participants.select_related("user").order_by("id"):
        vevent.add(
            "attendee",
            _address(
                participant.user,
                ROLE="REQ-PARTICIPANT",
                PARTSTAT=_PARTSTAT[participant.rsvp],
            ),
        )
    return Invite(method=method, content=_calendar(method, vevent))


def reservation_invite(
    reservation: Reservation, *, recipient: User, stamp: datetime
) -> Invite | None:
    """REQUEST for a confirmed booking, CANCEL for a cancelled one that had been confirmed,
    else None (a hold is not in anyone's calendar). The provider organizes, both attend;
    SEQUENCE counts the reservation's recorded changes (its audit entries)."""
    if reservation.status == ReservationStatus.CONFIRMED:
        method = REQUEST
    elif reservation.status == ReservationStatus.CANCELLED and reservation.confirmed_at:
        method = CANCEL
    else:
        return None
    client, provider = reservation.client.user, reservation.provider.user
    other = str(reservation.provider) if recipient.pk == client.pk else client.name or client.email
    vevent = _vevent(
        uid=reservation_uid(reservation.pk),
        stamp=stamp,
        start=reservation.start,
        end=reservation.end,
        summary=f"Appointment with {other}",
        sequence=AuditEntry.objects.filter(
            subject_type="reservation", subject_id=reservation.pk
        ).count(),
        cancelled=method == CANCEL,
    )
    vevent.add("organizer", _address(provider))
    for user in (provider, client):
        vevent.add("attendee", _address(user, ROLE="REQ-PARTICIPANT", PARTSTAT="ACCEPTED"))
    return Invite(method=method, content=_calendar(method, vevent))


def notification_invite(notification: Notification, *, stamp: datetime) -> Invite | None:
    """The .ics a notification's mail carries, if any: event schedule and cancel mails and
    reservation confirm, move and cancel mails do, as long as their subject still exists."""
    if notification.kind in _EVENT_KINDS and notification.event is not None:
        return event_invite(notification.event, stamp=stamp)
    if notification.kind in _RESERVATION_KINDS and notification.reservation is not None:
        return reservation_invite(
            notification.reservation, recipient=notification.recipient, stamp=stamp
        )
    return None
