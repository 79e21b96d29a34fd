"""N clients race for one slot over HTTP against a running server; exactly one may win.

    # against a server on DATABASE_URL, creating its own provider and clients there:
    DEBUG=1 DATABASE_URL=... .venv/bin/python devops/bench/race_http.py --url http://127.0.0.1:8765/graphql

    # or with an existing provider and client tokens (one secret per line):
    .venv/bin/python devops/bench/race_http.py --provider-id UHJvdmlkZXI6MQ== \
        --tokens-file tokens.txt

Every client POSTs `reservationCreate` for the same slot (the first one `availableSlots`
offers) at the same moment: the requests wait at a barrier, then go. Prints how many got HELD,
how many SLOT_UNAVAILABLE, everything else (HTTP 500s counted apart), and the latency p50 / p95 /
max. Exits 1 unless exactly one is HELD and all others SLOT_UNAVAILABLE (so any 500 fails).

Without --provider-id it builds a provider (one window three days ahead) and N clients with
tokens through the services (DJANGO_SETTINGS_MODULE=settings, the server's DATABASE_URL; e-mails
under race.invalid), and removes them afterwards unless --keep. Only the standard library talks
HTTP.
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Barrier
from typing import Any

DOMAIN = "race.invalid"

SLOTS = """
query Slots($providerId: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $providerId, start: $start, end: $end) { start }
}
"""

CREATE = """
mutation Create($providerId: ID!, $start: DateTime!) {
  reservationCreate(input: {providerId: $providerId, start: $start}) {
    __typename
    ... on Reservation { id status }
    ... on OperationInfo { messages { code } }
  }
}
"""

LIVE_AT = """
query LiveAt($providerId: ID!, $start: DateTime!, $end: DateTime!) {
  reservations(providerId: $providerId, start: $start, end: $end, status: [HELD, CONFIRMED]) {
    totalCount
  }
}
"""


@dataclass
class Setup:
    provider_id: str
    client_tokens: list[str]
    provider_token: str | None = None
    cleanup: Any = None


def post(url: str, query: str, variables: dict[str, Any], token: str | None) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body or the raw text) of one GraphQL POST."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def outcome(status: int, body: Any) -> str:
    """HELD, a domain code such as SLOT_UNAVAILABLE, or a description of anything else."""
    if status != 200:
        return f"HTTP {status}"
    if not isinstance(body, dict):
        return "not JSON"
    if body.get("errors"):
        codes = sorted({e.get("extensions", {}).get("code", "?") for e in body["errors"]})
        return "error " + ",".join(codes)
    result = (body.get("data") or {}).get("reservationCreate") or {}
    if result.get("__typename") == "Reservation":
        return str(result.get("status"))
    if result.get("__typename") == "OperationInfo":
        return ",".join(sorted(m.get("code") or "?" for m in result["messages"]))
    return "unexpected " + json.dumps(body)[:200]


def build(clients: int) -> Setup:
    """A provider with one window three days ahead, and `clients` clients with API tokens,
    made through the services in the server's database."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    import django

    django.setup()
    from strawberry.relay import to_base64

    from reservation.actors import SYSTEM, Actor
    from reservation.models import Client, Reservation, User
    from reservation.services.accounts import api_token_create, provider_create
    from reservation.services.availability import availability_bulk_create

    run = f"{time.time_ns()}"
    provider = provider_create(email=f"provider-{run}@{DOMAIN}", name="Race provider", actor=SYSTEM)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    availability_bulk_create(
        actor=Actor(user=provider.user), windows=[(start, start + timedelta(hours=2))]
    )
    _, provider_token = api_token_create(actor=Actor(user=provider.user), name="race")
    tokens = []
    for i in range(clients):
        user = User.objects.create_user(f"client-{run}-{i}@{DOMAIN}")  # no password: tokens only
        Client.objects.create(user=user)
        tokens.append(api_token_create(actor=Actor(user=user), name="race")[1])

    def cleanup() -> None:
        # Reservations, then profiles, then users: the foreign keys protect in that order.
        users = User.objects.filter(email__contains=f"-{run}", email__endswith=f"@{DOMAIN}")
        Reservation.objects.filter(provider=provider).delete()
        Client.objects.filter(user__in=users).delete()
        provider.delete()
        users.delete()

    return Setup(to_base64("Provider", provider.pk), tokens, provider_token, cleanup)


