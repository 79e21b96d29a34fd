"""Where one `availableSlots` (31 days) spends its CPU in-process, GraphQL vs the bare view.

    DEBUG=1 DATABASE_URL=postgresql://... .venv/bin/python devops/bench/profile_slots.py [n]

Runs n anonymous GETs of the query of booking_http.py through the whole Django stack (Django's
test client, DEBUG off, on booking_http.py's scratch database, the garbage collector set up as
api.runtime sets it in gunicorn) and n of the bare view /bench/slots
(devops/bench/bench_urls.py), in alternating rounds of 25, and prints the CPU time (process
clock) per request of each (medians of the rounds). With `--profile`, writes
devops/bench/results/profile_slots.txt (cProfile, CPU clock, the 50 costliest functions of
the GraphQL requests).
"""

import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 40)
os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import booking_http
from benchdb import RESULTS
from django.db import connection
from django.test import Client as HttpClient

import api.wsgi  # noqa: F401 - what gunicorn loads: the app, and its garbage collector settings


def main(argv: list[str]) -> None:
    args = [a for a in argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 300
    now = datetime.now(UTC)
    data = booking_http.seed(now)
    http = HttpClient(HTTP_HOST="127.0.0.1")
    day = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    window = {"start": day.isoformat(), "end": (day + timedelta(days=31)).isoformat()}
    variables = {"providerId": booking_http.gid("Provider", data["office"]), **window}
    graphql_path = "/graphql?" + urlencode(
        {"query": booking_http.SLOTS, "variables": json.dumps(variables)}
    )
    bare_path = "/bench/slots?" + urlencode({"provider": data["office"], **window})

    def get(path: str, **headers: str) -> bytes:
        response = http.get(path, **headers)
        assert response.status_code == 200, response.content[:300]
        return response.content

    via_graphql = json.loads(get(graphql_path, HTTP_ACCEPT="application/json"))
    via_bare = json.loads(get(bare_path))
    assert via_graphql == via_bare, "the two answers differ"
    count = len(via_bare["data"]["availableSlots"])

    def cpu_ms(
        path: str, count: int, profiler: cProfile.Profile | None = None, **headers: str
    ) -> float:
        if profiler:
            profiler.enable()
        began = time.process_time()
        for _ in range(count):
            get(path, **headers)
        spent = time.process_time() - began
        if profiler:
            profiler.disable()
        return spent / count * 1000

    for _ in range(30):  # warm-up
        get(graphql_path, HTTP_ACCEPT="application/json")
        get(bare_path)
    # Alternating rounds: a shared machine's speed drifts by tens of per cent within a minute.
    graphql_rounds, bare_rounds = [], []
    rounds = max(n // 25, 1)
    for _ in range(rounds):
        graphql_rounds.append(cpu_ms(graphql_path, 25, HTTP_ACCEPT="application/json"))
        bare_rounds.append(cpu_ms(bare_path, 25))
    graphql, bare = statistics.median(graphql_rounds), statistics.median(bare_rounds)
    ratio = statistics.median([g / b for g, b in zip(graphql_rounds, bare_rounds, strict=True)])
    print(
        f"availableSlots 31 days ({count} slots), in-process CPU per request, "
        f"{rounds * 25} requests each: GraphQL {graphql:.2f} ms, bare view {bare:.2f} ms "
        f"(medians of rounds of 25; GraphQL {ratio:.2f}x, the median of the rounds' ratios)"
    )
    if "--profile" in argv:
        profiler = cProfile.Profile(time.process_time)
        cpu_ms(graphql_path, n, profiler, HTTP_ACCEPT="application/json")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(50)
        out.write("\n\n")
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "profile_slots.txt").write_text(out.getvalue())
    connection.close()


if __name__ == "__main__":
    main(sys.argv)
