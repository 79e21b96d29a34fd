"""gunicorn's worker class for the WebSocket endpoint: uvicorn's, with the WebSocket limits
from the settings (keep-alive pings, message size)."""

import os

from django.conf import settings
from uvicorn_worker import UvicornWorker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")


class SubscriptionWorker(UvicornWorker):
    CONFIG_KWARGS = {
        "loop": "asyncio",
        "http": "h11",
        "ws": "websockets-sansio",
        "lifespan": "on",
        # A message over this closes the connection with 1009 (message too big).
        "ws_max_size": settings.SUBSCRIPTIONS_MAX_MESSAGE_BYTES,
        # WebSocket ping frames every interval; no pong within the timeout closes it.
        "ws_ping_interval": float(settings.SUBSCRIPTIONS_PING_INTERVAL),
        "ws_ping_timeout": float(settings.SUBSCRIPTIONS_PING_TIMEOUT),
    }
