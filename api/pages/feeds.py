"""Calendar files over plain HTTP: a person's subscribed feed, /calendar/<secret>.ics (the
secret is the only credential: calendar apps send no cookies or headers), and one event's
export, /events/<id>.ics, for the people on it signed in by session or Bearer token.

Anything that cannot be served (unknown or revoked secret, an event the reader is not on,
no time yet) is a bare 404 with no body, the same for every case, so nothing can be probed.
Responses are never cached by shared caches (`private, no-store`) and send no Referer on.
"""

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from reservation.actors import ANONYMOUS, Actor, utcnow
from reservation.ical import calendar_feed, event_export
from reservation.selectors.feeds import event_for_export
from reservation.services.feeds import calendar_feed_authenticate

CONTENT_TYPE = "text/calendar; charset=utf-8"


def _secured(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)  # max-age=0, no-cache, no-store, must-revalidate, private
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _not_found() -> HttpResponse:
    return _secured(HttpResponse(b"", status=404, content_type="text/plain; charset=utf-8"))


def _ics(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return _secured(response)


@require_safe
def calendar_feed_file(request: HttpRequest, secret: str) -> HttpResponse:
    """GET a feed by its secret: the owner's events and bookings, or a bare 404."""
    feed = calendar_feed_authenticate(secret=secret)
    if feed is None:
        return _not_found()
    return _ics(calendar_feed(user=feed.user, now=utcnow()), "rendezvous.ics")


@require_safe
def event_file(request: HttpRequest, event_id: int) -> HttpResponse:
    """GET one event as .ics, for its organizer and parties; a bare 404 for anyone else."""
    actor: Actor = getattr(request, "actor", ANONYMOUS)
    if not actor.is_authenticated or actor.user is None:
        return _not_found()
    event = event_for_export(user=actor.user, event_id=event_id)
    if event is None:
        return _not_found()
    return _ics(event_export(event=event), f"event-{event.pk}.ics")
