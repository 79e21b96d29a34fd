"""iCalendar (.ics) files for the mails, built with the `icalendar` package.

A file holds one VEVENT for a scheduled event or a confirmed booking, with a UID that stays
the same for its whole life (so calendars update the entry instead of adding another), times
in UTC, and METHOD REQUEST (add or update) or CANCEL (remove).

Files are built when the mail is sent, from the rows as they are then: a mail delayed by
retries never carries a time or a status that has since changed, and SEQUENCE (which grows
with every change) lets calendars order the files they get.

A person's subscribed feed (`calendar_feed`) and one event's export (`event_export`) use the
same UIDs, but keep a recurring event whole: DTSTART and DTEND in the event's own zone (TZID,
with its VTIMEZONE), the RRULE exactly as stored, EXDATE for cancelled occurrences and a
VEVENT with RECURRENCE-ID for each moved one, so a client's expansion gives the occurrences
`reservation.recurrence.expand` gives.
"""

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q

from reservation import recurrence, vtimezone
from reservation.models import (
    AuditEntry,
    Event,
    EventStatus,
    Notification,
    OccurrenceChange,
    Participant,
    Reservation,
    ReservationStatus,
    User,
)
from reservation.selectors.booking import active_reservations
from reservation.timezones import zone

logger = logging.getLogger(__name__)

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


def event_invite(
    event: Event, *, stamp: datetime, occurrence_start: datetime | None = None
) -> Invite | None:
    """The iTIP message (RFC 5546, mailed as iMIP, RFC 6047) for an event with a time: REQUEST
    for a scheduled one, CANCEL for a cancelled one, None for a proposed one (no time yet).

    A REQUEST carries the whole series as it is now: DTSTART/DTEND with TZID and a VTIMEZONE,
    RRULE, RDATE, EXDATE for cancelled occurrences and a VEVENT with RECURRENCE-ID per moved
    one, ORGANIZER and every ATTENDEE with PARTSTAT (parties with RSVP=TRUE: they are asked to
    answer), and a VALARM per reminder. With `occurrence_start` (an original start) the
    message is about that occurrence only: a REQUEST with its RECURRENCE-ID and new times when
    moved, a CANCEL with its RECURRENCE-ID when cancelled. SEQUENCE is the event's version,
    which every change raises; the UID never changes."""
    if event.start is None or event.end is None:
        return None
    if event.status == EventStatus.SCHEDULED:
        method = REQUEST
    elif event.status == EventStatus.CANCELLED:
        method = CANCEL
    else:
        return None
    if occurrence_start is not None and event.recurrence:
        tz = zone(event.time_zone)
        change = event.occurrence_changes.filter(original_start=occurrence_start).first()
        if method == CANCEL or (change is not None and change.cancelled):
            method = CANCEL
            vevent = _base_vevent(
                event, start=occurrence_start, end=occurrence_start + (event.end - event.start)
            )
            vevent["status"] = icalendar.vText("CANCELLED")
        elif change is not None and change.start is not None and change.end is not None:
            vevent = _base_vevent(event, start=change.start, end=change.end)
        else:  # moved back to where the rule puts it
            vevent = _base_vevent(
                event, start=occurrence_start, end=occurrence_start + (event.end - event.start)
            )
        vevent.add("recurrence-id", occurrence_start.astimezone(tz))
        vevents = [vevent]
    else:
        vevents = _event_vevents(event)
    people = list(event.participants.select_related("user").order_by("id"))
    for vevent in vevents:
        vevent["dtstamp"] = icalendar.vDDDTypes(stamp)
        _add_attendees(vevent, people)
        if method == REQUEST:
            _add_alarms(vevent, event)
    calendar = _feed_calendar(None, method=method)
    for vevent in vevents:
        calendar.add_component(vevent)
    return Invite(method=method, content=_finish(calendar, today=stamp.date()))


def _add_attendees(vevent: icalendar.Event, people: list[Participant]) -> None:
    for participant in people:
        params = {"CUTYPE": "INDIVIDUAL", "PARTSTAT": _PARTSTAT[participant.rsvp]}
        if participant.role == Participant.Role.ORGANIZER:
            params["ROLE"] = "CHAIR"
        else:
            params["ROLE"] = "REQ-PARTICIPANT"
            params["RSVP"] = "TRUE"
        vevent.add("attendee", _address(participant.user, **params))


