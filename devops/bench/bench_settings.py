"""Settings of the benchmark's gunicorn: the app's own, plus the bare view of http.py.

The bare view is mounted only here (ROOT_URLCONF below), never in the app's URLs.
"""

from settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
