"""Where one reservationCreate spends its time, in-process (cProfile); prints a breakdown.

    DEBUG=1 DATABASE_URL=postgresql://... .venv/bin/python devops/bench/profile_create.py [n]

Runs n bookings through the whole Django stack (middleware, GraphQL view, schema, service)
with Django's test client on the scratch database of booking_http.py (DEBUG off, as served),
and splits the time into: waiting for PostgreSQL (psycopg execute), GraphQL parsing and
validation, GraphQL execution outside the service, the service's Python, middleware and the
rest. Writes devops/bench/results/profile_create.txt (the 40 costliest functions).
"""

import cProfile
import io
import json
import os
import pstats
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 40)
os.environ["RATE_LIMIT_RESERVATION_CREATE"] = "100000000/s"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import booking_http
from benchdb import RESULTS
from django.db import connection
from django.test import Client as HttpClient


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 300
    now = datetime.now(UTC)
    data = booking_http.seed(now)
    http = HttpClient(HTTP_HOST="127.0.0.1")
    token = data["clients"][0][1]

    def book(i: int) -> None:
        provider, start = booking_http.slot_of(i, data)
        body = {
            "query": booking_http.CREATE,
            "variables": {
                "input": {
                    "providerId": booking_http.gid("Provider", provider),
                    "start": start.isoformat(),
                }
            },
        }
        response = http.post(
            "/graphql",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert b'"HELD"' in response.content, response.content[:300]

    for i in range(20):  # warm-up
        book(i)
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for i in range(20, 20 + n):
        book(i)
    profiler.disable()
    wall = (time.perf_counter() - began) / n * 1000
    stats = pstats.Stats(profiler)

    def cumulative(match: str) -> float:
        found = [
            (func, row) for func, row in stats.stats.items() if match in f"{func[0]}:{func[2]}"
        ]
        return max((row[3] for _, row in found), default=0.0) / n * 1000

    parts = {
        "PostgreSQL round trips (psycopg execute)": cumulative("psycopg/cursor.py:execute"),
        "GraphQL parse + validate": cumulative("graphql/validation/validate.py:validate")
        + cumulative("graphql/language/parser.py:parse"),
        "service reservation_create (incl. its SQL)": cumulative(
            "services/reservations.py:reservation_create"
        ),
        "GraphQL execution (incl. service)": cumulative("strawberry/schema/schema.py:execute_sync"),
        "whole request (test client)": cumulative("django/test/client.py:post"),
    }
    lines = [f"reservationCreate in-process, {n} bookings: {wall:.1f} ms each (profiled)"]
    lines += [f"  {name:<45} {ms:6.2f} ms" for name, ms in parts.items()]
    print("\n".join(lines))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "profile_create.txt").write_text("\n".join(lines) + "\n\n" + out.getvalue())
    connection.close()


if __name__ == "__main__":
    main(sys.argv)
