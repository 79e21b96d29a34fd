#!/bin/sh
# Entrypoint of the Rendezvous image: wait for PostgreSQL (up to DB_WAIT_TIMEOUT seconds, 60),
# apply migrations when MIGRATE_ON_START=1 (compose sets it for the app only), then run the
# command (gunicorn by default; the worker's is `python manage.py procrastinate worker`).
# DB_WAIT_TIMEOUT=0 skips the wait and the migrations. The app (MIGRATE_ON_START=1) also
# empties PROMETHEUS_MULTIPROC_DIR, shared with the worker, which starts after it.
set -eu

if [ "${MIGRATE_ON_START:-0}" = "1" ] && [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
fi

if [ "${DB_WAIT_TIMEOUT:-60}" != "0" ]; then
    # Without PROMETHEUS_MULTIPROC_DIR: this short-lived process leaves no metrics files.
    env -u PROMETHEUS_MULTIPROC_DIR python - <<'PY'
import os
import sys
import time

# libpq's own connect timeout, so an unanswering host cannot outlast the deadline.
os.environ.setdefault("PGCONNECT_TIMEOUT", "5")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import OperationalError, connection  # noqa: E402

timeout = float(os.environ.get("DB_WAIT_TIMEOUT") or 60)
deadline = time.monotonic() + timeout
waited = False
while True:
    try:
        connection.ensure_connection()
        break
    except OperationalError as exc:
        if time.monotonic() >= deadline:
            print(f"entrypoint: no database after {timeout:g} s: {exc}", file=sys.stderr)
            sys.exit(1)
        if not waited:
            print("entrypoint: waiting for the database...", file=sys.stderr)
            waited = True
        time.sleep(1)
if waited:
    print("entrypoint: the database is up", file=sys.stderr)

if os.environ.get("MIGRATE_ON_START", "0") == "1":
    # Several app containers starting at once: one migrates, the others wait for it, then
    # find nothing left to do.
    lock = 0x52647673  # "Rdvs"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [lock])
    try:
        call_command("migrate", interactive=False)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock])
connection.close()
PY
fi

exec "$@"