def _add_alarms(vevent: icalendar.Event, event: Event) -> None:
    """A VALARM per distinct reminder offset: TRIGGER -PnDTnM, days in calendar time (the
    same local time n days before), minutes elapsed, as the reminders are sent."""
    offsets = sorted(
        {(r.offset_days, r.offset_minutes) for r in event.reminders.all()}, reverse=True
    )
    for days, minutes in offsets:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", event.title)
        alarm.add("trigger", -timedelta(days=days, minutes=minutes))
        vevent.add_component(alarm)


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
        return event_invite(
            notification.event, stamp=stamp, occurrence_start=notification.occurrence_start
        )
    if notification.kind in _RESERVATION_KINDS and notification.reservation is not None:
        return reservation_invite(
            notification.reservation, recipient=notification.recipient, stamp=stamp
        )
    return None


# --- subscribed feeds and event exports ---------------------------------------------------------

PUBLISH = "PUBLISH"
FEED_NAME = "Rendezvous"
FEED_REFRESH = timedelta(minutes=15)
# An RRULE is copied verbatim only if it is plainly one content-line value.
_PLAIN_RULE = re.compile(r"[A-Za-z0-9=;,:+\-]+")


class _VerbatimRecur(icalendar.vRecur):
    """An RRULE written exactly as stored (icalendar's own writer reorders the parts)."""

    def __init__(self, text: str) -> None:
        super().__init__(icalendar.vRecur.from_ical(text))
        self.text = text

    def to_ical(self) -> bytes:
        return self.text.encode()


def _rrule(text: str) -> icalendar.vRecur:
    if _PLAIN_RULE.fullmatch(text):
        return _VerbatimRecur(text)
    return icalendar.vRecur.from_ical(text)  # re-written: never splices odd text into a line


def _feed_calendar(name: str | None, *, method: str = PUBLISH) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    if name is not None:
        calendar.add("x-wr-calname", name)
        calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", FEED_REFRESH)
    return calendar


def _finish(calendar: icalendar.Calendar, *, today: date) -> bytes:
    """The calendar with a VTIMEZONE for every TZID it uses: transitions listed from the
    first date in it, then the zone's rule as yearly RRULEs, so it covers series that never
    end (reservation.vtimezone)."""
    values = [
        value
        for component in calendar.walk("VEVENT")
        for key in ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")
        for value in _as_list(component.get(key))
    ]
    instants = [v.dt for v in values if hasattr(v, "dt")] + [
        entry.dt for v in values if hasattr(v, "dts") for entry in v.dts
    ]
    days = [value.date() if isinstance(value, datetime) else value for value in instants]
    first = min([*days, today]) - timedelta(days=1)
    last = max([*days, today])
    present = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    keys = sorted(
        {
            value.tzinfo.key
            for value in instants
            if isinstance(value, datetime) and isinstance(value.tzinfo, ZoneInfo)
        }
        - present
        - {"UTC"}
    )
    for key in keys:
        calendar.subcomponents.insert(
            0, vtimezone.open_ended(key, first_date=first, from_year=last.year + 2)
        )
    return calendar.to_ical()


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _changes_that_apply(event: Event, tz: ZoneInfo) -> list[OccurrenceChange]:
    """The changes of a recurring event that hit an occurrence of its rule: `expand` ignores
    the others (and a one-off's), and a RECURRENCE-ID naming no instance would make some
    clients add one."""
    assert event.start is not None
    assert event.end is not None
    if not event.recurrence and not event.extra_starts:
        return []
    applying = []
    for change in event.occurrence_changes.all():
        try:
            hits = recurrence.expand(
                rule=event.recurrence or None,
                start=event.start,
                end=event.end,
                tz=tz,
                window_start=change.original_start,
                window_end=change.original_start + timedelta(seconds=1),
                extra_starts=event.extra_starts,
            )
        except ValueError:
            hits = [(change.original_start,) * 3]  # cannot tell: leave it to the client
        if any(original == change.original_start for *_, original in hits):
            applying.append(change)
    return applying


def _base_vevent(event: Event, *, start: datetime, end: datetime) -> icalendar.Event:
    """A VEVENT of the event at [start, end), in the event's zone (TZID)."""
    tz = zone(event.time_zone)
    vevent = _vevent(
        uid=event_uid(event.pk),
        stamp=event.updated_at,
        start=start.astimezone(tz),
        end=end.astimezone(tz),
        summary=event.title,
        sequence=event.version,
        cancelled=event.status == EventStatus.CANCELLED,
    )
    if event.description:
        vevent.add("description", event.description)
    vevent.add("organizer", _address(event.organizer))
    return vevent


