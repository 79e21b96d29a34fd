"""Who is asking: a Bearer token or the session, never a mix of the two."""

import logging
from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse

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


class BearerTokenMiddleware:
    """Requests that carry `Authorization: Bearer` skip the CSRF check (a browser never sends
    that header on its own), and so they are authenticated by the token alone: the session
    cookie is ignored for them. Runs before CsrfViewMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        secret = bearer_secret(request)
        if secret is not None:
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
            request.bearer_secret = secret  # type: ignore[attr-defined]
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
