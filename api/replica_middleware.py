"""Read-your-writes across requests: see reservation.dbrouting."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from reservation import dbrouting


def _credentials(request: HttpRequest) -> list[str | None]:
    """What identifies the client before any authentication has run: its bearer token (API
    token or e-mailed link secret), its session cookie, a link page's `token`."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return [
        f"bearer:{secret.strip()}" if scheme.lower() == "bearer" and secret.strip() else None,
        f"session:{request.COOKIES.get(settings.SESSION_COOKIE_NAME, '')}"
        if request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        else None,
        f"link:{request.GET.get('token', '')}" if request.GET.get("token") else None,
    ]


class ReadYourWritesMiddleware:
    """Each request starts with no write behind it (so its reads may use a replica) unless
    its client wrote within READ_YOUR_WRITES_SECONDS; a request that writes pins its client
    (and a session it was given, as at login) to the primary for that long. Nothing is left
    behind for the next request served by this thread. Placed near the top of MIDDLEWARE so
    that writes made by the middleware below it (sessions) count too. Without replicas it
    does nothing but reset the flag."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not dbrouting.replica_aliases():
            with dbrouting.request_scope():
                return self.get_response(request)
        keys = dbrouting.client_keys(*_credentials(request))
        with dbrouting.request_scope():
            if dbrouting.is_pinned(keys):
                dbrouting.mark_written()
            response = self.get_response(request)
            if dbrouting.has_written():
                session = getattr(request, "session", None)
                new_session = getattr(session, "session_key", None)
                if new_session:
                    keys += dbrouting.client_keys(f"session:{new_session}")
                dbrouting.pin_to_primary(keys)
            return response
