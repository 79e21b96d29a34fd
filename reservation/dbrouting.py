"""Reads from read replicas, everything else from the primary (DATABASE_REPLICA_URLS).

A read goes to a healthy replica unless the primary's connection is inside a transaction
(`transaction.atomic`: the transaction must see its own rows and hold its locks), or the
current request (or, outside requests, the current thread's context) has written already
(read-your-writes: a replica lags by a little), or its client wrote within
READ_YOUR_WRITES_SECONDS (pinned to the primary across requests, see pin_to_primary), or no
replica answers. Writes always go to
the primary. With no replica configured every method answers None and Django's default
routing applies unchanged.

Replica health is cheap: a replica that failed to connect is remembered as down for
DATABASE_REPLICA_RETRY_SECONDS (per process), so an unreachable one costs at most one
connect timeout (DATABASE_REPLICA_CONNECT_TIMEOUT) per period. An open connection is checked
without a round trip: if the server has closed it (a stopped or restarted replica), its
socket is readable, and only then does a `SELECT 1` decide. A replica that dies in the middle
of a query still fails that query; the next read goes elsewhere.
"""

import hashlib
import logging
import select
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

logger = logging.getLogger(__name__)

REPLICA_PREFIX = "replica_"

# True once the current request (context) has written; reset by ReadYourWritesMiddleware.
_has_written: ContextVar[bool] = ContextVar("rendezvous_has_written", default=False)
# alias -> time.monotonic() until which it is taken for down (shared by the process's threads).
_down_until: dict[str, float] = {}


def mark_written() -> None:
    """Reads from now on in this request go to the primary (called by db_for_write; call it
    after a write made with raw SQL outside transaction.atomic)."""
    _has_written.set(True)


def has_written() -> bool:
    return _has_written.get()


def reset_written() -> None:
    """A new request starts: it has not written yet."""
    _has_written.set(False)


@contextmanager
def request_scope() -> Iterator[None]:
    """The "has written" flag of one request: unset at its start and again at its end."""
    reset_written()
    try:
        yield
    finally:
        reset_written()


# --- read-your-writes across requests ----------------------------------------------------------
#
# A client that wrote in one request reads in the next, often before a standby has replayed
# the write. So after a request that wrote, its client (by API token, session or e-mailed
# link: whatever identifies it) is pinned to the primary for READ_YOUR_WRITES_SECONDS, in the
# cache shared by every process (Redis in production). A cache that fails counts as pinned:
# the primary answers, never a stale replica.

_PIN_PREFIX = "rdv:ryw:"


def client_keys(*credentials: str | None) -> list[str]:
    """Cache keys for a client's credentials (a bearer token, a session key, a link
    secret): digests, so no secret is stored in the cache."""
    return [
        _PIN_PREFIX + hashlib.sha256(credential.encode()).hexdigest()[:32]
        for credential in credentials
        if credential
    ]


def pin_to_primary(keys: Sequence[str]) -> None:
    """The clients behind these keys read from the primary for READ_YOUR_WRITES_SECONDS."""
    seconds = int(getattr(settings, "READ_YOUR_WRITES_SECONDS", 0))
    if not keys or seconds <= 0:
        return
    try:
        cache.set_many(dict.fromkeys(keys, 1), timeout=seconds)
    except Exception:
        logger.warning("read-your-writes: could not pin a client to the primary", exc_info=True)


def is_pinned(keys: Sequence[str]) -> bool:
    """Whether a client wrote within READ_YOUR_WRITES_SECONDS (True when the cache fails)."""
    if not keys:
        return False
    try:
        return bool(cache.get_many(list(keys)))
    except Exception:
        logger.warning("read-your-writes: the cache did not answer", exc_info=True)
        return True


def replica_aliases() -> list[str]:
    """The configured replica aliases, replica_0, replica_1, ... (from settings.DATABASES)."""
    return [alias for alias in settings.DATABASES if alias.startswith(REPLICA_PREFIX)]


def forget_health() -> None:
    """Every replica is tried again on the next read (tests; after a failover)."""
    _down_until.clear()


def _retry_seconds() -> float:
    return float(getattr(settings, "DATABASE_REPLICA_RETRY_SECONDS", 30))


def connection_is_quiet(wrapper: BaseDatabaseWrapper) -> bool:
    """Whether the open connection is alive as far as can be told without a round trip: no
    error since its last good query, and nothing to read on its socket. An idle connection
    has nothing to read; a server that closes one (a restart, pg_terminate_backend, an idle
    timeout) first sends its reason, so its socket turns readable."""
    raw = wrapper.connection
    if raw is None or raw.closed or getattr(raw, "broken", False) or wrapper.errors_occurred:
        return False
    try:
        readable, _, _ = select.select([raw.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _unusable(wrapper: BaseDatabaseWrapper) -> bool:
    """Whether the open connection is dead: alive when quiet (above; the primary's health
    check uses the same test, see reservation.db.base), else, as after a failed query, one
    round trip tells."""
    raw = wrapper.connection
    if raw.closed or getattr(raw, "broken", False):
        return True
    if connection_is_quiet(wrapper):
        return False
    try:
        raw.execute("SELECT 1")
    except Exception:  # noqa: BLE001  whatever the driver raises, the connection is unusable
        return True
    wrapper.errors_occurred = False
    return False


def replica_available(alias: str) -> bool:
    """Whether a read can be sent to this replica now: connected (connecting if need be,
    within its connect timeout) and not remembered as down."""
    now = time.monotonic()
    if _down_until.get(alias, 0.0) > now:
        return False
    wrapper = connections[alias]
    try:
        if wrapper.connection is not None and not wrapper.in_atomic_block and _unusable(wrapper):
            wrapper.close()
        wrapper.ensure_connection()
    except DatabaseError as exc:
        _down_until[alias] = time.monotonic() + _retry_seconds()
        logger.warning(
            "read replica %s is unreachable, reads go to the primary for %.0f s: %s",
            alias,
            _retry_seconds(),
            exc,
        )
        with suppress(DatabaseError):
            wrapper.close()
        return False
    if _down_until.pop(alias, None) is not None:  # pop: other threads may do the same
        logger.info("read replica %s is back", alias)
    return True


class PrimaryReplicaRouter:
    """DATABASE_ROUTERS entry: see the module docstring. `primary` and `replicas` default to
    "default" and the replica_<n> aliases of settings.DATABASES."""

    def __init__(self, primary: str = DEFAULT_DB_ALIAS, replicas: Sequence[str] | None = None):
        self.primary = primary
        self._replicas = list(replicas) if replicas is not None else None

    def replicas(self) -> list[str]:
        return self._replicas if self._replicas is not None else replica_aliases()

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        replicas = self.replicas()
        if not replicas:
            return None
        if has_written() or connections[self.primary].in_atomic_block:
            return self.primary
        # Spread the load: start at a different replica each time, skip those that are down.
        start = int(time.monotonic() * 1000) % len(replicas)
        for alias in replicas[start:] + replicas[:start]:
            if replica_available(alias):
                return alias
        return self.primary

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        if not self.replicas():
            return None
        mark_written()
        return self.primary

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        """Rows read from a replica are the primary's rows: relations between them are fine."""
        same_data = {self.primary, *self.replicas()}
        if obj1._state.db in same_data and obj2._state.db in same_data:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        """Replicas follow the primary's schema by replication; never migrate them."""
        if db in self.replicas():
            return False
        return None
