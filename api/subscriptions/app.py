"""The WebSocket endpoint: GraphQL subscriptions over graphql-transport-ws on /graphql, as an
ASGI application served by gunicorn with uvicorn's worker class (devops/gunicorn_ws.conf.py),
beside the sync HTTP workers. Strawberry speaks the protocol; this module adds who is asking
(the Bearer token in `connection_init`, or the session cookie of an allowed Origin), the
limits, and closing a connection whose token is revoked.

Close codes (besides the protocol's own 4400, 4401, 4408, 4409, 4429): 4403 `Forbidden` when
`connection_init` carries an unknown, revoked or expired token; 4403 `TOKEN_REVOKED` when the
token of an open connection is revoked or expires; 4403 `SESSION_ENDED` when the session of a
cookie-authenticated connection ends (sign-out); 4403 `USER_DEACTIVATED` when its user is
deactivated; 4000 `IDLE_TIMEOUT` after
SUBSCRIPTIONS_IDLE_TIMEOUT seconds without a subscription; 1009 for a message over
SUBSCRIPTIONS_MAX_MESSAGE_BYTES (uvicorn). A handshake from a browser page on an origin that
is neither this host nor in CORS_ALLOWED_ORIGINS is refused with HTTP 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from graphql import GraphQLError
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import AddValidationRules, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.context import Context
from api.errors import ErrorCodes
from api.limits import (
    HideSuggestions,
    InputCleaning,
    OperationNameRequired,
    aliases_limiter,
    depth_limiter,
    introspection_depth_limiter,
    introspection_guard,
    tokens_limiter,
)
from api.scalars import SCALARS
from api.subscriptions.hub import SharedPayload, hub, run_db
from api.subscriptions.resolvers import SUBSCRIPTION_LIMIT_REACHED
from api.subscriptions.rules import SubscriptionsOnlyRule
from reservation.actors import ANONYMOUS, Actor, utcnow

logger = logging.getLogger("api.subscriptions")

IDLE_TIMEOUT = (4000, "IDLE_TIMEOUT")
TOKEN_REVOKED = (4403, "TOKEN_REVOKED")
SESSION_ENDED = (4403, "SESSION_ENDED")
USER_DEACTIVATED = (4403, "USER_DEACTIVATED")

# Subscriptions per signed-in user in this process, over all their connections.
_per_user: dict[int, int] = {}


class SharedEventExecution(StrawberryGraphQLCoreExecutionContext):
    """Executes a subscription event once for all the subscribers who share it: when the
    payload is a SharedPayload (the same slot list object handed to every subscriber of a
    feed), the operation the same parsed document (DocumentCache) and the variables equal,
    later subscribers get the result of the first. Executing a month of slots costs several
    milliseconds; a hundred subscribers of one booking page would pay it a hundred times."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        payload = self.root_value
        if not isinstance(payload, SharedPayload):
            return super().execute_operation(serially)
        variables = getattr(self.variable_values, "coerced", self.variable_values) or {}
        key = (id(self.operation), repr(sorted(variables.items())))
        found = payload.results.get(key)
        if found is None:
            found = super().execute_operation(serially)
            if inspect.isawaitable(found):
                found = asyncio.ensure_future(found)
            payload.results[key] = found
        return found


def ws_schema():
    """The schema with the HTTP one's types and limits, for subscriptions."""
    from api.schema import DocumentCache, Mutation, Query, Schema, Subscription

    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(relay_max_results=100, scalar_map=SCALARS),
        execution_context_class=SharedEventExecution,
        extensions=[
            ErrorCodes,
            HideSuggestions,
            tokens_limiter,
            OperationNameRequired,
            depth_limiter,
            introspection_depth_limiter,
            aliases_limiter,
            introspection_guard,
            InputCleaning,
            lambda: AddValidationRules([SubscriptionsOnlyRule]),
            # One parsed document per operation text: SharedEventExecution keys on it.
            lambda: DocumentCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
        ],
    )


# --- the connection ---------------------------------------------------------------------------


