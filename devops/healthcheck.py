#!/usr/bin/env python
"""Container healthcheck of the app (compose.yml): exit 0 when GET /healthz answers 200.

    python devops/healthcheck.py [PATH]     # PATH defaults to /healthz

It asks gunicorn on 127.0.0.1 at GUNICORN_BIND's port, with a Host header taken from
ALLOWED_HOSTS (the first usable entry), so Django's host check accepts it whatever the
public name is.
"""

import http.client
import os
import sys
import urllib.error
import urllib.request


def host_header(allowed_hosts: str) -> str:
    for entry in allowed_hosts.split(","):
        name = entry.strip().lstrip(".")  # ".example.com" allows example.com too
        if name and name != "*":
            return name
    return "localhost"


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    port = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Host": host_header(os.environ.get("ALLOWED_HOSTS", "localhost"))},
    )
    timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT") or 4)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, http.client.HTTPException) as exc:
        print(f"healthcheck: {path}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: {path} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
