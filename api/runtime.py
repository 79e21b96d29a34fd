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

from django.core.exceptions import ImproperlyConfigured

DEFAULT_GC_THRESHOLD = "10000,10,10"


def gc_threshold(text: str) -> tuple[int, ...]:
    """GC_THRESHOLD's numbers, or ImproperlyConfigured saying what is expected."""
    try:
        numbers = tuple(int(part) for part in text.split(","))
    except ValueError:
        numbers = ()
    # A first number of 0 would stop automatic collection, and with the start-up heap frozen
    # nothing would ever free a reference cycle.
    if not 1 <= len(numbers) <= 3 or numbers[0] < 1 or any(number < 0 for number in numbers):
        raise ImproperlyConfigured(
            "GC_THRESHOLD must be one to three whole numbers separated by commas, the first at "
            f"least 1 and the others at least 0, as for Python's gc.set_threshold (e.g. "
            f"{DEFAULT_GC_THRESHOLD}); got {text!r}."
        )
    return numbers


def tune_garbage_collector() -> None:
    """Call once the application is loaded, before the first request."""
    from django.urls import get_resolver

    # Unset or empty: the default, as for the other variables (settings.env_int).
    threshold = gc_threshold(os.environ.get("GC_THRESHOLD") or DEFAULT_GC_THRESHOLD)
    get_resolver().url_patterns  # noqa: B018 - imports the URLconf: the views, the schema
    gc.collect()
    gc.freeze()
    gc.set_threshold(*threshold)
