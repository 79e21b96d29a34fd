"""gunicorn settings of the WebSocket endpoint (GraphQL subscriptions): its own process group
beside the sync HTTP workers (devops/gunicorn.conf.py), uvicorn's worker class, one LISTEN
connection per worker process. Overridable by environment variables (see README)."""

import os

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
control_socket_disable = True  # two gunicorns (HTTP, WebSocket) would share its default path
