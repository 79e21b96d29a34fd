"""Recurrence expansion speed: 200 recurring events over a year, in-process; prints figures.

    .venv/bin/python devops/bench/expansion.py

200 events in 10 zones (weekly on one or two weekdays, every other week, monthly by day), a
few occurrences moved or cancelled, expanded over 2027 by reservation.recurrence.expand:
about 8,300 occurrences. Prints the median of 20 runs and
writes devops/bench/results/expansion.json (with the CPU time and the load average: on a busy
machine the wall time includes waiting for a core).
"""

import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reservation.recurrence import OccurrenceChange, expand

RESULTS = Path(__file__).resolve().parent / "results"
ZONES = [
    "Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Sydney",
    "America/Sao_Paulo", "Asia/Tokyo", "Europe/London", "Africa/Lagos", "Pacific/Auckland",
]  # fmt: skip
RULES = [
    "FREQ=WEEKLY;BYDAY=TU",
    "FREQ=WEEKLY;BYDAY=MO,TH",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
    "FREQ=MONTHLY;BYMONTHDAY=15",
    "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
]


def events() -> list[dict]:
    rng = random.Random(15)
    made = []
    for index in range(200):
        tz = ZoneInfo(ZONES[index % len(ZONES)])
        rule = RULES[[0, 1, 0, 2, 2, 3, 0, 2, 0, 3][index % 10]]
        start = datetime(2027, 1, 4, 8 + index % 9, 30 * (index % 2), tzinfo=tz)
        changes = []
        if index % 7 == 0:  # one moved, one cancelled occurrence
            moved = start + timedelta(weeks=10)
            changes.append(
                OccurrenceChange(original_start=moved, new_start=moved + timedelta(hours=2),
                                 new_end=moved + timedelta(hours=3))
            )  # fmt: skip
            gone = start + timedelta(weeks=20)
            changes.append(OccurrenceChange(original_start=gone, cancelled=True))
        made.append(
            {"rule": rule, "start": start, "end": start + timedelta(minutes=rng.choice([30, 60])),
             "tz": tz, "changes": tuple(changes)}
        )  # fmt: skip
    return made


def main() -> None:
    evs = events()
    window = (
        datetime(2027, 1, 1, tzinfo=ZoneInfo("UTC")),
        datetime(2028, 1, 1, tzinfo=ZoneInfo("UTC")),
    )

    def run() -> int:
        return sum(
            len(expand(window_start=window[0], window_end=window[1], **event)) for event in evs
        )

    count = run()
    runs, cpu = [], []
    for _ in range(20):
        began, began_cpu = time.perf_counter(), time.process_time()
        run()
        runs.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    median, median_cpu = statistics.median(runs), statistics.median(cpu)
    load = os.getloadavg()[0]
    # On a shared machine the wall time counts the other processes' turns too; the CPU time
    # is this process's own work.
    print(f"expand: 200 recurring events over 2027 -> {count:,} occurrences; "
          f"median {median:.1f} ms (min {min(runs):.1f}, max {max(runs):.1f}), "
          f"CPU {median_cpu:.1f} ms, load {load:.1f}")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "expansion.json").write_text(
        json.dumps(
            {
                "events": 200,
                "occurrences": count,
                "median_ms": round(median, 1),
                "min_ms": round(min(runs), 1),
                "median_cpu_ms": round(median_cpu, 1),
                "load_average": round(load, 1),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
