"""The page behind an e-mailed event link, /e/<event_id>/?token=<secret>: the event, its
candidates in the reader's zone, the tallies, and forms to vote and to narrow; for a scheduled
event, the reader's answer and a form to give it (`&rsvp=YES|MAYBE|NO`, as the mail's answer
links carry, preselects one: the reader confirms with one button).

Plain HTML forms (no JavaScript) with POST-redirect-GET. Reads and writes go through the
services the API uses, with the Actor the API builds for that token, so the checks, error
codes and audit entries are the same. A reader signed in (by session) as the link's own
person acts as themselves instead, exactly as through the API.

Every response is `Cache-Control: no-store` and `Referrer-Policy: strict-origin`, so the
secret in the URL is neither stored by caches nor sent on in a Referer. Not `no-referrer`:
under that policy browsers send `Origin: null` with the page's own form POSTs, and Django's
CSRF check (which stays on) rejects every vote (Fetch standard, "append a request Origin
header"). `strict-origin` never sends a path or query either, and keeps the real Origin.
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from api.observability import set_link_token
from api.ratelimit import rate_limited_view
from reservation.actors import Actor
from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import EventAccessToken, EventStatus, Participant, Vote
from reservation.selectors.events import event_tallies, own_votes
from reservation.services.calendar import event_respond
from reservation.services.events import (
    access_token_authenticate,
    event_narrow,
    event_view,
    event_vote,
)
from reservation.timezones import zone

REFERRER_POLICY = "strict-origin"

# What a code means for someone looking at this page; the service's own message follows.
EXPLANATIONS = {
    ErrorCode.STALE_VERSION: "The candidates changed since you loaded the page; here is the "
    "current list.",
    ErrorCode.NOT_A_CANDIDATE: "Some of those times are no longer candidates; here is the "
    "current list.",
}
STATUS_OF = {
    ErrorCode.STALE_VERSION: 409,
    ErrorCode.NOT_A_CANDIDATE: 409,
    ErrorCode.EVENT_NOT_PROPOSED: 409,
    ErrorCode.EVENT_CANCELLED: 409,
    ErrorCode.EVENT_NOT_SCHEDULED: 409,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.UNAUTHENTICATED: 403,
    ErrorCode.NOT_FOUND: 404,
}
DONE = {
    "vote": "Your votes are saved.",
    "narrow": "The candidates were narrowed.",
    "respond": "Your answer is saved.",
}
ANSWERS = [(value, str(label)) for value, label in Vote.Answer.choices]
# A scheduled event's answers, as the mail's Yes / Maybe / No links name them.
RSVP_ANSWERS = [
    (Participant.Rsvp.YES.value, "Yes"),
    (Participant.Rsvp.MAYBE.value, "Maybe"),
    (Participant.Rsvp.NO.value, "No"),
]


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    checked: bool


@dataclass(frozen=True, slots=True)
class Row:
    """One candidate as the page shows it."""

    id: int
    when: str
    start_iso: str
    yes: int
    if_need_be: int
    no: int
    mine: str
    choices: list[Choice]


@dataclass(frozen=True, slots=True)
class PageError:
    code: str
    explanation: str
    message: str


def format_span(start: datetime, end: datetime, tz_name: str) -> str:
    """'Tue 08 Jan 2030, 10:00–11:00 (Europe/Berlin)', the zone always named."""
    tz = zone(tz_name)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    until = (
        f"{local_end:%H:%M}"
        if local_end.date() == local_start.date()
        else f"{local_end:%a %d %b %Y, %H:%M}"
    )
    return f"{local_start:%a %d %b %Y, %H:%M}–{until} ({tz_name})"


def _secured(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)  # includes no-store
    response["Referrer-Policy"] = REFERRER_POLICY
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _link_invalid(request: HttpRequest, *, status: int = 403) -> HttpResponse:
    return _secured(render(request, "pages/link_invalid.html", status=status))


def _actor(request: HttpRequest, token: EventAccessToken) -> Actor:
    """The link's person, as the API sees a Bearer link token; or, when the reader is signed
    in by session as that same person, themselves."""
    signed_in: Actor | None = getattr(request, "actor", None)
    if (
        signed_in is not None
        and signed_in.is_authenticated
        and signed_in.user is not None
        and signed_in.user.pk == token.user_id
    ):
        return signed_in
    return Actor(user=token.user, access_token=token)


def _page_url(event_id: int, secret: str, **extra: str) -> str:
    query = urlencode({"token": secret, **extra})
    return f"{reverse('event_page', args=[event_id])}?{query}"


def _error(exc: DomainError | AccessDenied | NotFound) -> PageError:
    code = exc.error_code
    message = " ".join(exc.messages) if isinstance(exc, DomainError) else str(exc)
    return PageError(code=code.value, explanation=EXPLANATIONS.get(code, ""), message=message)


def _render_event(
    request: HttpRequest,
    *,
    actor: Actor,
    event_id: int,
    secret: str,
    error: PageError | None = None,
    status: int = 200,
) -> HttpResponse:
    try:
        event = event_view(actor=actor, event_id=event_id)
    except (DomainError, AccessDenied, NotFound):
        return _link_invalid(request, status=404)
    viewer = actor.user
    assert viewer is not None
    tz_name = viewer.time_zone or "UTC"
    mine = own_votes(event=event, user=viewer)
    labels = dict(ANSWERS)
    rows = [
        Row(
            id=t.candidate.pk,
            when=format_span(t.candidate.start, t.candidate.end, tz_name),
            start_iso=t.candidate.start.isoformat(),
            yes=t.yes,
            if_need_be=t.if_need_be,
            no=t.no,
            mine=labels.get(mine.get(t.candidate.pk, ""), ""),
            choices=[
                Choice(value, label, mine.get(t.candidate.pk) == value) for value, label in ANSWERS
            ],
        )
        for t in event_tallies(event=event)
    ]
    agreed = (
        format_span(event.start, event.end, tz_name)
        if event.start is not None and event.end is not None
        else ""
    )
    done = DONE.get(request.GET.get("done", "")) if error is None else None
    me = event.participants.filter(user=viewer).first()
    current = me.rsvp if me is not None else ""
    # A mail's answer link preselects its answer; the reader confirms it with the button (a
    # POST), so a link scanner that follows every link answers nothing.
    wanted = request.GET.get("rsvp", "")
    preselect = wanted if wanted in dict(RSVP_ANSWERS) else current
    can_answer = (
        event.status == EventStatus.SCHEDULED
        and me is not None
        and me.role == Participant.Role.PARTY
    )
    context = {
        "event": event,
        "organizer": event.organizer.name or event.organizer.email,
        "viewer": viewer.name or viewer.email,
        "signed_in": actor.access_token is None,
        "zone": tz_name,
        "rows": rows,
        "agreed": agreed,
        "can_act": event.status == EventStatus.PROPOSED and bool(rows),
        "proposed": event.status == EventStatus.PROPOSED,
        "can_answer": can_answer,
        "answer": dict(Participant.Rsvp.choices).get(current, ""),
        "answer_choices": [
            Choice(value, label, value == preselect) for value, label in RSVP_ANSWERS
        ],
        "confirming": wanted in dict(RSVP_ANSWERS) and wanted != current and error is None,
        "repeats": bool(event.recurrence or event.extra_starts),
        "action_url": _page_url(event_id, secret),
        "error": error,
        "done": done,
    }
    return _secured(render(request, "pages/event.html", context, status=status))


def _ids(values: list[str], *, field: str) -> list[int]:
    try:
        return [int(value) for value in values]
    except ValueError as exc:
        raise DomainError(ErrorCode.INVALID_INPUT, "Not a candidate ID.", field=field) from exc


def _submit(actor: Actor, event_id: int, data: QueryDict) -> str:
    """Run the form's action through its service; returns the action's name."""
    action = data.get("action", "")
    if action == "vote":
        prefix = "vote-"
        keys = [key for key in data if key.startswith(prefix)]
        slot_ids = _ids([key.removeprefix(prefix) for key in keys], field="votes")
        event_vote(
            actor=actor,
            event_id=event_id,
            votes=[(slot_id, data[key]) for slot_id, key in zip(slot_ids, keys, strict=True)],
        )
    elif action == "respond":
        event_respond(actor=actor, event_id=event_id, decision=data.get("decision", ""))
    elif action == "narrow":
        [version] = _ids([data.get("expected_version", "")], field="expectedVersion")
        event_narrow(
            actor=actor,
            event_id=event_id,
            keep_slot_ids=_ids(data.getlist("keep"), field="keepSlotIds"),
            expected_version=version,
        )
    else:
        raise DomainError(ErrorCode.INVALID_INPUT, "Unknown action.", field="action")
    return action


@require_http_methods(["GET", "POST"])
@rate_limited_view("event_page", by=["ip"])
def event_page(request: HttpRequest, event_id: int) -> HttpResponse:
    """GET shows the event to the link's holder (audited, as through the API); POST votes or
    narrows and redirects back, or shows the error with its code and the current state."""
    secret = request.GET.get("token", "")
    token = access_token_authenticate(secret=secret) if secret else None
    if token is None or token.event_id != event_id:
        return _link_invalid(request)
    set_link_token(token_id=token.pk)  # on this request's log lines
    actor = _actor(request, token)
    if request.method == "GET":
        return _render_event(request, actor=actor, event_id=event_id, secret=secret)
    try:
        action = _submit(actor, event_id, request.POST)
    except (DomainError, AccessDenied, NotFound) as exc:
        error = _error(exc)
        status = STATUS_OF.get(exc.error_code, 400)
        return _render_event(
            request, actor=actor, event_id=event_id, secret=secret, error=error, status=status
        )
    return _secured(HttpResponseSeeOther(_page_url(event_id, secret, done=action)))
