"""Logging, health checks and metrics (imported at the end of settings/__init__.py)."""

import os
import tempfile

from django.core.exceptions import ImproperlyConfigured

from settings import DEBUG, env_bool, env_int

__all__ = [
    "LOGGING",
    "LOG_FORMAT",
    "METRICS_DB_TIMEOUT_MS",
    "METRICS_ENABLED",
    "METRICS_MAX_ERROR_CODES",
    "METRICS_MAX_OPERATION_NAMES",
    "METRICS_TOKEN",
    "METRICS_WORKER_ADDRESS",
    "METRICS_WORKER_PORT",
    "READYZ_CHECK_WORKER",
    "READYZ_MIGRATIONS_CACHE_SECONDS",
    "READYZ_WORKER_MAX_AGE_SECONDS",
    "WORKER_STATE_FILE",
]

# JSON lines for log collectors in production; readable text while developing.
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "api.observability.RequestContextFilter"},
        "disallowed_host": {"()": "api.observability.DisallowedHostFilter"},
    },
    "formatters": {
        "json": {"()": "api.observability.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Its own per-job lines are replaced by rendezvous.jobs (api.metrics.observe_job).
        "procrastinate": {"level": "WARNING"},
        "rendezvous": {"level": "INFO"},
        "django.security.DisallowedHost": {"filters": ["disallowed_host"]},
    },
}

# /readyz: a worker whose last heartbeat is older than this is taken for dead (Procrastinate
# beats every 10 s). READYZ_CHECK_WORKER=0 drops that check, e.g. where readiness takes web
# processes out of rotation and a dead worker should page someone instead.
READYZ_WORKER_MAX_AGE_SECONDS = env_int("READYZ_WORKER_MAX_AGE_SECONDS", 60)
READYZ_CHECK_WORKER = env_bool("READYZ_CHECK_WORKER", True)
READYZ_MIGRATIONS_CACHE_SECONDS = env_int("READYZ_MIGRATIONS_CACHE_SECONDS", 30)

# Prometheus multiprocess mode is gunicorn's alone: devops/gunicorn.conf.py sets
# PROMETHEUS_MULTIPROC_DIR with RENDEZVOUS_METRICS_PROCESS=web for its processes (api/metrics.py
# explains). Any other process that finds the variable (a `manage.py` command, the worker)
# drops it before prometheus_client is imported, keeping its metrics in memory: no files left
# behind, no folder shared between containers. A folder that does not exist yet is created.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    if os.environ.get("RENDEZVOUS_METRICS_PROCESS") != "web":
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    else:
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# /metrics: off unless enabled (on by default while developing); with METRICS_TOKEN set, only
# for `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_ENABLED = env_bool("METRICS_ENABLED", DEBUG)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_DB_TIMEOUT_MS = env_int("METRICS_DB_TIMEOUT_MS", 2000)
METRICS_MAX_OPERATION_NAMES = env_int("METRICS_MAX_OPERATION_NAMES", 200)
METRICS_MAX_ERROR_CODES = env_int("METRICS_MAX_ERROR_CODES", 100)
# The Procrastinate worker (`manage.py worker`) serves its own metrics (job durations and
# outcomes) on this port when METRICS_ENABLED; 0: not served. On METRICS_WORKER_ADDRESS only
# (no token there: keep the port on a private network).
METRICS_WORKER_PORT = env_int("METRICS_WORKER_PORT", 0)
METRICS_WORKER_ADDRESS = os.environ.get("METRICS_WORKER_ADDRESS", "127.0.0.1")
# Where `manage.py worker` writes its Procrastinate worker id for `manage.py worker --check`.
WORKER_STATE_FILE = os.environ.get("WORKER_STATE_FILE") or os.path.join(
    tempfile.gettempdir(), "rendezvous-worker.json"
)
