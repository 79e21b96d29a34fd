"""Plain-text bodies of the e-mails: times in the recipient's zone when known, else UTC,
always labelled with the zone."""

from datetime import datetime

from reservation.models import CandidateSlot, Event, Notification, Reservation, User
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


# Where an invitation's link goes. The stored body has this; the link (its secret) is put in
# only in the outgoing mail (services.mail), so neither the outbox nor the admin ever holds it.
LINK_PLACEHOLDER = "[personal link: added when this mail is sent]"


def _without_placeholder(text: str) -> str:
    """User text (a name, a title, a message) that cannot carry the placeholder, so the link
    goes exactly where `event_invitation` put it. Repeated: removing one may join another."""
    while LINK_PLACEHOLDER in text:
        text = text.replace(LINK_PLACEHOLDER, "")
    return text


def event_invitation(
    *, event: Event, recipient: User, message: str, sender: object
) -> tuple[str, str]:
    """(subject, body) of the mail that carries a party's link; the body has LINK_PLACEHOLDER
    where the link goes, once (see `with_link`)."""
    sender_user = getattr(sender, "user", None) or event.organizer
    who = _without_placeholder(sender_user.name or sender_user.email)
    lines = [
        f"{who} asks you to find a time for: {_without_placeholder(event.title)}",
        "",
        "Candidate times:",
        *_candidates(event, recipient),
        "",
    ]
    message = _without_placeholder(message)
    if message:
        lines += ["Message:", message, ""]
    lines += [
        "Open this link to see the event, vote, or narrow the candidates:",
        LINK_PLACEHOLDER,
        "",
        "The link is personal: it lets whoever holds it act as you on this event only.",
    ]
    return f"Find a time: {event.title}", "\n".join(lines) + "\n"


def with_link(body: str, link: str) -> str:
    """A body as mailed: each of its placeholders replaced by the link (an invitation has one,
    a scheduled event's mail one per answer link). User text cannot carry the placeholder
    (`_without_placeholder`), so every one of them was put there by this module."""
    if LINK_PLACEHOLDER not in body:
        raise ValueError("A mail with a link must have a link placeholder.")
    return body.replace(LINK_PLACEHOLDER, link)


def without_links(body: str) -> str:
    """A body whose link can no longer work (its token was revoked or expired): the lines
    with a placeholder dropped, so the rest (a calendar update) still goes out."""
    return "".join(line for line in body.splitlines(keepends=True) if LINK_PLACEHOLDER not in line)


# Answer links: the person's link with the answer; the page asks to confirm it (a POST), so a
# mail scanner that follows links answers nothing.
RSVP_CHOICES = (("Yes", "YES"), ("Maybe", "MAYBE"), ("No", "NO"))


def _answer_lines() -> list[str]:
    return [
        "Will you attend? Answer here (no account needed):",
        *(f"  {label + ':':<7}{LINK_PLACEHOLDER}&rsvp={value}" for label, value in RSVP_CHOICES),
        f"  Event page: {LINK_PLACEHOLDER}",
        "",
        "The links are personal: they let whoever holds them answer as you on this event only.",
        "Answering in your calendar app (Accept / Maybe / Decline) works too.",
    ]


def _repeats(event: Event) -> str:
    return " (repeating; the attached .ics has every date)" if event.recurrence else ""


def event_update(
    *,
    event: Event,
    recipient: User,
    kind: str,
    occurrence_start: datetime | None = None,
    with_links: bool = False,
) -> tuple[str, str]:
    """(subject, body) of the mail sent when an event, or one occurrence of it
    (`occurrence_start`, its original start), is scheduled, changed or cancelled; with answer
    links (placeholders, see `with_link`) when `with_links`."""
    title = _without_placeholder(event.title)
    if occurrence_start is not None:
        original = format_time(occurrence_start, recipient)
        if kind == Notification.Kind.EVENT_CANCELLED:
            return (
                f"Cancelled: {title}, {original}",
                f"The occurrence of {title} on {original} is cancelled; the others stay.\n\n"
                "The attached .ics file removes it from your calendar.\n",
            )
        moved = event.occurrence_changes.filter(original_start=occurrence_start).first()
        start, end = (
            (moved.start, moved.end)
            if moved is not None and not moved.cancelled
            else (occurrence_start, occurrence_start + (event.end - event.start))
        )
        lines = [
            f"The occurrence of {title} on {original} now takes place "
            f"{format_span(start, end, recipient)}.",
            "",
            "The attached .ics file updates your calendar.",
        ]
        if with_links:
            lines += ["", *_answer_lines()]
        return f"Moved: {title}, {original}", "\n".join(lines) + "\n"
    if kind == Notification.Kind.EVENT_SCHEDULED:
        when = format_span(event.start, event.end, recipient)
        lines = [
            f"{title} is scheduled for {when}{_repeats(event)}.",
            "",
            "The attached .ics file adds it to your calendar.",
        ]
        if with_links:
            lines += ["", *_answer_lines()]
        return f"Scheduled: {title}", "\n".join(lines) + "\n"
    reason = f"\nReason: {event.cancel_reason}\n" if event.cancel_reason else ""
    return f"Cancelled: {title}", f"{title} was cancelled.\n{reason}"


