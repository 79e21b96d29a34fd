"""Answers from calendar apps: iMIP (RFC 6047) REPLY messages applied to the calendar.

When someone clicks Accept / Maybe / Decline in their calendar app, it mails the organizer a
METHOD:REPLY calendar (RFC 5546 3.2.3): the event's UID, SEQUENCE, and one ATTENDEE with its
PARTSTAT. The raw RFC 822 message comes in by an inbound-mail webhook (api.inbound) or is read
from a mailbox over IMAP (`manage.py imip_fetch`); both call `imip_message_apply`.

Decisions:
- The ATTENDEE must be the message's sender (From), as RFC 6047 3.2 asks the receiver to
  check; proving the From is the mail provider's job (SPF/DKIM before its webhook fires or
  the mailbox accepts it). A REPLY naming someone else is refused.
- A REPLY to an older invitation (SEQUENCE below the event's version) is not applied: the time
  may have changed since, and the person has the newer invitation to answer.
- Answers are per event, so a REPLY for one occurrence (RECURRENCE-ID) is not applied; it is
  reported as such.
- Each part answers or fails on its own; the result lists what happened to each, and every
  applied answer is in the audit log with `via` (imip-http or imip-imap) and the SEQUENCE.
"""

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses

import icalendar
from django.conf import settings

from reservation.errors import AccessDenied, DomainError, NotFound
from reservation.models import Participant
from reservation.services.calendar import event_respond_by_mail

MAX_MESSAGE_BYTES = 1024 * 1024
_DECISIONS = {
    "ACCEPTED": Participant.Rsvp.YES,
    "TENTATIVE": Participant.Rsvp.MAYBE,
    "DECLINED": Participant.Rsvp.NO,
    "NEEDS-ACTION": Participant.Rsvp.UNDECIDED,
}


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """What became of one VEVENT of a REPLY: `applied` or why not (a stable code)."""

    uid: str
    attendee: str
    outcome: str  # APPLIED or an error code: NOT_FOUND, STALE_VERSION, NOT_THE_SENDER, ...
    decision: str = ""


def _event_id(uid: str) -> int | None:
    match = re.fullmatch(rf"event-(\d+)@{re.escape(settings.MAIL_DOMAIN)}", uid.strip())
    return int(match.group(1)) if match else None


def _calendars(message: EmailMessage) -> list[icalendar.Calendar]:
    """Every text/calendar part (inline or attached) and .ics attachment that parses."""
    found = []
    for part in message.walk():
        filename = (part.get_filename() or "").lower()
        if part.get_content_type() != "text/calendar" and not filename.endswith(".ics"):
            continue
        payload = part.get_payload(decode=True)
        if not payload:
            continue
        try:
            found.append(icalendar.Calendar.from_ical(payload))
        except ValueError:
            continue
    return found


def _mailto(value: object) -> str:
    text = str(value).strip()
    return text[7:].lower() if text.lower().startswith("mailto:") else text.lower()


def imip_message_apply(*, raw: bytes, via: str, now: datetime | None = None) -> list[ReplyOutcome]:
    """Apply the iMIP REPLY parts of one raw RFC 822 message; other methods are ignored.
    ValueError for a message too large to be one."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ValueError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    senders = {address.lower() for _, address in getaddresses(message.get_all("From", []))}
    outcomes: list[ReplyOutcome] = []
    for calendar in _calendars(message):
        if str(calendar.get("METHOD", "")).upper() != "REPLY":
            continue
        for vevent in calendar.walk("VEVENT"):
            outcomes.append(_apply(vevent, senders=senders, via=via, now=now))
    return outcomes


def _apply(
    vevent: icalendar.Event, *, senders: set[str], via: str, now: datetime | None
) -> ReplyOutcome:
    uid = str(vevent.get("UID", ""))
    attendees = vevent.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    if len(attendees) != 1:
        return ReplyOutcome(uid, "", "INVALID_INPUT")  # RFC 5546: exactly one in a REPLY
    attendee = attendees[0]
    address = _mailto(attendee)
    partstat = str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    decision = _DECISIONS.get(partstat)
    event_id = _event_id(uid)
    if address not in senders:
        return ReplyOutcome(uid, address, "NOT_THE_SENDER")
    if decision is None:
        return ReplyOutcome(uid, address, "INVALID_INPUT")
    if event_id is None:
        return ReplyOutcome(uid, address, "NOT_FOUND")
    if vevent.get("RECURRENCE-ID") is not None:
        return ReplyOutcome(uid, address, "ONE_OCCURRENCE_NOT_KEPT", decision)
    try:
        sequence = int(vevent.get("SEQUENCE", 0))
        event_respond_by_mail(
            event_id=event_id,
            email=address,
            decision=decision,
            sequence=sequence,
            via=via,
            now=now,
        )
    except (DomainError, AccessDenied, NotFound) as exc:
        return ReplyOutcome(uid, address, exc.error_code.value, decision)
    except ValueError:  # a SEQUENCE that is not a number
        return ReplyOutcome(uid, address, "INVALID_INPUT", decision)
    return ReplyOutcome(uid, address, "APPLIED", decision)
