"""One LISTEN connection per serving process, fanning PostgreSQL change notifications out to
the subscriptions of that process.

The notifications come from triggers inside the writing transactions (migration
0016_subs_change_notifications): PostgreSQL delivers them at commit, never for a rollback, in
commit order. The hub keeps, per (provider, start, end), one SlotFeed shared by every
subscriber to that range: one recomputation per change, however many watch it, and a timer
for the next instant the slots change by the clock alone (a hold lapsing, the minimum notice).

Everything here runs on the event loop of the serving process; database work goes to a small
thread pool (`run_db`), where Django's connections live one per thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import close_old_connections, connections

from reservation.actors import utcnow
from reservation.selectors.live import SlotState, slot_state

logger = logging.getLogger("api.subscriptions")

CHANNEL = "rendezvous_changes"
APPLICATION_NAME = "rendezvous-subscriptions"
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None


def _in_thread(fn: Callable[[], T]) -> T:
    close_old_connections()  # a connection past its age or broken by an outage is replaced
    try:
        return fn()
    except Exception:
        for conn in connections.all(initialized_only=True):
            if conn.connection is not None and not conn.is_usable():
                conn.close()
        raise


async def run_db(fn: Callable[[], T]) -> T:
    """Run `fn` (which may use the ORM) in the hub's thread pool."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=settings.SUBSCRIPTIONS_DB_THREADS, thread_name_prefix="subscriptions-db"
        )
    return await asyncio.get_running_loop().run_in_executor(_executor, _in_thread, fn)


def conninfo() -> str:
    """The default database's connection string, for the LISTEN connection."""
    db = settings.DATABASES["default"]
    params: dict[str, Any] = {
        "dbname": db.get("NAME") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": str(db["PORT"]) if db.get("PORT") else None,
        "application_name": APPLICATION_NAME,
    }
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout"):
        if key in db.get("OPTIONS", {}):
            params[key] = db["OPTIONS"][key]
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


class SharedPayload(list):
    """A subscription event handed to several subscribers as the same object, with the
    results of executing it (see api.subscriptions.app.SharedEventExecution)."""

    __slots__ = ("results",)

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.results: dict[Any, Any] = {}


# --- watchers ---------------------------------------------------------------------------------


@dataclass(eq=False)
class SlotWatcher:
    """One availableSlotsChanged subscription: wakes when its feed has a new state."""

    feed: SlotFeed
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self) -> None:
        self.wake.set()


