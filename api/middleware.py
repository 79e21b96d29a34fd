"""Who is asking: a Bearer token or the session, never a mix of the two."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from api.errors import DATABASE_UNAVAILABLE_ERRORS
from api.views import database_unavailable_response
from reservation.actors import ANONYMOUS, Actor
from reservation.services.accounts import api_token_authenticate
from reservation.services.events import ACCESS_TOKEN_PREFIX, access_token_authenticate

logger = logging.getLogger("api.errors")


def bearer_secret(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return secret.strip()


def bearer_actor(secret: str) -> Actor:
    """Who a Bearer secret stands for: a personal API token's user, or an event link's holder
    (limited to that event); ANONYMOUS when it is unknown, revoked or expired."""
    if secret.startswith(ACCESS_TOKEN_PREFIX):
        link = access_token_authenticate(secret=secret)
        return Actor(user=link.user, access_token=link) if link else ANONYMOUS
    token = api_token_authenticate(secret=secret) if secret else None
    return Actor(user=token.user, api_token=token) if token else ANONYMOUS


def carries_ambient_credentials(request: HttpRequest) -> bool:
    """Whether the request carries the session cookie: the only credential a browser attaches
    on its own, and so the only one a forged cross-site request could ride."""
    return settings.SESSION_COOKIE_NAME in request.COOKIES


class BearerTokenMiddleware:
    """Which POSTs to /graphql need the CSRF token. Runs before CsrfViewMiddleware.

    - With `Authorization: Bearer` the check is skipped (a browser never sends that header on
      its own), and so the request is authenticated by the token alone: the session cookie is
      ignored for it (ActorMiddleware).
    - Without the session cookie the check is skipped too: such a request can act as nobody
      but the token it carries (or as nobody), so there is nothing to forge. Anonymous
      queries, introspection and `login` work from any HTTP client. A cross-site page still
      cannot sign a browser in behind its back: the view accepts only application/json,
      which a browser sends cross-site only after a CORS preflight that is refused.
    - With the session cookie (a signed-in browser) the token is required, as Django does.
    Only the GraphQL endpoint: the admin and the event-link pages keep Django's check."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.graphql_path = reverse("graphql")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        secret = bearer_secret(request)
        if secret is not None:
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
            request.bearer_secret = secret  # type: ignore[attr-defined]
        elif request.path_info == self.graphql_path and not carries_ambient_credentials(request):
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)


class ActorMiddleware:
    """Sets `request.actor` (after AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        secret = getattr(request, "bearer_secret", None)
        try:  # the first query of a request: where a database outage shows first
            if secret is not None:
                request.user = AnonymousUser()
                request.actor = bearer_actor(secret)  # type: ignore[attr-defined]
                request.bearer_invalid = request.actor is ANONYMOUS  # type: ignore[attr-defined]
            elif request.user.is_authenticated:
                request.actor = Actor(user=request.user)  # type: ignore[attr-defined]
            else:
                request.actor = ANONYMOUS  # type: ignore[attr-defined]
        except DATABASE_UNAVAILABLE_ERRORS as exc:
            logger.warning("database unavailable: %r", exc)
            return database_unavailable_response()
        return self.get_response(request)
