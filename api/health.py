"""Health endpoints for load balancers and orchestrators.

- GET /healthz: the process is up and serving (touches nothing else): liveness.
- GET /readyz: the database answers, every migration is applied, and a Procrastinate worker
  has sent a heartbeat recently: readiness. 503 with a JSON body naming the failing checks.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

OK = "ok"


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: answering at all is the check."""
    return JsonResponse({"status": OK})


def unapplied_migrations() -> list[str]:
    """The migrations `migrate` would apply now, as "app.name"."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


class _MigrationsCache:
    """Loading the migration graph reads every migration file: remember the answer for
    READYZ_MIGRATIONS_CACHE_SECONDS (per process), so frequent probes stay cheap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.value: list[str] | None = None
        self.expires = 0.0

    def get(self) -> list[str]:
        with self.lock:
            now = time.monotonic()
            if self.value is None or now >= self.expires:
                self.value = unapplied_migrations()
                self.expires = now + settings.READYZ_MIGRATIONS_CACHE_SECONDS
            return self.value


migrations_cache = _MigrationsCache()


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def _check_migrations() -> str:
    pending = migrations_cache.get()
    if not pending:
        return OK
    shown = ", ".join(pending[:5]) + (", …" if len(pending) > 5 else "")
    return f"{len(pending)} unapplied: {shown}"


def _check_worker() -> str:
    max_age = settings.READYZ_WORKER_MAX_AGE_SECONDS
    with connection.cursor() as cursor:
        # The database's clock on both sides: no skew between this host and the worker's.
        cursor.execute(
            "SELECT EXTRACT(EPOCH FROM now() - max(last_heartbeat)) FROM procrastinate_workers"
        )
        (age,) = cursor.fetchone()
    if age is None:
        return "no Procrastinate worker has a heartbeat"
    if age > max_age:
        return f"last heartbeat {int(age)} s ago (limit {max_age} s)"
    return OK


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when every check passes, else 503 naming the failing ones in `failing`
    (and what is wrong in `checks`). Database errors are logged, not shown."""
    checks: dict[str, str] = {}
    try:
        checks["database"] = _check_database()
    except DatabaseError:
        logger.warning("readyz: the database is unreachable", exc_info=True)
        checks["database"] = "unreachable"
        checks["migrations"] = checks["worker"] = "skipped"
    else:
        for name, check in (("migrations", _check_migrations), ("worker", _check_worker)):
            if name == "worker" and not settings.READYZ_CHECK_WORKER:
                continue
            try:
                checks[name] = check()
            except DatabaseError:
                logger.warning("readyz: the %s check failed", name, exc_info=True)
                checks[name] = "error"
    failing = [name for name, result in checks.items() if result != OK]
    if failing:
        return JsonResponse(
            {"status": "unavailable", "failing": failing, "checks": checks}, status=503
        )
    return JsonResponse({"status": OK, "checks": checks})
