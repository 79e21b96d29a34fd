"""Benchmark: the cost budget's estimate (api/cost.py) against the time the operations take;
prints figures, never asserts a time.

    DEBUG=1 DATABASE_URL=postgresql://... .venv/bin/python devops/bench/cost.py

Runs on the demo data (`make demo`, loaded here if missing): each operation is POSTed through
the whole stack (middleware, schema, resolvers, database) with Django's test client and the
demo client's Bearer token, once with the field and once with it aliased 6 times, a few times
each; the difference over 5 is what one more alias costs (the fixed cost of a request drops
out). It prints the estimate of one alias, that marginal time, and the time per 1,000 cost
units. If the weights are right, the last column stays within a small factor across the
kinds of operation; a kind far above the others is under-priced.
"""

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.test import override_settings  # noqa: E402

from reservation.models import Provider, User  # noqa: E402
from reservation.services.accounts import api_token_create, api_token_revoke  # noqa: E402
from reservation.tests.factories import actor_for  # noqa: E402

RUNS = 5


def main() -> None:
    if not Provider.objects.filter(user__email="coach@example.com").exists():
        call_command("seed_demo")
    client_user = User.objects.get(email="client@example.com")
    coach = Provider.objects.get(user__email="coach@example.com")
    token, secret = api_token_create(actor=actor_for(client_user), name="bench cost")
    http = HttpClient(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2)
    from strawberry.relay import to_base64

    provider_id = to_base64("Provider", coach.pk)

    def days(n: int) -> dict[str, str]:
        return {"s": start.isoformat(), "e": (start + timedelta(days=n)).isoformat()}

    slots = (
        "query ($p: ID!, $s: DateTime!, $e: DateTime!) "
        "{ availableSlots(providerId: $p, start: $s, end: $e) { start end } }"
    )
    free = (
        "query ($u: [String!]!, $s: DateTime!, $e: DateTime!) { freeTime(users: $u, start: $s, "
        "end: $e, durationMinutes: 30, limit: 100) { start end } }"
    )
    occurrences = (
        "query ($s: DateTime!, $e: DateTime!) "
        "{ occurrences(start: $s, end: $e) { items { start end } } }"
    )
    cases = [
        ("availableSlots 7 days", slots, {"p": provider_id, **days(7)}),
        ("availableSlots 60 days", slots, {"p": provider_id, **days(60)}),
        ("freeTime 1 person 30 days", free, {"u": ["client@example.com"], **days(30)}),
        ("freeTime 1 person 365 days", free, {"u": ["client@example.com"], **days(365)}),
        (
            "freeTime 2 people 365 days",
            free,
            {"u": ["client@example.com", "coach@example.com"], **days(365)},
        ),
        ("occurrences 365 days", occurrences, days(365)),
        (
            "reservations, a page of 100",
            "{ reservations(first: 100) { edges { node { start status provider { name } } } } }",
            {},
        ),
    ]

    def run(query: str, variables: dict) -> tuple[float, int]:
        body = json.dumps({"query": query, "variables": variables, "extensions": {"cost": 1}})
        times = []
        for _ in range(RUNS):
            began = time.perf_counter()
            answer = http.post("/graphql", body, content_type="application/json").json()
            times.append((time.perf_counter() - began) * 1000)
            if "errors" in answer:
                raise SystemExit(f"{query}: {answer['errors']}")
        return statistics.median(times), answer["extensions"]["cost"]["estimated"]

    def aliased(query: str, count: int) -> str:
        head, _, selection = query.partition("{ ")
        field = selection.rsplit("}", 1)[0]
        return head + "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + "}"

    sharing = coach.user.free_busy_sharing
    User.objects.filter(pk=coach.user.pk).update(free_busy_sharing="EVERYONE")
    print(f"{'operation':30} {'estimate':>9} {'1 alias ms':>11} {'+1 alias ms':>12} {'ms/1000':>8}")
    try:
        with override_settings(GRAPHQL_COST_LIMIT=10**9, RATE_LIMIT_ENABLED=False):
            for name, query, variables in cases:
                one, estimate = run(query, variables)
                six, _ = run(aliased(query, 6), variables)
                marginal = max(six - one, 0.0) / 5
                print(
                    f"{name:30} {estimate:9d} {one:11.1f} {marginal:12.1f} "
                    f"{1000 * marginal / estimate:8.2f}"
                )
    finally:
        User.objects.filter(pk=coach.user.pk).update(free_busy_sharing=sharing)
        api_token_revoke(actor=actor_for(client_user), token_id=token.pk)


if __name__ == "__main__":
    main()