def _event_vevents(event: Event) -> list[icalendar.Event]:
    """The VEVENTs of an event with a time: the series (or the one occurrence), and for a
    recurring one RDATE per extra date, EXDATE per cancelled occurrence and an override per
    moved one."""
    assert event.start is not None
    assert event.end is not None
    tz = zone(event.time_zone)
    changes = _changes_that_apply(event, tz)
    series = _base_vevent(event, start=event.start, end=event.end)
    vevents = [series]
    if event.recurrence:
        series.add("rrule", _rrule(event.recurrence))
    if event.extra_starts:
        series.add("rdate", [s.astimezone(tz) for s in sorted(event.extra_starts)])
    cancelled = [c.original_start.astimezone(tz) for c in changes if c.cancelled]
    if cancelled:
        series.add("exdate", cancelled)
    for change in changes:
        if not change.cancelled:
            assert change.start is not None
            assert change.end is not None
            override = _base_vevent(event, start=change.start, end=change.end)
            override.add("recurrence-id", change.original_start.astimezone(tz))
            vevents.append(override)
    return vevents


def _reservation_vevent(reservation: Reservation, *, user: User, sequence: int) -> icalendar.Event:
    """A booking as its client or provider sees it: confirmed, or tentative while held."""
    client, provider = reservation.client.user, reservation.provider.user
    other = str(reservation.provider) if user.pk == client.pk else client.name or client.email
    vevent = _vevent(
        uid=reservation_uid(reservation.pk),
        stamp=reservation.updated_at,
        start=reservation.start,
        end=reservation.end,
        summary=f"Appointment with {other}",
        sequence=sequence,
        cancelled=False,
    )
    if reservation.status == ReservationStatus.HELD:
        vevent["status"] = icalendar.vText("TENTATIVE")
    vevent.add("organizer", _address(provider))
    return vevent


def feed_events(*, user: User) -> list[Event]:
    """The scheduled events in `user`'s feed: those they organise, or are a party to and have
    not declined, with their organizer and occurrence changes loaded."""
    # As the calendar's selectors count attendance: the organizer always attends.
    taking_part = Participant.objects.filter(event=OuterRef("pk"), user=user).filter(
        Q(role=Participant.Role.ORGANIZER) | ~Q(rsvp=Participant.Rsvp.NO)
    )
    return list(
        Event.objects.filter(Exists(taking_part), status=EventStatus.SCHEDULED)
        .select_related("organizer")
        .prefetch_related("occurrence_changes", "reminders")
        .order_by("start", "id")
    )


def feed_reservations(*, user: User, now: datetime) -> list[Reservation]:
    """The bookings in `user`'s feed, as client or provider: confirmed ones, and holds that
    have not lapsed at `now`."""
    return list(
        Reservation.objects.filter(
            active_reservations(now=now), Q(client__user=user) | Q(provider__user=user)
        )
        .select_related("client__user", "provider__user")
        .order_by("start", "id")
    )


def calendar_feed(*, user: User, now: datetime) -> bytes:
    """`user`'s subscribed calendar: a VEVENT (set) per scheduled event they take part in and
    have not declined, and one per confirmed or live held booking, as client or provider."""
    calendar = _feed_calendar(FEED_NAME)
    for event in feed_events(user=user):
        try:
            vevents = _event_vevents(event)
        except ValueError:
            # A stored rule icalendar cannot read: leave the event out rather than show wrong
            # times, or fail the whole feed of everyone on it at every refresh.
            logger.warning("event %s left out of a feed: unreadable RRULE", event.pk)
            continue
        for vevent in vevents:
            _add_alarms(vevent, event)
            calendar.add_component(vevent)
    reservations = feed_reservations(user=user, now=now)
    sequences = dict(
        AuditEntry.objects.filter(
            subject_type="reservation", subject_id__in=[r.pk for r in reservations]
        )
        .values_list("subject_id")
        .annotate(n=Count("id"))
        .values_list("subject_id", "n")
    )
    for reservation in reservations:
        calendar.add_component(
            _reservation_vevent(reservation, user=user, sequence=sequences.get(reservation.pk, 0))
        )
    return _finish(calendar, today=now.date())


def event_export(*, event: Event) -> bytes:
    """One event as an .ics file to import: the whole series with its exceptions, cancelled
    or not. ValueError for an event without a time (still proposed)."""
    if event.start is None or event.end is None:
        raise ValueError(f"event {event.pk} has no time yet")
    calendar = _feed_calendar(None)
    for vevent in _event_vevents(event):
        _add_alarms(vevent, event)
        calendar.add_component(vevent)
    return _finish(calendar, today=event.updated_at.date())
