"""Booking pages for clients (seed 002): sign in, see a coach's free times a week at a time,
book (one step), list, move and cancel appointments — plain HTML forms that work in Lynx and
w3m, with JavaScript off, from the keyboard.

Thin like the GraphQL resolvers: who is asking → one selector or service call → render.
Every rule lives in reservation/ and is the API's rule too: slots come from `available_slots`
(through `week_slots`), bookings from `reservation_create` + `reservation_confirm`, moves
from `reservation_reschedule` (atomic: the old time is kept if the new one is gone), cancels
from `reservation_cancel`, series from `reservation_series_create`. URLs carry providers'
public slugs and reservations' public references, never database IDs.

Forms POST and redirect (303) to a GET; a refused action re-renders the page with the error
in plain words and the form as it was sent. CSRF is on for every form.
"""

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import available_timezones

from django.contrib import auth
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from api.ratelimit import rate_limited_view
from reservation.actors import Actor, utcnow
from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import Provider, Reservation, User
from reservation.selectors import coaching as coaching_selectors
from reservation.services import coaching as coaching_services
from reservation.services.manage_links import (
    manage_actor,
    manage_link_used,
    manage_token_read,
    reservation_id_of,
    reservation_ref,
)
from reservation.services.reservations import (
    reservation_cancel,
    reservation_confirm,
    reservation_create,
    reservation_reschedule,
)
from reservation.services.series import (
    MAX_EVERY_WEEKS,
    reservation_series_cancel,
    reservation_series_create,
)
from reservation.timezones import is_time_zone, zone

Refused = DomainError | AccessDenied | NotFound

# What each refusal means, said to a person. The service's own sentence follows it.
PLAIN = {
    ErrorCode.SLOT_UNAVAILABLE: "Sorry, that time is not free any more (someone may have just "
    "booked it). The times below are the ones still free; please choose another.",
    ErrorCode.NOTICE_TOO_SHORT: "That time is too soon to book; please choose a later one.",
    ErrorCode.BEYOND_HORIZON: "That time is too far ahead to book yet.",
    ErrorCode.HOLD_LIMIT_REACHED: "You have too many bookings in progress at once.",
    ErrorCode.HOLD_EXPIRED: "The time was not kept for you long enough; please book it again.",
    ErrorCode.CLIENT_NOT_ASSIGNED: "This coach takes bookings only from their own clients. "
    "If you should be one of them, ask your coach or our staff to add you.",
    ErrorCode.RESERVATION_NOT_ACTIVE: "This appointment cannot be changed any more: it is "
    "cancelled, or already over.",
    ErrorCode.SERIES_INCOMPLETE: "Not every one of the repeated times is free, so nothing was "
    "booked. Choose another time, or allow booking only the free ones.",
    ErrorCode.PERMISSION_DENIED: "Your account cannot do that here: only clients book "
    "appointments.",
    ErrorCode.UNAUTHENTICATED: "Please sign in first.",
    ErrorCode.NOT_FOUND: "We could not find that.",
    ErrorCode.INVALID_TIME_ZONE: "Please choose a time zone from the list.",
    ErrorCode.INVALID_INPUT: "Something in the form was not right.",
    ErrorCode.NAIVE_DATETIME: "Something in the form was not right.",
}
STATUS_OF = {
    ErrorCode.SLOT_UNAVAILABLE: 409,
    ErrorCode.SERIES_INCOMPLETE: 409,
    ErrorCode.RESERVATION_NOT_ACTIVE: 409,
    ErrorCode.HOLD_EXPIRED: 409,
    ErrorCode.CLIENT_NOT_ASSIGNED: 403,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.UNAUTHENTICATED: 403,
    ErrorCode.NOT_FOUND: 404,
}
STATUS_WORDS = {
    "HELD": "Not confirmed yet",
    "CONFIRMED": "Booked",
    "CANCELLED": "Cancelled",
    "EXPIRED": "Lapsed (never confirmed)",
}
REPEAT_CHOICES = [(0, "Just once")] + [
    (n, "Every week" if n == 1 else f"Every {n} weeks") for n in range(1, 5)
]
TIMES_CHOICES = list(range(2, 13))


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


@dataclass(frozen=True, slots=True)
class PageError:
    code: str
    plain: str
    detail: str


