"""Draw the benchmark figures (devops/bench/results/*.json) as one PNG, for the README.

    .venv/bin/python devops/bench/charts.py     # after sweep.py, booking_http.py, history.py

Panels: latency percentiles of the HTTP benchmarks; booking throughput against the pgbench
line (and the quarter of it aimed for); the expiry sweep's time against the number of holds.
Writes devops/bench/results/bench.png (small enough to commit).
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display
import matplotlib.pyplot as plt

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def main() -> int:
    web, sweep, history = load("http"), load("sweep"), load("history")
    if not (web or sweep):
        print("no results yet: run the benchmarks first", file=sys.stderr)
        return 1
    fig, (lat, thr, grow) = plt.subplots(1, 3, figsize=(13, 3.8), dpi=80)

    if web:
        series = {
            "reservationCreate": web["reservation_create"],
            "availableSlots GraphQL": web["available_slots"]["graphql"],
            "availableSlots bare view": web["available_slots"]["bare_view"],
        }
        labels = ["p50", "p95", "p99"]
        width = 0.27
        for i, (name, figures) in enumerate(series.items()):
            values = [figures[f"{p}_ms"] for p in labels]
            lat.bar([x + i * width for x in range(3)], values, width, label=name)
        lat.axhline(100, color="red", linestyle="--", linewidth=1, label="p99 aim (100 ms)")
        lat.set_xticks([x + width for x in range(3)], labels)
        lat.set_ylabel("ms")
        lat.set_title(f"HTTP latency ({web['clients']} clients, {web['workers']} workers)")
        lat.legend(fontsize=7)

        tps = web["pgbench"]["tps"]
        names = ["reservationCreate\nover HTTP", "availableSlots\nGraphQL", "availableSlots\nbare"]
        values = [
            web["reservation_create"]["rps"],
            web["available_slots"]["graphql"]["rps"],
            web["available_slots"]["bare_view"]["rps"],
        ]
        thr.bar(names, values, color=["tab:blue", "tab:orange", "tab:green"])
        thr.axhline(tps, color="black", linewidth=1.5, label=f"pgbench, same SQL: {tps:.0f} TPS")
        thr.axhline(tps / 4, color="red", linestyle="--", linewidth=1, label="aim: 1/4 of it")
        thr.set_ylabel("requests / s")
        thr.set_title("Throughput against PostgreSQL's own")
        thr.legend(fontsize=7)
        thr.tick_params(axis="x", labelsize=7)

    if sweep:
        runs = sweep["sweep"]
        holds = [r["holds"] for r in runs]
        seconds = [r["seconds"] for r in runs]
        grow.plot(holds, seconds, marker="o", label="sweep (audit + mail per hold)")
        if runs:
            rate = runs[0]["holds"] / runs[0]["seconds"]
            grow.plot(holds, [h / rate for h in holds], linestyle=":", label="linear from 10k")
        grow.axhline(60, color="red", linestyle="--", linewidth=1, label="1M aim: 60 s")
        grow.set_xscale("log")
        grow.set_yscale("log")
        grow.set_xlabel("stale holds")
        grow.set_ylabel("seconds")
        grow.set_title("Expiry sweep growth")
        grow.legend(fontsize=7)
    if history:
        fig.suptitle(
            f"availableSlots, 10 years of history vs a week: {history['ratio']}x", fontsize=9
        )
    fig.tight_layout()
    out = RESULTS / "bench.png"
    fig.savefig(out)
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
