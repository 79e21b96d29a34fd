"""The embedded PostgreSQL that `make run` / `make test` use when DATABASE_URL is unset.

    python devops/scripts/embedded_db.py start   # start it (idempotent), print its URL
    python devops/scripts/embedded_db.py stop    # stop it

It is the `pgserver` package's PostgreSQL 16, with its data under .local/pg and a Unix socket
in the same folder (no TCP port, so it never collides with another server). It keeps running
after this script exits, so the next command starts in no time.
"""

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".local" / "pg"


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "start"
    if command not in {"start", "stop"}:
        print(__doc__, file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set" (harmless)
    import pgserver

    DATA.parent.mkdir(parents=True, exist_ok=True)  # pgserver needs the parent to exist
    if command == "stop":
        if (DATA / "postmaster.pid").exists():
            pgserver.get_server(DATA, cleanup_mode="stop").cleanup()
        print("embedded PostgreSQL stopped")
        return 0
    server = pgserver.get_server(DATA, cleanup_mode=None)
    print(server.get_uri())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