# --- reservations ---------------------------------------------------------------------------

# Where a booking mail's manage link goes (client's copy only); the link, a signed token, is
# put in only in the outgoing mail (services.manage_links.with_manage_link), like LINK_PLACEHOLDER.
MANAGE_PLACEHOLDER = "[manage link: added when this mail is sent]"
MANAGE_LINE = {
    "RESERVATION_CONFIRMED": "Cancel or move it, without signing in:",
    "RESERVATION_RESCHEDULED": "Cancel or move it, without signing in:",
    "RESERVATION_CANCELLED": "See it, or book another time:",
}


def _name(user: User) -> str:
    return user.name or user.email


def _other_side(reservation: Reservation, recipient: User) -> str:
    """The provider, for the client; the client, for the provider."""
    if recipient.pk == reservation.client.user_id:
        return str(reservation.provider)
    return _name(reservation.client.user)


def _by(reservation: Reservation, recipient: User, actor: User | None) -> str:
    """Who did it, as the recipient should read it; staff stay anonymous."""
    if actor is None:
        return "the system"
    if actor.pk == recipient.pk:
        return "you"
    if actor.pk == reservation.provider.user_id:
        return str(reservation.provider)
    if actor.pk == reservation.client.user_id:
        return _name(reservation.client.user)
    return "staff"


def reservation_update(
    *,
    reservation: Reservation,
    recipient: User,
    kind: str,
    by: User | None = None,
    previous: tuple[datetime, datetime] | None = None,
) -> tuple[str, str]:
    """(subject, body) of the mail to a reservation's client or provider about a change:
    confirmed, cancelled, moved (`previous` is the old (start, end)) or expired."""
    other = _other_side(reservation, recipient)
    span = format_span(reservation.start, reservation.end, recipient)
    when = format_time(reservation.start, recipient)
    noun = "booking" if reservation.confirmed_at is not None else "hold"
    Kind = Notification.Kind
    if kind == Kind.RESERVATION_CONFIRMED:
        subject = f"Booking confirmed: {other}, {when}"
        lines = [f"Your booking with {other} is confirmed:", f"  {span}"]
        calendar = "The attached .ics file adds it to your calendar."
    elif kind == Kind.RESERVATION_CANCELLED:
        subject = f"{noun.capitalize()} cancelled: {other}, {when}"
        lines = [
            f"Your {noun} with {other} was cancelled by {_by(reservation, recipient, by)}:",
            f"  {span}",
        ]
        if reservation.cancel_reason:
            lines += ["", f"Reason: {reservation.cancel_reason}"]
        calendar = "The attached .ics file removes it from your calendar."
    elif kind == Kind.RESERVATION_RESCHEDULED:
        if previous is None:
            raise ValueError("A moved reservation's mail needs its previous time.")
        subject = f"{noun.capitalize()} moved: {other}, {when}"
        lines = [
            f"Your {noun} with {other} was moved by {_by(reservation, recipient, by)}:",
            f"  from {format_span(*previous, recipient)}",
            f"  to   {span}",
        ]
        if reservation.expires_at is not None:
            lines += [
                "",
                f"It is not confirmed yet: confirm it before "
                f"{format_time(reservation.expires_at, recipient)}.",
            ]
        calendar = "The attached .ics file updates your calendar."
    elif kind == Kind.RESERVATION_EXPIRED:
        subject = f"Hold expired: {other}, {when}"
        expired = format_time(reservation.expires_at, recipient) if reservation.expires_at else ""
        lines = [
            f"Your hold with {other} expired at {expired} before it was confirmed:",
            f"  {span}",
            "",
            "The time is free again; reserve it again if you still want it.",
        ]
        calendar = ""
    else:
        raise ValueError(f"Not a reservation notification: {kind}")
    # No link: the project serves no reservation page; apps find it by this number.
    lines += ["", f"Reference: reservation #{reservation.pk}"]
    if calendar and noun == "booking":
        lines += ["", calendar]
    if kind in MANAGE_LINE and recipient.pk == reservation.client.user_id:
        lines += ["", MANAGE_LINE[kind], MANAGE_PLACEHOLDER]
    return subject, "\n".join(lines) + "\n"
