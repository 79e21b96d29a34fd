"""Scratch databases for the benchmarks: `<your database>_bench` (or `_<suffix>`) next to
DATABASE_URL's.

Benchmarks that write a million rows, or point a gunicorn at the data they made, use it so a
developer's database is never filled or emptied by them. `use_bench_database()` must run
before `django.setup()`: it creates the database if missing, points DATABASE_URL at it and
migrates it (quick when nothing is new).
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"


def bench_url(suffix: str = "bench") -> str:
    """DATABASE_URL with `_<suffix>` appended to the database name (the embedded one if
    unset)."""
    from urllib.parse import urlsplit, urlunsplit

    # Not `import settings`: it must first be imported (by django.setup) with the new URL.
    embedded = f"postgresql://postgres@/postgres?host={ROOT / '.local' / 'pg'}"
    url = os.environ.get("DATABASE_URL") or embedded
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    return urlunsplit(parts._replace(path=f"/{name}_{suffix}"))


def use_bench_database(suffix: str = "bench") -> str:
    """Create (if needed), select and migrate the scratch database `<name>_<suffix>`;
    returns its URL."""
    import psycopg
    from psycopg import sql

    url = bench_url(suffix)
    target = psycopg.conninfo.conninfo_to_dict(url)
    name = target["dbname"]
    admin = {**target, "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ["DATABASE_URL"] = url
    os.environ["DATABASE_STATEMENT_TIMEOUT_MS"] = os.environ.get(
        "DATABASE_STATEMENT_TIMEOUT_MS", "5000"
    )
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command

    # Migrations are not statements to time out (see settings): run them without the limit.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    call_command("migrate", verbosity=0)
    connection.close()
    return url
