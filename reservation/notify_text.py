"""Plain-text bodies of the e-mails: times in the recipient's zone when known, else UTC,
always labelled with the zone."""

from datetime import datetime

from reservation.models import CandidateSlot, Event, Notification, User
from reservation.timezones import zone


def format_time(value: datetime, user: User) -> str:
    """'Mon 12 Jan 2030, 10:00 (Europe/Berlin)'; people without a zone get UTC, labelled."""
    tz_name = user.time_zone or "UTC"
    local = value.astimezone(zone(tz_name))
    return f"{local:%a %d %b %Y, %H:%M} ({tz_name})"


def format_span(start: datetime, end: datetime, user: User) -> str:
    minutes = int((end - start).total_seconds() // 60)
    return f"{format_time(start, user)}, {minutes} min"


def _candidates(event: Event, user: User) -> list[str]:
    return [
        f"  - {format_span(c.start, c.end, user)}"
        for c in CandidateSlot.objects.filter(event=event).order_by("start", "end", "id")
    ]


def event_invitation(
    *, event: Event, recipient: User, link: str, message: str, sender: object
) -> tuple[str, str]:
    """(subject, body) of the mail that carries a party's link."""
    sender_user = getattr(sender, "user", None) or event.organizer
    who = sender_user.name or sender_user.email
    lines = [
        f"{who} asks you to find a time for: {event.title}",
        "",
        "Candidate times:",
        *_candidates(event, recipient),
        "",
    ]
    if message:
        lines += ["Message:", message, ""]
    lines += [
        "Open this link to see the event, vote, or narrow the candidates:",
        link,
        "",
        "The link is personal: it lets whoever holds it act as you on this event only.",
    ]
    return f"Find a time: {event.title}", "\n".join(lines) + "\n"


def event_update(*, event: Event, recipient: User, kind: str) -> tuple[str, str]:
    """(subject, body) of the mail sent when an event is scheduled or cancelled."""
    if kind == Notification.Kind.EVENT_SCHEDULED:
        when = format_span(event.start, event.end, recipient)
        return (
            f"Scheduled: {event.title}",
            f"{event.title} is scheduled for {when}.\n\nThe attached .ics file adds it to "
            "your calendar.\n",
        )
    reason = f"\nReason: {event.cancel_reason}\n" if event.cancel_reason else ""
    return f"Cancelled: {event.title}", f"{event.title} was cancelled.\n{reason}"
