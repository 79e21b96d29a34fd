"""The WSGI application gunicorn serves (devops/gunicorn.conf.py), loaded once per worker
process before its first request; the garbage collector set up for serving (api.runtime)."""

import os

from django.core.wsgi import get_wsgi_application

from api.runtime import tune_garbage_collector

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

application = get_wsgi_application()
tune_garbage_collector()
