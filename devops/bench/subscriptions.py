"""GraphQL subscriptions: latency from a booking's commit to subscribers holding the new slot
list, and the memory of one process holding 1,000 idle subscriptions.

    DEBUG=1 DATABASE_URL=postgresql://postgres@127.0.0.1:5432/NAME \\
        .venv/bin/python devops/bench/subscriptions.py [--subscribers 100] [--bookings 30]

On a scratch database (`<name>_bench_subs`, see benchdb.py) it starts the WebSocket server as
`make run` does (gunicorn, uvicorn's worker class, one worker process) and:

1. Latency: `--subscribers` graphql-transport-ws clients (Python websockets, one event loop)
   subscribe to availableSlotsChanged of one provider over one range (one shared feed). Then,
   `--bookings` times, a hold is taken through reservation_create (the service the mutation
   calls) and the clock starts when its transaction has committed; each subscriber's time is
   when its new list arrived (parsed). p50/p95/p99 over all (subscriber, booking) pairs.
2. Memory: `--idle` clients (1,000), one subscription each, over 10 providers and 100 ranges
   (100 shared feeds), then idle; the server process's RSS before and after (/proc).

Prints the figures and the load average, writes devops/bench/results/subscriptions.json.
"""

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import RESULTS, ROOT, use_bench_database

SLOTS = (
    "subscription Slots($p: ID!, $s: DateTime!, $e: DateTime!) { "
    "availableSlotsChanged(providerId: $p, start: $s, end: $e) { start } }"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def gid(kind: str, pk: int) -> str:
    import base64

    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Subscriber:
    def __init__(self, url: str, variables: dict) -> None:
        self.url, self.variables = url, variables
        self.arrivals: list[tuple[float, int]] = []  # (time, number of slots)
        self.ready = asyncio.Event()

    async def run(self) -> None:
        import websockets

        async with websockets.connect(
            self.url, subprotocols=["graphql-transport-ws"], open_timeout=60, max_queue=None
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": SLOTS, "variables": self.variables},
                    }
                )
            )
            async for raw in ws:
                arrived = time.time()
                message = json.loads(raw)
                assert message["type"] == "next", message
                found = message["payload"]["data"]["availableSlotsChanged"]
                self.arrivals.append((arrived, len(found)))
                self.ready.set()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--bookings", type=int, default=30)
    parser.add_argument("--idle", type=int, default=1000)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    url = use_bench_database("bench_subs")

    from reservation.actors import Actor
    from reservation.models import BookingPolicy, Client, Provider, User, WorkingHours
    from reservation.services.reservations import reservation_create

    stamp = int(time.time() * 1000)
    providers = []
    for n in range(10):
        user = User.objects.create(email=f"bench-subs-{stamp}-{n}@example.com", name="Bench")
        provider = Provider.objects.create(user=user, display_name=f"Bench {n}")
        WorkingHours.objects.bulk_create(
            WorkingHours(user=user, weekday=d, start=clock(0), end=clock(23, 59)) for d in range(7)
        )
        BookingPolicy.objects.create(
            provider=provider, min_notice_minutes=0, max_active_holds=1000, slot_length_minutes=30
        )
        providers.append(provider)
    client = Client.objects.create(
        user=User.objects.create(email=f"bench-subs-{stamp}-client@example.com", name="C")
    )

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SUBSCRIPTIONS_BIND": f"127.0.0.1:{port}",
        "SUBSCRIPTIONS_WORKERS": "1",
        "SUBSCRIPTIONS_MAX_PER_CONNECTION": "20",
        "SUBSCRIPTIONS_IDLE_TIMEOUT": "3600",
        "LOG_FORMAT": "text",
    }
    log_path = Path(tempfile.gettempdir()) / "rendezvous-bench-subscriptions.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "api.asgi:application", "-c",
         "devops/gunicorn_ws.conf.py", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the WebSocket server did not start"
                time.sleep(0.2)
        time.sleep(1)
        [worker] = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=True
            ).stdout.split()
        ]
        ws_url = f"ws://127.0.0.1:{port}/graphql"
        result = asyncio.run(
            measure(ws_url, worker, providers, client, reservation_create, Actor, args)
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "subscriptions.json").write_text(json.dumps(result, indent=2) + "\n")
    lat = result["latency_ms"]
    print(
        f"subscriptions: {args.subscribers} subscribers on one provider, {args.bookings} "
        f"bookings: commit -> new slot list p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
        f"p99 {lat['p99']} ms, max {lat['max']} ms"
    )
    mem = result["idle_memory"]
    print(
        f"subscriptions: one process with {mem['subscriptions']} idle subscriptions "
        f"({mem['feeds']} feeds): RSS {mem['rss_before_mib']} -> {mem['rss_after_mib']} MiB "
        f"({mem['per_subscription_kib']} KiB each)"
    )
    print(f"load average: {result['load_average']}")


