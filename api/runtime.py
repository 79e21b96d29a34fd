"""Settings of the Python runtime for the long-lived serving processes (api.wsgi, api.asgi).

Two adjustments to the cyclic garbage collector, measured with devops/bench/booking_http.py
and devops/bench/profile_slots.py (README, "Performance and benchmarks"):

- Everything built while starting (Django's apps and URLconf, the GraphQL schema: about
  190,000 tracked objects) is moved out of the collector's reach with `gc.freeze()`. It lives
  as long as the process; without this, every full collection walked it all again and
  stopped a request for about 140 ms.
- The youngest generation is collected after 10,000 net new container objects instead of
  700 (GC_THRESHOLD: three numbers, as for `gc.set_threshold`). One `availableSlots` answer
  alone builds a few thousand, which were pushed, still alive, into the older generations
  and walked again there.
"""

import gc
import os


def tune_garbage_collector() -> None:
    """Call once the application is loaded, before the first request."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf: the views, the schema
    gc.collect()
    gc.freeze()
    threshold = os.environ.get("GC_THRESHOLD", "10000,10,10")
    gc.set_threshold(*(int(part) for part in threshold.split(",")))