def first_slot(url: str, provider_id: str, token: str) -> str:
    """The first slot the provider offers (asked with a token: a POST without one is a
    browser's, and must carry a CSRF token)."""
    now = datetime.now(UTC)
    status, body = post(
        url,
        SLOTS,
        {
            "providerId": provider_id,
            "start": now.isoformat(),
            "end": (now + timedelta(days=62)).isoformat(),
        },
        token,
    )
    slots = body.get("data", {}).get("availableSlots") if isinstance(body, dict) else None
    if status != 200 or not slots:
        raise SystemExit(f"no slot offered by {provider_id}: HTTP {status} {body!r}"[:500])
    return slots[0]["start"]


def race(url: str, provider_id: str, start: str, tokens: list[str]) -> list[tuple[str, float]]:
    """Every token tries to hold `start` at once; (outcome, seconds) per request."""
    barrier = Barrier(len(tokens))

    def attempt(token: str) -> tuple[str, float]:
        barrier.wait(timeout=60)
        began = time.perf_counter()
        try:
            status, body = post(url, CREATE, {"providerId": provider_id, "start": start}, token)
            result = outcome(status, body)
        except OSError as exc:  # refused, reset, timed out
            result = f"network {type(exc).__name__}"
        return result, time.perf_counter() - began

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(attempt, tokens))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/graphql")
    parser.add_argument("--clients", type=int, default=50, help="without --tokens-file")
    parser.add_argument("--provider-id", help="a Provider's global ID (else one is built)")
    parser.add_argument("--tokens-file", help="client token secrets, one a line")
    parser.add_argument("--keep", action="store_true", help="keep what was built")
    args = parser.parse_args()

    if args.provider_id:
        if not args.tokens_file:
            parser.error("--provider-id needs --tokens-file")
        lines = Path(args.tokens_file).read_text().split()
        setup = Setup(args.provider_id, [line for line in lines if line])
    else:
        setup = build(args.clients)
    try:
        start = first_slot(args.url, setup.provider_id, setup.client_tokens[0])
        print(f"{len(setup.client_tokens)} clients race for {start} at {args.url}")
        results = race(args.url, setup.provider_id, start, setup.client_tokens)
        counts = Counter(result for result, _ in results)
        latencies = sorted(seconds * 1000 for _, seconds in results)
        held = counts.pop("HELD", 0)
        unavailable = counts.pop("SLOT_UNAVAILABLE", 0)
        server_errors = counts.get("HTTP 500", 0)
        print(f"HELD:             {held}")
        print(f"SLOT_UNAVAILABLE: {unavailable}")
        print(f"other outcomes:   {sum(counts.values())} (HTTP 500: {server_errors})")
        for result, count in counts.most_common():
            print(f"  {count:>3} x {result}")
        p95 = statistics.quantiles(latencies, n=20, method="inclusive")[-1]
        print(
            f"latency ms:       p50 {statistics.median(latencies):.0f}  p95 {p95:.0f}  "
            f"max {latencies[-1]:.0f}"
        )
        if setup.provider_token:
            end = (datetime.fromisoformat(start) + timedelta(minutes=1)).isoformat()
            _, body = post(
                args.url,
                LIVE_AT,
                {"providerId": setup.provider_id, "start": start, "end": end},
                setup.provider_token,
            )
            live = body["data"]["reservations"]["totalCount"]
            print(f"live reservations in that slot, as the provider sees them: {live}")
            if live != 1:
                return 1
        ok = held == 1 and unavailable == len(setup.client_tokens) - 1
        print("OK: exactly one HELD" if ok else "FAIL: expected one HELD, the rest unavailable")
        return 0 if ok else 1
    finally:
        if setup.cleanup and not args.keep:
            setup.cleanup()


if __name__ == "__main__":
    sys.exit(main())
