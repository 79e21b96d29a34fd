"""ASGI entry point of the WebSocket endpoint (GraphQL subscriptions): gunicorn with the
worker class api.subscriptions.worker.SubscriptionWorker, see devops/gunicorn_ws.conf.py.
HTTP stays on the sync workers (api.wsgi)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
django.setup()

from api.runtime import tune_garbage_collector  # noqa: E402
from api.subscriptions.app import build_application  # noqa: E402

application = build_application()
tune_garbage_collector()
