"""The WSGI application gunicorn serves (devops/gunicorn.conf.py).

Loaded once per worker process, before its first request. Two adjustments to Python's
cyclic garbage collector, measured in devops/bench/booking_http.py (see README, "Performance
and benchmarks"):

- Everything built while starting (Django's apps and URLconf, the GraphQL schema: about
  190,000 tracked objects) is moved out of the collector's reach with `gc.freeze()`. It lives
  as long as the process; without this, each full collection walked it all again and
  stopped a request for about 140 ms.
- The youngest generation is collected after 10,000 net new container objects instead of
  700 (GC_THRESHOLD, three numbers as for `gc.set_threshold`). One `availableSlots` answer
  alone builds a few thousand, which used to push them, still alive, into the older
  generations to be walked again there.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

application = get_wsgi_application()


def _tune_gc() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf: views, the schema
    gc.collect()
    gc.freeze()
    threshold = os.environ.get("GC_THRESHOLD", "10000,10,10")
    gc.set_threshold(*(int(part) for part in threshold.split(",")))


_tune_gc()