class SlotFeed:
    """Every subscriber to one provider's slots in one range, and their shared state."""

    def __init__(self, hub: Hub, provider_id: int, start: datetime, end: datetime) -> None:
        self.hub = hub
        self.key = (provider_id, start, end)
        self.provider_id = provider_id
        self.start = start
        self.end = end
        self.watchers: set[SlotWatcher] = set()
        self.state: SlotState | None = None
        self.error: Exception | None = None
        self.version = 0  # grows with every state or error published
        self.ready = asyncio.Event()
        self.user_id: int | None = None
        self._task: asyncio.Task | None = None
        self._again = False
        self._timer: asyncio.TimerHandle | None = None
        self._payloads: dict[int, tuple[SlotState, SharedPayload]] = {}

    def payload(self, state: SlotState, first: int, make: Callable[[], list]) -> SharedPayload:
        """The event of `state` for subscribers who show `first` slots: one object for all of
        them, so it is executed once."""
        found = self._payloads.get(first)
        if found is None or found[0] is not state:
            found = self._payloads[first] = (state, SharedPayload(make()))
        return found[1]

    def invalidate(self) -> None:
        """Recompute soon; changes arriving during a recomputation make one more, not many."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            now = utcnow()
            try:
                state = await run_db(
                    lambda now=now: slot_state(
                        provider_id=self.provider_id, start=self.start, end=self.end, now=now
                    )
                )
            except Exception as exc:  # every subscriber must hear of it
                if _is_database_error(exc):
                    logger.warning("slot feed %s: database unavailable: %r", self.key, exc)
                    self._schedule(utcnow() + timedelta(seconds=1))
                    return
                if not isinstance(exc, ValidationError | PermissionDenied | ObjectDoesNotExist):
                    logger.exception("slot feed %s failed", self.key)
                self.error, self.state = exc, None
            else:
                previous, had_error = self.state, self.error is not None
                self.error, self.state = None, state
                self.hub._index_user(self, state.provider.user_id)
                self._schedule(state.next_change_at)
                if (
                    previous is not None
                    and not had_error
                    and previous.slots == state.slots
                    and not previous.policy.restrict_to_assigned_clients
                    and not state.policy.restrict_to_assigned_clients
                ):
                    # Nothing a subscriber sees changed (a restricting policy always wakes
                    # them: who may see the slots can change with nothing else).
                    self.ready.set()
                    if not self._again:
                        return
                    continue
            self.version += 1
            self.ready.set()
            for watcher in list(self.watchers):
                watcher.offer()
            if not self._again:
                return

    def _schedule(self, at: datetime | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        recheck = timedelta(seconds=settings.SUBSCRIPTIONS_RECHECK_SECONDS)
        now = utcnow()
        at = min(at, now + recheck) if at is not None else now + recheck
        delay = max((at - now).total_seconds(), 0.0)
        self._timer = asyncio.get_running_loop().call_later(delay, self.invalidate)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()


@dataclass(eq=False)
class ChangeWatcher:
    """One reservationChanged or eventChanged subscription: the ids changed since it last
    looked, in the order the commits were announced (each once)."""

    pending: dict[int, None] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    resync_since: datetime | None = None  # the LISTEN connection was lost: look again

    def offer(self, item_id: int) -> None:
        self.pending[item_id] = None
        self.wake.set()

    def take(self) -> list[int]:
        found, self.pending = list(self.pending), {}
        self.wake.clear()
        return found


def _is_database_error(exc: BaseException) -> bool:
    from django.db import DatabaseError, InterfaceError

    return isinstance(exc, DatabaseError | InterfaceError | psycopg.OperationalError)


# --- the hub ----------------------------------------------------------------------------------


class Hub:
    """The process's subscriptions, and the LISTEN connection that feeds them."""

    def __init__(self) -> None:
        self.feeds: dict[tuple[int, datetime, datetime], SlotFeed] = {}
        self.feeds_by_provider: dict[int, set[SlotFeed]] = {}
        self.feeds_by_user: dict[int, set[SlotFeed]] = {}
        self.reservation_watchers: dict[tuple[str, int], set[ChangeWatcher]] = {}
        self.event_watchers: dict[int, set[ChangeWatcher]] = {}
        self.token_listeners: dict[tuple[str, int | str], set[Callable[[], Any]]] = {}
        self.listening = asyncio.Event()
        self.notifications = 0
        self.reconnects = 0
        self._task: asyncio.Task | None = None
        self._connection: psycopg.AsyncConnection | None = None

    # --- the LISTEN connection --------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (once per process) and wait until the LISTEN is in place, so a
        subscriber's first state is computed after it: no change can fall in between."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen_forever())
        await asyncio.wait_for(self.listening.wait(), timeout=30)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for feed in self.feeds.values():
            feed.close()

    async def _listen_forever(self) -> None:
        pause = 0.5
        lost_at: datetime | None = None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo(), autocommit=True
                ) as conn:
                    self._connection = conn
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    pause = 0.5
                    if lost_at is not None:
                        self.reconnects += 1
                        logger.info("LISTEN connection back: re-reading every subscription")
                        self._resync(lost_at)
                        lost_at = None
                    while True:
                        async for note in conn.notifies(
                            timeout=settings.SUBSCRIPTIONS_LISTEN_CHECK_SECONDS
                        ):
                            self.dispatch(note.payload)
                        await conn.execute("SELECT 1")  # a silent network loss shows here
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever broke it, connect again
                if lost_at is None:
                    lost_at = utcnow()
                self.listening.clear()
                logger.warning("LISTEN connection lost (%r): reconnecting in %.1f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)
            finally:
                self._connection = None

    def _resync(self, lost_at: datetime) -> None:
        """After the LISTEN connection was lost: notifications of that time are gone, so every
        feed recomputes and every change watcher looks at what changed since."""
        for feed in list(self.feeds.values()):
            feed.invalidate()
        since = lost_at - timedelta(seconds=5)
        for watchers in [*self.reservation_watchers.values(), *self.event_watchers.values()]:
            for watcher in watchers:
                watcher.resync_since = since
                watcher.wake.set()
        for listeners in list(self.token_listeners.values()):
            for listener in list(listeners):
                listener()

    # --- notifications ----------------------------------------------------------------------

    def dispatch(self, payload: str) -> None:
        """Route one notification (see the migration for the payloads)."""
        self.notifications += 1
        kind, _, items = payload.partition(":")
        if kind == "p":
            for item in items.split(","):
                for feed in list(self.feeds_by_provider.get(int(item), ())):
                    feed.invalidate()
        elif kind == "u":
            for item in items.split(","):
                for feed in list(self.feeds_by_user.get(int(item), ())):
                    feed.invalidate()
        elif kind == "g":
            for feed in list(self.feeds.values()):
                feed.invalidate()
        elif kind == "r":
            for item in items.split(","):
                reservation_id, client_id, provider_id = map(int, item.split("."))
                for key in (("c", client_id), ("p", provider_id)):
                    for watcher in self.reservation_watchers.get(key, ()):
                        watcher.offer(reservation_id)
        elif kind == "R":  # a bulk change: what changed since the writer's transaction began
            since = datetime.fromtimestamp(int(items) / 1_000_000, tz=UTC) - timedelta(seconds=5)
            for watchers in self.reservation_watchers.values():
                for watcher in watchers:
                    if watcher.resync_since is None or since < watcher.resync_since:
                        watcher.resync_since = since
                    watcher.wake.set()
        elif kind == "e":
            for item in items.split(","):
                for watcher in self.event_watchers.get(int(item), ()):
                    watcher.offer(int(item))
        elif kind in ("t", "a", "s", "w"):
            for item in items.split(","):
                key = (kind, item if kind == "s" else int(item))
                for listener in list(self.token_listeners.get(key, ())):
                    listener()

    # --- registration -----------------------------------------------------------------------

    def _index_user(self, feed: SlotFeed, user_id: int) -> None:
        if feed.user_id == user_id:
            return
        if feed.user_id is not None:
            self.feeds_by_user.get(feed.user_id, set()).discard(feed)
        feed.user_id = user_id
        self.feeds_by_user.setdefault(user_id, set()).add(feed)

    @contextlib.asynccontextmanager
    async def watch_slots(self, *, provider_id: int, start: datetime, end: datetime):
        """A watcher of the shared feed for this range, its first state computed (or reused
        when the feed already has a current one)."""
        await self.start()
        key = (provider_id, start, end)
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = SlotFeed(self, provider_id, start, end)
            self.feeds_by_provider.setdefault(provider_id, set()).add(feed)
            feed.invalidate()
        watcher = SlotWatcher(feed=feed)
        feed.watchers.add(watcher)
        try:
            await feed.ready.wait()
            watcher.offer()
            yield watcher
        finally:
            feed.watchers.discard(watcher)
            if not feed.watchers:
                feed.close()
                del self.feeds[key]
                self.feeds_by_provider.get(provider_id, set()).discard(feed)
                if feed.user_id is not None:
                    self.feeds_by_user.get(feed.user_id, set()).discard(feed)

    @contextlib.contextmanager
    def watch_reservations(self, *, keys: list[tuple[str, int]]):
        """A watcher of the reservations of these parties (('c', client id), ('p', provider
        id))."""
        watcher = ChangeWatcher()
        for key in keys:
            self.reservation_watchers.setdefault(key, set()).add(watcher)
        try:
            yield watcher
        finally:
            for key in keys:
                found = self.reservation_watchers.get(key)
                if found is not None:
                    found.discard(watcher)
                    if not found:
                        del self.reservation_watchers[key]

    @contextlib.contextmanager
    def watch_event(self, *, event_id: int):
        watcher = ChangeWatcher()
        self.event_watchers.setdefault(event_id, set()).add(watcher)
        try:
            yield watcher
        finally:
            found = self.event_watchers.get(event_id)
            if found is not None:
                found.discard(watcher)
                if not found:
                    del self.event_watchers[event_id]

    def on_token_change(
        self, key: tuple[str, int | str], listener: Callable[[], Any]
    ) -> Callable[[], None]:
        """Call `listener` when that token's row changes; returns the function that stops it."""
        self.token_listeners.setdefault(key, set()).add(listener)

        def stop() -> None:
            found = self.token_listeners.get(key)
            if found is not None:
                found.discard(listener)
                if not found:
                    del self.token_listeners[key]

        return stop

    def stats(self) -> dict[str, int]:
        return {
            "feeds": len(self.feeds),
            "slot_watchers": sum(len(f.watchers) for f in self.feeds.values()),
            "notifications": self.notifications,
            "reconnects": self.reconnects,
        }


_hub: Hub | None = None


def hub() -> Hub:
    """The process's hub (made on first use, on the running event loop)."""
    global _hub
    if _hub is None:
        _hub = Hub()
    return _hub
