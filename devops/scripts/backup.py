#!/usr/bin/env python3
"""Back up and restore the database of DATABASE_URL (or the embedded one) with PostgreSQL's
own tools, in pg_dump's custom format (compressed; pg_restore can pick and reorder).

    devops/scripts/backup.py backup  [FILE]   # default: backups/rendezvous-<UTC time>.dump
    devops/scripts/backup.py restore FILE     # into DATABASE_URL's database: replaces what
                                              # the dump holds (--clean --if-exists)

`make backup` and `make restore BACKUP=FILE` run these. Restore into a database nothing
else writes to meanwhile: stop gunicorn and the worker first (README, Operating it).
"""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def connection_env() -> dict[str, str]:
    """libpq's variables for Django's default database (settings, DATABASE_URL)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    import django

    django.setup()
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = dict(os.environ)
    host = db.get("HOST") or db.get("OPTIONS", {}).get("host") or ""
    for key, value in (
        ("PGHOST", host),
        ("PGPORT", str(db.get("PORT") or "")),
        ("PGUSER", db.get("USER") or ""),
        ("PGPASSWORD", db.get("PASSWORD") or ""),
        ("PGDATABASE", db.get("NAME") or ""),
    ):
        if value:
            env[key] = value
    return env


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in {"backup", "restore"}:
        print(__doc__, file=sys.stderr)
        return 2
    env = connection_env()
    if argv[1] == "backup":
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = Path(argv[2]) if len(argv) > 2 else ROOT / "backups" / f"rendezvous-{stamp}.dump"
        target.parent.mkdir(parents=True, exist_ok=True)
        command = ["pg_dump", "--format=custom", "--no-owner", "--file", str(target)]
        subprocess.run(command, env=env, check=True)
        print(target)
        return 0
    if len(argv) < 3:
        print("restore needs the dump file: make restore BACKUP=backups/….dump", file=sys.stderr)
        return 2
    command = [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        "--dbname",
        env["PGDATABASE"],
        argv[2],
    ]
    subprocess.run(command, env=env, check=True)
    print(f"restored {argv[2]} into {env['PGDATABASE']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
