"""gunicorn settings of the WebSocket endpoint (GraphQL subscriptions): its own process group
beside the sync HTTP workers (devops/gunicorn.conf.py), uvicorn's worker class, one LISTEN
connection per worker process. Overridable by environment variables (see README)."""

import os
import runpy
from pathlib import Path

bind = os.environ.get("SUBSCRIPTIONS_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("SUBSCRIPTIONS_WORKERS", 1))
worker_class = "api.subscriptions.worker.SubscriptionWorker"
# An async worker answers its heartbeat from the event loop: a long-lived WebSocket is not a
# stuck request. On restart, open connections get this long before they are cut (clients
# reconnect and re-subscribe).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("SUBSCRIPTIONS_GRACEFUL_TIMEOUT", 5))
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# Two gunicorns (HTTP and WebSocket) would share the control socket's default path.
control_socket_disable = True

# The same log lines as the HTTP gunicorn's (JSON unless LOG_FORMAT=text), without its
# metrics folder: this process serves no /metrics.
_http = runpy.run_path(str(Path(__file__).with_name("gunicorn.conf.py")))
for _name in ("PROMETHEUS_MULTIPROC_DIR", "RENDEZVOUS_METRICS_PROCESS"):
    os.environ.pop(_name, None)
if _http["LOG_FORMAT"] == "json":
    logconfig_dict = _http["logconfig_dict"]
    logconfig_dict["loggers"]["uvicorn.error"] = logconfig_dict["loggers"]["gunicorn.error"]