@dataclass(frozen=True, slots=True)
class Repeat:
    """The series options of the coach page ("just once" when every == 0)."""

    every: int = 0
    times: int = 4
    free_only: bool = False

    @property
    def on(self) -> bool:
        return self.every > 0

    def query(self) -> dict[str, str]:
        if not self.on:
            return {}
        return {
            "every": str(self.every),
            "times": str(self.times),
            "mode": "free" if self.free_only else "all",
        }

    def summary(self) -> str:
        how = "every week" if self.every == 1 else f"every {self.every} weeks"
        rule = (
            "If some of them are not free, the free ones are booked and you are told which "
            "were not."
            if self.free_only
            else "If any of them is not free, none is booked."
        )
        return f"Each time below books {self.times} appointments, {how}, starting then. {rule}"


# --- small helpers ---------------------------------------------------------------------------


def _secured(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "strict-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _viewer(request: HttpRequest) -> User | None:
    actor: Actor | None = getattr(request, "actor", None)
    if actor is not None and actor.is_authenticated and actor.access_token is None:
        return actor.user
    return None


def _zone_name(request: HttpRequest, user: User | None) -> str:
    if user is not None:
        return user.time_zone or "UTC"
    return request.session.get("booking_time_zone", "UTC")


def _error(exc: Refused) -> PageError:
    code = exc.error_code
    detail = " ".join(exc.messages) if isinstance(exc, DomainError) else str(exc)
    return PageError(code=code.value, plain=PLAIN.get(code, "That did not work."), detail=detail)


def _status(exc: Refused) -> int:
    return STATUS_OF.get(exc.error_code, 400)


def _parse_start(value: str) -> datetime:
    try:
        start = datetime.fromisoformat(value)
    except ValueError as exc:
        raise DomainError(ErrorCode.INVALID_INPUT, "No time was chosen.", field="start") from exc
    if start.tzinfo is None:
        raise DomainError(ErrorCode.NAIVE_DATETIME, "The time has no zone.", field="start")
    return start


def _parse_repeat(data: dict[str, str] | object) -> Repeat:
    """The series options from a query or form; out-of-range values are refused, not
    guessed."""
    get = data.get  # type: ignore[attr-defined]
    every_raw, times_raw = get("every", "0") or "0", get("times", "4") or "4"
    if not (every_raw.isdigit() and times_raw.isdigit()):
        raise DomainError(ErrorCode.INVALID_INPUT, "Choose the repeat options from the lists.")
    every, times = int(every_raw), int(times_raw)
    if every > MAX_EVERY_WEEKS or (every and times not in TIMES_CHOICES):
        raise DomainError(ErrorCode.INVALID_INPUT, "Choose the repeat options from the lists.")
    return Repeat(every=every, times=times, free_only=get("mode", "all") == "free")


@functools.cache
def _zone_options(selected: str) -> SafeString:
    """The time-zone form's <option>s, every IANA zone sorted, `selected` marked: built once
    per zone (about 600 options; a template loop over them cost more than the week itself)."""
    return mark_safe(  # noqa: S308 - zone names are IANA identifiers, escaped anyway
        "\n".join(
            f"<option{' selected' if name == selected else ''}>{escape(name)}</option>"
            for name in sorted(available_timezones())
        )
    )


def _fmt_when(start: datetime, tz_name: str) -> str:
    local = start.astimezone(zone(tz_name))
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"


def _fmt_day(value: date) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def _fmt_span(start: datetime, end: datetime, tz_name: str) -> str:
    tz = zone(tz_name)
    s, e = start.astimezone(tz), end.astimezone(tz)
    return f"{s:%a} {s.day} {s:%b %Y}, {s:%H:%M}–{e:%H:%M}"


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _sign_in_redirect(request: HttpRequest) -> HttpResponse:
    query = urlencode({"next": request.get_full_path()})
    return _secured(HttpResponseSeeOther(f"{reverse('booking_sign_in')}?{query}"))


FLASH_KEY = "booking_flash"


def _flash(request: HttpRequest, text: str, *, error: bool = False) -> None:
    """A one-time notice for the next page, kept in the session. (Not django.contrib.messages:
    its cookie is set HttpOnly and deleted without the flag, and curl and Lynx then keep it,
    showing the notice forever.)"""
    notices = request.session.get(FLASH_KEY, [])
    notices.append({"text": text, "error": error})
    request.session[FLASH_KEY] = notices


def _base_context(request: HttpRequest, user: User | None, *, title: str) -> dict[str, object]:
    tz_name = _zone_name(request, user)
    return {
        "title": title,
        "viewer": user,
        "viewer_name": (user.name or user.email) if user is not None else "",
        "zone": tz_name,
        "zone_options": _zone_options(tz_name),
        "here": request.get_full_path(),
        "notices": request.session.pop(FLASH_KEY, []) if hasattr(request, "session") else [],
    }


# --- sign in, sign out, time zone ------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@rate_limited_view("login", by=["ip"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """The account's e-mail address and password; then back where the person was going."""
    email = ""
    error = None
    status = 200
    if request.method == "POST":
        email = request.POST.get("email", "").strip().lower()
        user = auth.authenticate(request, username=email, password=request.POST.get("password"))
        if user is not None:
            auth.login(request, user)
            return _secured(HttpResponseSeeOther(_safe_next(request, reverse("booking_home"))))
        error = PageError(
            code=ErrorCode.INVALID_CREDENTIALS.value,
            plain="That e-mail address and password do not match an account.",
            detail="Check both and try again.",
        )
        status = 400
    context = _base_context(request, _viewer(request), title="Sign in")
    context |= {"email": email, "error": error, "next": _safe_next(request, "")}
    return _secured(render(request, "pages/booking/sign_in.html", context, status=status))


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    auth.logout(request)
    _flash(request, "You are signed out.")
    return _secured(HttpResponseSeeOther(reverse("booking_sign_in")))


@require_POST
def time_zone(request: HttpRequest) -> HttpResponse:
    """Change the zone times are shown in: the account's own zone when signed in (through
    the service), else this browser session's."""
    name = request.POST.get("time_zone", "")
    user = _viewer(request)
    back = _safe_next(request, reverse("booking_home"))
    try:
        if user is not None:
            coaching_services.user_time_zone_set(actor=Actor(user=user), time_zone=name)
        else:  # no account to store it on: this browser session only
            if not is_time_zone(name):
                raise DomainError(ErrorCode.INVALID_TIME_ZONE, f"{name!r} is not a time zone.")
            request.session["booking_time_zone"] = name
    except DomainError as exc:
        _flash(request, error=True, text=f"{_error(exc).plain} {_error(exc).detail}")
        return _secured(HttpResponseSeeOther(back))
    _flash(request, f"Times are now shown in {name}.")
    return _secured(HttpResponseSeeOther(back))


# --- coaches ---------------------------------------------------------------------------------


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Signed-in clients with exactly one coach go straight to that coach's page; everyone
    else picks from the coaches they may book."""
    user = _viewer(request)
    if user is None:
        return _sign_in_redirect(request)
    providers = list(coaching_selectors.providers_bookable_by(user=user))
    coaches = [p for p in providers if p.is_coach]
    if len(coaches) == 1 and not request.GET.get("all"):
        return _secured(
            HttpResponseSeeOther(reverse("booking_coach", kwargs={"slug": coaches[0].slug}))
        )
    context = _base_context(request, user, title="Choose a coach")
    context |= {"coaches": coaches, "others": [p for p in providers if not p.is_coach]}
    return _secured(render(request, "pages/booking/home.html", context))


def _week_param(request: HttpRequest, tz_name: str, *, default: date) -> date:
    raw = request.GET.get("week", "")
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "The week in the address is not a date.", field="week"
        ) from exc


@dataclass(frozen=True, slots=True)
class Day:
    heading: str
    anchor: str
    slots: list[dict[str, str]]


def _week_context(
    *,
    provider: Provider,
    user: User,
    tz_name: str,
    day: date,
    now: datetime,
    base_url: str,
    extra_query: dict[str, str],
) -> dict[str, object]:
    """A week of free slots (Monday first, in the viewer's zone) and its navigation."""
    week = coaching_selectors.week_of(day=day, tz_name=tz_name)
    found = coaching_selectors.week_slots(provider=provider, user=user, week=week, now=now)
    tz = zone(tz_name)
    by_day: dict[date, list[dict[str, str]]] = {}
    for start, end in found.slots:
        local = start.astimezone(tz)
        by_day.setdefault(local.date(), []).append(
            {
                "start": start.isoformat(),
                "label": f"{local:%H:%M}–{end.astimezone(tz):%H:%M}",
                "context": f"{local:%a} {local.day} {local:%b}",
            }
        )
    days = []
    for offset in range(7):
        current = week.monday + timedelta(days=offset)
        days.append(
            Day(
                heading=_fmt_day(current),
                anchor=f"day-{current.isoformat()}",
                slots=by_day.get(current, []),
            )
        )

    def link(monday: date) -> str:
        return f"{base_url}?{urlencode({'week': monday.isoformat(), **extra_query})}"

    previous, following = week.monday - timedelta(days=7), week.monday + timedelta(days=7)
    last = week.monday + timedelta(days=6)
    return {
        "week_label": f"{week.monday.day} {week.monday:%b} – {last.day} {last:%b %Y}",
        "week_value": week.monday.isoformat(),
        "days": days,
        "slot_count": len(found.slots),
        "previous_url": link(previous) if found.has_previous else "",
        "next_url": link(following) if found.has_next else "",
        "previous_label": f"Previous week ({previous.day} {previous:%b})",
        "next_label": f"Next week ({following.day} {following:%b})",
        "slot_minutes": found.policy.slot_length_minutes,
    }


def _coach_page(
    request: HttpRequest,
    *,
    user: User,
    provider: Provider,
    slug: str,
    day: date | None = None,
    repeat: Repeat | None = None,
    error: PageError | None = None,
    status: int = 0,
) -> HttpResponse:
    now = utcnow()
    tz_name = _zone_name(request, user)
    today = now.astimezone(zone(tz_name)).date()
    context = _base_context(request, user, title=f"Book with {provider}")
    try:
        repeat = repeat or _parse_repeat(request.GET)
        day = day or _week_param(request, tz_name, default=today)
        week = _week_context(
            provider=provider,
            user=user,
            tz_name=tz_name,
            day=day,
            now=now,
            base_url=reverse("booking_coach", kwargs={"slug": slug}),
            extra_query=repeat.query(),
        )
    except (DomainError, AccessDenied, NotFound) as exc:
        context |= {"provider": provider, "error": error or _error(exc), "blocked": True}
        return _secured(
            render(request, "pages/booking/coach.html", context, status=status or _status(exc))
        )
    context |= week | {
        "provider": provider,
        "slug": slug,
        "repeat": repeat,
        "repeat_choices": REPEAT_CHOICES,
        "times_choices": TIMES_CHOICES,
        "error": error,
        "book_url": reverse("booking_book", kwargs={"slug": slug}),
        "this_week_url": reverse("booking_coach", kwargs={"slug": slug}),
    }
    return _secured(render(request, "pages/booking/coach.html", context, status=status or 200))


def _provider_or_redirect(request: HttpRequest, slug: str) -> Provider | HttpResponse:
    try:
        found = coaching_selectors.provider_by_slug(slug=slug)
    except NotFound:
        context = _base_context(request, _viewer(request), title="No such coach")
        return _secured(render(request, "pages/booking/not_found.html", context, status=404))
    if not found.is_current:
        target = reverse(request.resolver_match.url_name, kwargs={"slug": found.current_slug})
        if request.META.get("QUERY_STRING"):
            target += "?" + request.META["QUERY_STRING"]
        response = HttpResponseRedirect(target)
        response.status_code = 301 if request.method in ("GET", "HEAD") else 308
        return _secured(response)
    return found.provider


@require_safe
def coach_week(request: HttpRequest, slug: str) -> HttpResponse:
    """A coach's free times, one week at a time (today's week first), each a button."""
    user = _viewer(request)
    if user is None:
        return _sign_in_redirect(request)
    provider = _provider_or_redirect(request, slug)
    if isinstance(provider, HttpResponse):
        return provider
    return _coach_page(request, user=user, provider=provider, slug=slug)


@require_POST
@rate_limited_view("reservation_create", by=["actor"])
def book(request: HttpRequest, slug: str) -> HttpResponse:
    """Book the chosen time in one step (hold, then confirm at once), or a series."""
    user = _viewer(request)
    if user is None:
        return _sign_in_redirect(request)
    provider = _provider_or_redirect(request, slug)
    if isinstance(provider, HttpResponse):
        return provider
    actor = Actor(user=user)
    tz_name = _zone_name(request, user)
    repeat = Repeat()
    start = None
    try:
        repeat = _parse_repeat(request.POST)
        start = _parse_start(request.POST.get("start", ""))
        if repeat.on:
            result = reservation_series_create(
                actor=actor,
                provider_id=provider.pk,
                start=start,
                every_weeks=repeat.every,
                count=repeat.times,
                all_or_nothing=not repeat.free_only,
            )
            booked = [o.reservation for o in result.booked if o.reservation is not None]
            lines = [
                f"Booked {len(booked)} of {repeat.times} appointments with {provider}: "
                + "; ".join(_fmt_span(r.start, r.end, tz_name) for r in booked)
                + "."
            ]
            for missed in result.missed:
                lines.append(
                    f"Not booked: {_fmt_when(missed.start, tz_name)} — "
                    f"{PLAIN.get(ErrorCode(missed.code), missed.message)}"
                )
            for line in lines:
                _flash(request, line)
        else:
            held = reservation_create(actor=actor, provider_id=provider.pk, start=start)
            done = reservation_confirm(actor=actor, reservation_id=held.pk)
            _flash(
                request,
                f"Booked: {_fmt_span(done.start, done.end, tz_name)} with {provider}. "
                "A confirmation is on its way by e-mail.",
            )
    except (DomainError, AccessDenied, NotFound) as exc:
        day = start.astimezone(zone(tz_name)).date() if start is not None else None
        return _coach_page(
            request,
            user=user,
            provider=provider,
            slug=slug,
            day=day,
            repeat=repeat,
            error=_error(exc),
            status=_status(exc),
        )
    return _secured(HttpResponseSeeOther(reverse("booking_appointments")))


# --- appointments ----------------------------------------------------------------------------


def _row(r: Reservation, tz_name: str, now: datetime) -> dict[str, object]:
    member = getattr(r, "series_member", None)
    return {
        "when": _fmt_span(r.start, r.end, tz_name),
        "start_iso": r.start.isoformat(),
        "coach": str(r.provider),
        "status": STATUS_WORDS.get(r.status, r.status),
        "reason": r.cancel_reason,
        "series": (
            f"{member.index + 1} of {member.series.count}, every "
            f"{'week' if member.series.every_weeks == 1 else f'{member.series.every_weeks} weeks'}"
            if member is not None
            else ""
        ),
        "url": reverse("booking_appointment", kwargs={"ref": reservation_ref(r.pk)}),
    }


@require_safe
def appointments(request: HttpRequest) -> HttpResponse:
    """Upcoming appointments first (soonest first), then past ones back to the policy's
    limit (newest first)."""
    user = _viewer(request)
    if user is None:
        return _sign_in_redirect(request)
    now = utcnow()
    tz_name = _zone_name(request, user)
    found = coaching_selectors.client_appointments(user=user, now=now)
    context = _base_context(request, user, title="My appointments")
    context |= {
        "upcoming": [_row(r, tz_name, now) for r in found.upcoming],
        "past": [_row(r, tz_name, now) for r in found.past],
    }
    return _secured(render(request, "pages/booking/appointments.html", context))


def _appointment_page(
    request: HttpRequest,
    *,
    actor: Actor,
    reservation: Reservation,
    action_url: str,
    via_link: bool,
    error: PageError | None = None,
    status: int = 200,
    reason: str = "",
    day: date | None = None,
) -> HttpResponse:
    now = utcnow()
    user = actor.user
    assert user is not None
    tz_name = _zone_name(request, None if via_link else user)
    if via_link and "booking_time_zone" not in request.session:
        tz_name = user.time_zone or "UTC"
    live = reservation.end > now and (
        reservation.status == "CONFIRMED"
        or (reservation.status == "HELD" and reservation.expires_at > now)
    )
    context = _base_context(request, None if via_link else user, title="Your appointment")
    context["zone"] = tz_name
    member = getattr(reservation, "series_member", None)
    context |= {
        "appointment": _row(reservation, tz_name, now),
        "live": live,
        "action_url": action_url,
        "via_link": via_link,
        "error": error,
        "reason": reason,
        "in_series": member is not None,
        "coach_slug": getattr(reservation, "provider_slug", ""),
    }
    if live:
        tz = zone(tz_name)
        default = max(reservation.start, now).astimezone(tz).date()
        try:
            chosen = day or _week_param(request, tz_name, default=default)
            context |= _week_context(
                provider=reservation.provider,
                user=reservation.client.user,
                tz_name=tz_name,
                day=chosen,
                now=now,
                base_url=action_url,
                extra_query={},
            )
        except (DomainError, AccessDenied, NotFound) as exc:
            context["move_error"] = _error(exc)
    return _secured(render(request, "pages/booking/appointment.html", context, status=status))


def _act_on(
    request: HttpRequest, *, actor: Actor, reservation: Reservation
) -> tuple[str, PageError | None, int, date | None]:
    """Run the posted action (cancel, cancel_series, move) through its service; returns
    (what was done, error, status, week to show)."""
    action = request.POST.get("action", "")
    tz_name = _zone_name(request, actor.user)
    try:
        if action == "cancel":
            reason = request.POST.get("reason", "")
            if request.POST.get("scope") == "series":
                done = reservation_series_cancel(
                    actor=actor, reservation_id=reservation.pk, reason=reason
                )
                _flash(request, f"Cancelled {len(done)} appointments of the series.")
                return "cancel_series", None, 200, None
            reservation_cancel(actor=actor, reservation_id=reservation.pk, reason=reason)
            _flash(
                request,
                f"Cancelled: {_fmt_span(reservation.start, reservation.end, tz_name)}.",
            )
            return "cancel", None, 200, None
        if action == "move":
            start = _parse_start(request.POST.get("start", ""))
            moved = reservation_reschedule(actor=actor, reservation_id=reservation.pk, start=start)
            _flash(
                request,
                f"Moved to {_fmt_span(moved.start, moved.end, tz_name)} "
                f"(it was {_fmt_span(reservation.start, reservation.end, tz_name)}).",
            )
            return "move", None, 200, None
        raise DomainError(ErrorCode.INVALID_INPUT, "Unknown action.", field="action")
    except (DomainError, AccessDenied, NotFound) as exc:
        day = None
        raw = request.POST.get("start", "")
        if action == "move" and raw:
            try:
                day = _parse_start(raw).astimezone(zone(tz_name)).date()
            except DomainError:
                day = None
        return action, _error(exc), _status(exc), day


@require_http_methods(["GET", "POST"])
def appointment(request: HttpRequest, ref: str) -> HttpResponse:
    """One of the signed-in client's appointments: move it to a free time, or cancel it."""
    user = _viewer(request)
    if user is None:
        return _sign_in_redirect(request)
    pk = reservation_id_of(ref)
    try:
        if pk is None:
            raise NotFound("No such appointment.")
        reservation = coaching_selectors.client_reservation(user=user, reservation_id=pk)
    except NotFound:
        context = _base_context(request, user, title="No such appointment")
        return _secured(render(request, "pages/booking/not_found.html", context, status=404))
    actor = Actor(user=user)
    url = reverse("booking_appointment", kwargs={"ref": ref})
    if request.method == "POST":
        _, error, status, day = _act_on(request, actor=actor, reservation=reservation)
        if error is None:
            return _secured(HttpResponseSeeOther(reverse("booking_appointments")))
        reservation = coaching_selectors.client_reservation(user=user, reservation_id=pk)
        return _appointment_page(
            request,
            actor=actor,
            reservation=reservation,
            action_url=url,
            via_link=False,
            error=error,
            status=status,
            reason=request.POST.get("reason", ""),
            day=day,
        )
    return _appointment_page(
        request, actor=actor, reservation=reservation, action_url=url, via_link=False
    )


@require_http_methods(["GET", "POST"])
@rate_limited_view("event_page", by=["ip"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    """The page a booking mail's manage link opens: the same as the signed-in one, acting as
    the client for this one appointment; every use is audited."""
    now = utcnow()
    found = manage_token_read(token=token, now=now)
    if found is None:
        context = _base_context(request, None, title="Link no longer valid")
        return _secured(render(request, "pages/booking/link_invalid.html", context, status=403))
    actor = manage_actor(found)
    url = reverse("booking_manage", kwargs={"token": token})
    reservation = coaching_selectors.client_reservation(user=actor.user, reservation_id=found.pk)
    if request.method == "POST":
        used, error, status, day = _act_on(request, actor=actor, reservation=reservation)
        if error is None:
            manage_link_used(reservation=reservation, use=used, now=now)
            return _secured(HttpResponseSeeOther(url))
        reservation = coaching_selectors.client_reservation(
            user=actor.user, reservation_id=found.pk
        )
        return _appointment_page(
            request,
            actor=actor,
            reservation=reservation,
            action_url=url,
            via_link=True,
            error=error,
            status=status,
            reason=request.POST.get("reason", ""),
            day=day,
        )
    manage_link_used(reservation=reservation, use="view", now=now)
    return _appointment_page(
        request, actor=actor, reservation=reservation, action_url=url, via_link=True
    )
