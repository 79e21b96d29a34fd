"""gunicorn settings, overridable by environment variables (see README)."""

import multiprocessing
import os
import shutil
import tempfile
from typing import Any

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# gunicorn's plain sync worker by default: one request at a time per process, and a process
# accepts a connection only when it is free, so waiting requests stay in the shared listen
# queue for whichever process frees first. A gthread process accepts connections as they
# come and queues them behind its own busy threads (a kept-alive client also stays with it),
# so requests can wait on one process while another idles. Measured with 4 processes and 8
# clients booking (devops/bench/booking_http.py, 2-core machine): about the same bookings
# per second either way, p99 59-94 ms with the sync worker against 98-142 ms with two
# threads, and 76-96 against 139 ms with a new connection per request, as nginx sends them
# (devops/nginx: no upstream keep-alive, requests and answers buffered, so no slow client
# holds a process). GUNICORN_THREADS=2 or more selects gthread; each thread keeps its own
# database connection (CONN_MAX_AGE).
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = 5  # with gthread only: the sync worker closes every connection
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# --- logs: the same JSON lines as the application's (api.observability.JsonFormatter) ---------
# LOG_FORMAT=text (the default with DEBUG=1) keeps gunicorn's plain lines for people.
LOG_FORMAT = os.environ.get("LOG_FORMAT") or (
    "text" if os.environ.get("DEBUG", "").lower() in {"1", "true", "yes", "on"} else "json"
)
# Kept for LOG_FORMAT=text; in JSON the access line's fields come from JsonAccessLogger.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(D)sus %({x-request-id}o)s'
accesslog = "-"
errorlog = "-"


class JsonAccessLogger(Logger):
    """One JSON object per request on `gunicorn.access`, with the request id of the response
    (X-Request-ID: the caller's when it was sane, else the one api.observability made, the
    same id as on the application's lines)."""

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        status = int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"]
        self.access_log.info(
            "%s %s %s",
            atoms["m"],
            atoms["U"],
            status,
            extra={
                "remote": atoms["h"],
                "method": atoms["m"],
                "path": atoms["U"],
                "status": status,
                "bytes": atoms["B"],
                "duration_us": atoms["D"],
                "request_id": atoms.get("{x-request-id}o"),
                "user_agent": atoms["a"],
            },
        )


if LOG_FORMAT == "json":
    logger_class = JsonAccessLogger
    _json = {"formatter": "json", "class": "logging.StreamHandler"}
    logconfig_dict = {
        "formatters": {"json": {"()": "api.observability.JsonFormatter"}},
        "handlers": {
            "console": {**_json, "stream": "ext://sys.stdout"},
            "error_console": {**_json, "stream": "ext://sys.stderr"},
        },
        "root": {"level": "INFO", "handlers": ["error_console"]},
        # Not propagated: Django's LOGGING adds its own handler to the root in each worker.
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }

# --- metrics: a folder of gunicorn's own ------------------------------------------------------
# Prometheus multiprocess mode (see api/metrics.py): every gunicorn worker writes its metrics
# to files in PROMETHEUS_MULTIPROC_DIR and /metrics sums them. The folder is this gunicorn's
# alone: METRICS_DIR if set, else one under the temporary folder named after the port. It is
# made empty when gunicorn starts, and only processes started from here write into it (the
# variable is set for them alone, with RENDEZVOUS_METRICS_PROCESS=web, which api/metrics.py
# requires), so `manage.py` commands and the Procrastinate worker never leave files there.
MULTIPROC_DIR = os.environ.get("METRICS_DIR") or os.path.join(
    tempfile.gettempdir(), f"rendezvous-metrics-web-{bind.rsplit(':', 1)[-1]}"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = MULTIPROC_DIR
os.environ["RENDEZVOUS_METRICS_PROCESS"] = "web"


def on_starting(server: object) -> None:
    """A fresh folder: the counters of a previous run would otherwise be added in."""
    shutil.rmtree(MULTIPROC_DIR, ignore_errors=True)
    os.makedirs(MULTIPROC_DIR, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    """A dead worker's live gauges are dropped; its counters stay in the sum."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, MULTIPROC_DIR)  # type: ignore[attr-defined]
