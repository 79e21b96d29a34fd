"""gunicorn settings, overridable by environment variables (see README)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: the Django ORM is synchronous and the sync GraphQL view is the fast path.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# One JSON object per request. The request id is the response's X-Request-ID (`o`, not the
# request's `i`): the caller's when it was sane, else the one api.observability made, the same
# id as on the application's log lines.
access_log_format = (
    '{"time":"%(t)s","remote":"%(h)s","method":"%(m)s","path":"%(U)s","status":%(s)s,'
    '"bytes":%(B)s,"duration_us":%(D)s,"request_id":"%({x-request-id}o)s",'
    '"user_agent":"%(a)s"}'
)

# Prometheus multiprocess mode (see api/metrics.py): with PROMETHEUS_MULTIPROC_DIR set, every
# worker writes its metrics to files there and /metrics sums them. The directory must exist
# and be emptied before each start (by whatever starts gunicorn and the Procrastinate worker:
# they share it); a dead worker's live gauges are dropped here, its counters stay in the sum.
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def on_starting(server: object) -> None:
    if MULTIPROC_DIR:
        os.makedirs(MULTIPROC_DIR, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    if MULTIPROC_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, MULTIPROC_DIR)  # type: ignore[attr-defined]
