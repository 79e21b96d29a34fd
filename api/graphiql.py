"""GraphiQL served entirely by this server: no CDN, no inline script.

React, ReactDOM and GraphiQL come from the pinned npm packages of devops/graphiql/
(package-lock.json), copied into api/static/api/graphiql/vendor/ by `make graphiql` (run by
`make run`, `make test`, `make examples` and the Dockerfile), never committed by hand. The page
starts from api/static/api/graphiql/graphiql.js, which re-reads the csrftoken cookie on every
request, so signing in with `login` inside GraphiQL works without a reload.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render

VENDOR_FILES = (
    "api/graphiql/vendor/react.production.min.js",
    "api/graphiql/vendor/react-dom.production.min.js",
    "api/graphiql/vendor/graphiql.min.js",
    "api/graphiql/vendor/graphiql.min.css",
)


def assets_missing() -> list[str]:
    """The vendor files that neither the static folders nor STATIC_ROOT hold."""
    root = Path(settings.STATIC_ROOT) if settings.STATIC_ROOT else None
    return [
        name
        for name in VENDOR_FILES
        if not finders.find(name) and not (root and (root / name).is_file())
    ]


def render_graphiql(request: HttpRequest) -> HttpResponse:
    """The GraphiQL page; it sets the csrftoken cookie that its requests send back. Where the
    files are not built, the page says so (and how to build them) instead of loading for ever."""
    get_token(request)
    context = {"endpoint": request.path, "missing": assets_missing()}
    return render(request, "api/graphiql.html", context)