@dataclass(eq=False)
class Connection:
    """One WebSocket: who it is, its subscriptions, the timers that may close it."""

    websocket: WebSocket
    actor: Actor = ANONYMOUS
    session_key: str | None = None  # when signed in by the session cookie
    active: int = 0
    _idle: asyncio.TimerHandle | None = None
    _expiry: asyncio.TimerHandle | None = None
    _stop_token_watch: Any = None
    _stop_user_watch: Any = None
    _closing: bool = False
    _tasks: set[asyncio.Task] = field(default_factory=set)

    @property
    def user_id(self) -> int | None:
        return self.actor.user.pk if self.actor.is_authenticated else None  # type: ignore[union-attr]

    def start(self) -> None:
        """After connection_init was accepted: the idle timer, and the watches of the user and
        of the token or session."""
        self._arm_idle()
        if self.user_id is not None:
            self._stop_user_watch = hub().on_token_change(("w", self.user_id), self._check_user)
        if self.session_key is not None:
            digest = hashlib.md5(self.session_key.encode(), usedforsecurity=False).hexdigest()
            self._stop_token_watch = hub().on_token_change(("s", digest), self._check_session)
            return
        token = self.actor.api_token or self.actor.access_token
        if token is not None:
            kind = "t" if self.actor.api_token is not None else "a"
            self._stop_token_watch = hub().on_token_change((kind, token.pk), self._check_token)
            expires_at = getattr(token, "expires_at", None)
            if expires_at is not None:
                delay = max((expires_at - utcnow()).total_seconds(), 0.0)
                self._expiry = asyncio.get_running_loop().call_later(delay, self._check_token)

    def _arm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(
            settings.SUBSCRIPTIONS_IDLE_TIMEOUT, self.close_soon, *IDLE_TIMEOUT
        )

    def _check_token(self) -> None:
        self._in_background(self._recheck_token())

    def _check_user(self) -> None:
        self._in_background(self._recheck_user())

    async def _recheck_user(self) -> None:
        from reservation.models import User

        user_id = self.user_id
        active = await run_db(lambda: User.objects.filter(pk=user_id, is_active=True).exists())
        if not active:
            await self.close(*USER_DEACTIVATED)

    def _check_session(self) -> None:
        self._in_background(self._recheck_session())

    async def _recheck_session(self) -> None:
        key = self.session_key
        actor = await run_db(lambda: _authenticate(None, key))
        if actor is None or not actor.is_authenticated:
            await self.close(*SESSION_ENDED)

    async def _recheck_token(self) -> None:
        from reservation.models import ApiToken, EventAccessToken

        actor = self.actor
        if actor.api_token is not None:
            pk = actor.api_token.pk
            live = await run_db(
                lambda: ApiToken.objects.filter(
                    pk=pk, revoked_at__isnull=True, user__is_active=True
                ).exists()
            )
        elif actor.access_token is not None:
            pk = actor.access_token.pk
            live = await run_db(
                lambda: EventAccessToken.objects.filter(
                    pk=pk, revoked_at__isnull=True, expires_at__gt=utcnow()
                ).exists()
            )
        else:
            return
        if not live:
            await self.close(*TOKEN_REVOKED)

    @contextlib.asynccontextmanager
    async def subscription(self):
        """Count one subscription against the limits, or refuse it with
        SUBSCRIPTION_LIMIT_REACHED (per connection, then per user)."""
        if self.active >= settings.SUBSCRIPTIONS_MAX_PER_CONNECTION:
            raise GraphQLError(
                f"At most {settings.SUBSCRIPTIONS_MAX_PER_CONNECTION} subscriptions per "
                "connection: complete one first.",
                extensions={
                    "code": SUBSCRIPTION_LIMIT_REACHED,
                    "limit": settings.SUBSCRIPTIONS_MAX_PER_CONNECTION,
                    "per": "connection",
                },
            )
        user_id = self.user_id
        if user_id is not None and _per_user.get(user_id, 0) >= settings.SUBSCRIPTIONS_MAX_PER_USER:
            raise GraphQLError(
                f"At most {settings.SUBSCRIPTIONS_MAX_PER_USER} subscriptions per user: "
                "complete one first.",
                extensions={
                    "code": SUBSCRIPTION_LIMIT_REACHED,
                    "limit": settings.SUBSCRIPTIONS_MAX_PER_USER,
                    "per": "user",
                },
            )
        self.active += 1
        if user_id is not None:
            _per_user[user_id] = _per_user.get(user_id, 0) + 1
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        try:
            yield
        finally:
            self.active -= 1
            if user_id is not None:
                left = _per_user.get(user_id, 1) - 1
                if left:
                    _per_user[user_id] = left
                else:
                    _per_user.pop(user_id, None)
            if self.active == 0 and not self._closing:
                self._arm_idle()

    def close_soon(self, code: int, reason: str) -> None:
        self._in_background(self.close(code, reason))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` as a task, referenced until it ends (the loop keeps only weak ones)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        logger.info("closing a subscription connection: %s %s", code, reason)
        if self.websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await self.websocket.close(code=code, reason=reason)

    def dispose(self) -> None:
        self._closing = True
        for timer in (self._idle, self._expiry):
            if timer is not None:
                timer.cancel()
        for stop in (self._stop_token_watch, self._stop_user_watch):
            if stop is not None:
                stop()


@dataclass
class WsContext(Context):
    """The GraphQL context of a WebSocket's operations (request/response are None)."""

    connection: Connection | None = None
    connection_params: dict | None = None


# --- who is asking ----------------------------------------------------------------------------


def _bearer(params: dict) -> str | None:
    """The secret of `Authorization: Bearer <secret>` in connection_init's payload (at its top
    level, as graphql-ws clients send it, or under `headers`), None when there is none."""
    candidates = [params, params.get("headers") if isinstance(params.get("headers"), dict) else {}]
    for found in candidates:
        for key, value in found.items():
            if key.lower() == "authorization" and isinstance(value, str):
                scheme, _, secret = value.partition(" ")
                return secret.strip() if scheme.lower() == "bearer" else ""
    return None


def _authenticate(secret: str | None, session_key: str | None) -> Actor | None:
    """The actor, as on HTTP: by the Bearer token alone when one is sent (None when it is
    unknown, revoked or expired), else by the session cookie, else nobody."""
    from django.contrib.auth import get_user
    from django.contrib.sessions.backends.base import SessionBase
    from django.utils.module_loading import import_string

    from api.middleware import bearer_actor
    from reservation.models import User

    if secret is not None:
        actor = bearer_actor(secret)
        return None if actor is ANONYMOUS else actor
    if not session_key:
        return ANONYMOUS
    store: type[SessionBase] = import_string(settings.SESSION_ENGINE + ".SessionStore")
    user = get_user(SimpleNamespace(session=store(session_key)))  # type: ignore[arg-type]
    if not user.is_authenticated:
        return ANONYMOUS
    user = User.objects.select_related("provider", "client").get(pk=user.pk)
    return Actor(user=user)


class SubscriptionView(GraphQL):
    """strawberry's ASGI view, with our context, authentication and limits."""

    async def get_context(self, request: Any, response: Any = None) -> WsContext:  # type: ignore[override]
        connection = Connection(websocket=request)
        request.scope["rendezvous.connection"] = connection
        return WsContext(request=None, response=None, connection=connection)  # type: ignore[arg-type]

    async def on_ws_connect(self, context: WsContext) -> dict:  # type: ignore[override]
        params = context.connection_params or {}
        connection = context.connection
        assert connection is not None
        session_key = connection.websocket.cookies.get(settings.SESSION_COOKIE_NAME)
        actor = await run_db(lambda: _authenticate(_bearer(params), session_key))
        if actor is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.actor = connection.actor = actor
        if actor.is_authenticated and actor.api_token is None and _bearer(params) is None:
            connection.session_key = session_key
        connection.start()
        return {
            "limits": {
                "subscriptionsPerConnection": settings.SUBSCRIPTIONS_MAX_PER_CONNECTION,
                "subscriptionsPerUser": settings.SUBSCRIPTIONS_MAX_PER_USER,
                "idleTimeoutSeconds": settings.SUBSCRIPTIONS_IDLE_TIMEOUT,
                "maxMessageBytes": settings.SUBSCRIPTIONS_MAX_MESSAGE_BYTES,
            }
        }


def make_view() -> SubscriptionView:
    return SubscriptionView(
        schema=ws_schema(),
        graphql_ide=None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=settings.SUBSCRIPTIONS_INIT_TIMEOUT),
        max_subscriptions_per_connection=None,  # ours, with a code: Connection.subscription
        allowed_origins=tuple(settings.CORS_ALLOWED_ORIGINS),
    )


async def _send_json(send: Any, status: int, body: dict) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def build_application():
    """The ASGI application: the WebSocket on /graphql, /healthz, and nothing else."""
    view = make_view()

    async def application(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await hub().stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket" and scope["path"] == "/graphql":
            try:
                await view(scope, receive, send)
            finally:
                connection = scope.get("rendezvous.connection")
                if connection is not None:
                    connection.dispose()
            return
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await _send_json(send, 200, {"status": "ok", **hub().stats()})
            return
        if scope["type"] == "http":
            message = "This port serves GraphQL subscriptions: a WebSocket on /graphql."
            await _send_json(
                send, 404, {"errors": [{"message": message, "extensions": {"code": "NOT_FOUND"}}]}
            )
            return
        await send({"type": "websocket.close", "code": 1008})

    return application