async def measure(ws_url, worker, providers, client, reservation_create, actor_class, args):
    from asgiref.sync import sync_to_async

    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    end = start + timedelta(hours=2 * args.bookings + 2)  # every booking inside it
    provider = providers[0]
    variables = {"p": gid("Provider", provider.pk), "s": start.isoformat(), "e": end.isoformat()}

    # --- latency ----------------------------------------------------------------------------
    subscribers = [Subscriber(ws_url, variables) for _ in range(args.subscribers)]
    tasks = [asyncio.create_task(s.run()) for s in subscribers]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subscribers)), 120)
    latencies: list[float] = []
    spreads: list[float] = []
    book = sync_to_async(
        lambda at: reservation_create(
            actor=actor_class(user=client.user), provider_id=provider.pk, start=at
        ),
        thread_sensitive=False,
    )
    for n in range(args.bookings):
        counts = [len(s.arrivals) for s in subscribers]
        at = start + timedelta(hours=2 * n + 1)
        await book(at)
        committed = time.time()  # reservation_create returns after its commit
        deadline = time.monotonic() + 30
        while any(len(s.arrivals) == c for s, c in zip(subscribers, counts, strict=True)):
            assert time.monotonic() < deadline, "not every subscriber heard the booking"
            await asyncio.sleep(0.001)
        arrived = [s.arrivals[c][0] for s, c in zip(subscribers, counts, strict=True)]
        latencies += [(t - committed) * 1000 for t in arrived]
        spreads.append((max(arrived) - min(arrived)) * 1000)
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(1)

    # --- idle memory -----------------------------------------------------------------------
    before = rss_kib(worker)
    idle = []
    for n in range(args.idle):
        p = providers[n % 10]
        day = start + timedelta(days=(n // 10) % 10)
        idle.append(
            Subscriber(
                ws_url,
                {
                    "p": gid("Provider", p.pk),
                    "s": day.isoformat(),
                    "e": (day + timedelta(days=1)).isoformat(),
                },
            )
        )
    idle_tasks = []
    for batch in range(0, len(idle), 100):
        idle_tasks += [asyncio.create_task(s.run()) for s in idle[batch : batch + 100]]
        await asyncio.wait_for(
            asyncio.gather(*(s.ready.wait() for s in idle[batch : batch + 100])), 120
        )
    await asyncio.sleep(2)
    health = json.load(
        urllib.request.urlopen(ws_url.replace("ws://", "http://").replace("/graphql", "/healthz"))
    )
    after = rss_kib(worker)
    for task in idle_tasks:
        task.cancel()
    await asyncio.gather(*idle_tasks, return_exceptions=True)

    return {
        "subscribers": args.subscribers,
        "bookings": args.bookings,
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
            "spread_p50": round(statistics.median(spreads), 1),
        },
        "idle_memory": {
            "subscriptions": health["slot_watchers"],
            "feeds": health["feeds"],
            "rss_before_mib": round(before / 1024, 1),
            "rss_after_mib": round(after / 1024, 1),
            "per_subscription_kib": round((after - before) / max(health["slot_watchers"], 1), 1),
        },
    }


if __name__ == "__main__":
    main()
