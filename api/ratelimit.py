"""Rate limits on the abusable operations: moving windows (a sliding log) kept by the
maintained `limits` library, in Redis when REDIS_URL is set, so that every worker and host
shares them.

A thin API-layer concern: each limited resolver or view is decorated, the counts are keyed
per operation and per who is asking (API token, link or user; else the client's IP), and an
operation over its limit is refused before it does anything (a login over the limit does not
even check the password). Limits are settings (`RATE_LIMITS`, `10/m`).

A moving window counts the requests of the last `window` seconds at every moment, so no
burst fits across a boundary (a fixed one-minute window let through twice the limit in two
seconds around the minute). `Retry-After` is when the oldest counted request leaves the
window: the moment one more would be allowed.
"""

import functools
import hashlib
import inspect
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from limits import RateLimitItemPerSecond
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

RATE_LIMITED = "RATE_LIMITED"
logger = logging.getLogger("api.ratelimit")

Scope = Literal["ip", "actor", "email"]
F = TypeVar("F", bound=Callable[..., Any])


def clock() -> float:
    """Seconds since the epoch, as the limiter's storage sees them; tests replace both."""
    return time.time()


class RateLimited(ValidationError):
    """Too many requests of this kind: nothing was done. Code RATE_LIMITED.

    A ValidationError, so a mutation answers it as OperationInfo and a query as an error,
    both with the code, like every other refusal."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many requests; try again in {retry_after} seconds.", code=RATE_LIMITED
        )
        self.retry_after = retry_after


_lock = threading.Lock()
_limiter: tuple[str, MovingWindowRateLimiter] | None = None


def storage_url() -> str:
    """Where the counts live: RATE_LIMIT_STORAGE_URL, else REDIS_URL, else this process."""
    return settings.RATE_LIMIT_STORAGE_URL or settings.REDIS_URL or "memory://"


def limiter() -> MovingWindowRateLimiter:
    """The process's limiter on the configured storage (made again if the setting changed)."""
    global _limiter  # one per process, like a connection pool
    url = storage_url()
    with _lock:
        if _limiter is None or _limiter[0] != url:
            storage: Storage = storage_from_string(url, key_prefix="rdv-rl")
            _limiter = (url, MovingWindowRateLimiter(storage))
        return _limiter[1]


def reset() -> None:
    """Forget every count (tests; `manage.py shell` after a false alarm)."""
    limiter().storage.reset()


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address
    the outermost trusted proxy saw (X-Forwarded-For, counted from the right: entries further
    left come from the client and may be forged)."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def actor_key(request: HttpRequest) -> str:
    """Who is asking, for counting: the API token, the event link, the user; else the IP."""
    actor = getattr(request, "actor", None)
    if actor is not None:
        if getattr(actor, "api_token", None) is not None:
            return f"token:{actor.api_token.pk}"
        if getattr(actor, "access_token", None) is not None:
            return f"link:{actor.access_token.pk}"
        user = getattr(actor, "user", None)
        if user is not None and user.pk is not None:
            return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def hit(name: str, keys: Iterable[str]) -> int | None:
    """Count one request of `name` for each key; the seconds until one more would be allowed
    when any key is over its limit (the request must be refused), else None."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    limit, window = settings.RATE_LIMITS[name]
    item = RateLimitItemPerSecond(limit, window)
    retry_after = None
    try:
        rate_limiter = limiter()
        for key in keys:
            # Hashed: keys may hold an e-mail address (any characters, any length).
            digest = hashlib.sha256(key.encode()).hexdigest()[:32]
            if not rate_limiter.hit(item, name, digest):
                reset_at = rate_limiter.get_window_stats(item, name, digest).reset_time
                wait = max(1, math.ceil(reset_at - clock()))
                retry_after = max(retry_after or 0, min(wait, window))
    except (RedisError, OSError) as exc:
        # Redis away: serve (fail open) rather than refuse every login; say so loudly.
        logger.warning("rate limit %s not checked, storage unavailable: %r", name, exc)
        return None
    return retry_after


def _keys(request: HttpRequest, scopes: Iterable[Scope], arguments: dict[str, Any]) -> list[str]:
    keys = []
    for scope in scopes:
        if scope == "ip":
            keys.append(f"ip:{client_ip(request)}")
        elif scope == "actor":
            keys.append(actor_key(request))
        elif scope == "email":
            email = str(arguments.get("email") or "").strip().lower()
            if email:
                keys.append(f"email:{email}")
    return keys


def rate_limited(name: str, *, by: Iterable[Scope]) -> Callable[[F], F]:
    """Decorate a GraphQL resolver (with an `info` argument, under `@strawberry_django.mutation`):
    over the limit `name` (settings.RATE_LIMITS), it raises RateLimited instead of running."""
    scopes = tuple(by)

    def decorate(resolver: F) -> F:
        signature = inspect.signature(resolver)

        @functools.wraps(resolver)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind_partial(*args, **kwargs).arguments
            request = arguments["info"].context.request
            retry_after = hit(name, _keys(request, scopes, arguments))
            if retry_after is not None:
                response = getattr(arguments["info"].context, "response", None)
                if response is not None:
                    response["Retry-After"] = str(retry_after)
                raise RateLimited(retry_after)
            return resolver(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


RATE_LIMITED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Too many requests</title></head>
<body><h1>Too many requests</h1>
<p>This page was opened too often from your address. Nothing was changed; please try again
in a minute.</p></body></html>
"""


def rate_limited_view(name: str, *, by: Iterable[Scope]) -> Callable[[F], F]:
    """Decorate a Django view: over the limit it answers HTTP 429 (an HTML page)."""
    scopes = tuple(by)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            retry_after = hit(name, _keys(request, scopes, kwargs))
            if retry_after is not None:
                response = HttpResponse(RATE_LIMITED_PAGE, status=429)
                response["Retry-After"] = str(retry_after)
                response["Cache-Control"] = "no-store"
                return response
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
