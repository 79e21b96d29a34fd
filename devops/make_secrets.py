#!/usr/bin/env python3
"""Make the stack's secrets once, on first start (compose.yml's `secrets` service):

    python devops/make_secrets.py DIR

writes DIR/secret_key (Django's SECRET_KEY, 64 random URL-safe characters) and
DIR/postgres_password (32 hex characters) unless they exist already, so a fresh clone needs
nothing edited and a restart keeps the same secrets (DIR is a named volume). The app reads
them through SECRET_KEY_FILE and DATABASE_PASSWORD_FILE, PostgreSQL's image through
POSTGRES_PASSWORD_FILE. A SECRET_KEY or POSTGRES_PASSWORD given in the environment (.env) is
written instead, every time: the files always hold what is in force. (The database keeps the
password it was created with: change it in PostgreSQL too, README, Docker Compose.)
"""

import os
import secrets
import sys
from pathlib import Path

MAKERS = {
    "secret_key": ("SECRET_KEY", lambda: secrets.token_urlsafe(48)),
    "postgres_password": ("POSTGRES_PASSWORD", lambda: secrets.token_hex(16)),
}


def make(directory: Path) -> list[str]:
    """The names of the secrets written now (given in the environment, or missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    made = []
    for name, (variable, maker) in MAKERS.items():
        path = directory / name
        given = os.environ.get(variable, "")
        if not given and path.exists() and path.read_text().strip():
            continue
        if given and path.exists() and path.read_text().strip() == given:
            continue
        temporary = directory / f".{name}.tmp"
        # Readable by the other containers' users (PostgreSQL's, the app's); the volume is
        # mounted into this stack's containers only.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
        with os.fdopen(fd, "w") as out:
            out.write(given or maker())
        temporary.replace(path)
        made.append(name)
    return made


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    made = make(Path(sys.argv[1]))
    print(f"secrets: made {', '.join(made)}" if made else "secrets: kept the existing ones")
