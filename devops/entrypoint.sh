#!/bin/sh
# Entrypoint of the Rendezvous image: wait for PostgreSQL (up to DB_WAIT_TIMEOUT seconds, 60),
# apply migrations when MIGRATE_ON_START=1 (compose sets it for the app only), then run the
# command (gunicorn by default; the worker's is `python manage.py worker`).
# DB_WAIT_TIMEOUT=0 skips the wait and the migrations.
#
# Several app containers may start at once: each waits its turn for a PostgreSQL advisory
# lock, the first migrates, the others then find nothing left to do. The lock wait and the
# migrations run without the app's statement timeout (DATABASE_STATEMENT_TIMEOUT_MS, 5 s),
# which would otherwise cancel a long migration or the wait behind one: this process only.
set -eu

if [ "${DB_WAIT_TIMEOUT:-60}" != "0" ]; then
    python - <<'PY'
import os
import sys
import time

# libpq's own connect timeout, so an unanswering host cannot outlast the deadline.
os.environ.setdefault("PGCONNECT_TIMEOUT", "5")
# Waiting for the lock and migrating may take longer than any request may (see above).
os.environ["DATABASE_STATEMENT_TIMEOUT_MS"] = "0"

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import OperationalError, connection  # noqa: E402

# Through the app's LOGGING: JSON lines in production, like every other line.
log = logging.getLogger("rendezvous.entrypoint")

timeout = float(os.environ.get("DB_WAIT_TIMEOUT") or 60)
deadline = time.monotonic() + timeout
waited = False
while True:
    try:
        connection.ensure_connection()
        break
    except OperationalError as exc:
        if time.monotonic() >= deadline:
            log.error("entrypoint: no database after %g s: %s", timeout, exc)
            sys.exit(1)
        if not waited:
            log.warning("entrypoint: waiting for the database...")
            waited = True
        time.sleep(1)
if waited:
    log.info("entrypoint: the database is up")

if os.environ.get("MIGRATE_ON_START", "0") == "1":
    # Several app containers starting at once: one migrates, the others wait for it, then
    # find nothing left to do.
    lock = 0x52647673  # "Rdvs"
    # Polled, never waited for in one statement: a statement waiting on the lock holds a
    # snapshot, and a migration that builds an index CONCURRENTLY waits for every older
    # snapshot of the database: the two would wait for each other.
    with connection.cursor() as cursor:
        waiting = False
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock])
            (got_it,) = cursor.fetchone()
            if got_it:
                break
            if not waiting:
                log.info("entrypoint: another process is migrating; waiting for it")
                waiting = True
            time.sleep(0.5)
    try:
        log.info("entrypoint: applying migrations")
        call_command("migrate", interactive=False, verbosity=0)
        log.info("entrypoint: migrations applied")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock])
connection.close()
PY
fi

exec "$@"
