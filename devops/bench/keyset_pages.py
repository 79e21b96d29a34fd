"""Benchmark of paging a long list with keyset cursors; prints figures, never asserts a time.

    DEBUG=1 DATABASE_URL=postgresql://... .venv/bin/python devops/bench/keyset_pages.py

Stores one provider with 20,000 confirmed reservations (one client per 1,000), then walks
`reservations(first: 100, after: ...)` from the first page to the last through the whole HTTP
stack (Django test client, Bearer token, staff) and reports the time per page at the start,
the middle and the end of the walk; for comparison it times the OFFSET query an offset cursor
would need at the same depths (ORM only, no HTTP). Everything it creates (e-mails under
bench.invalid) is deleted at the end.
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
os.environ.setdefault("RATE_LIMIT_ENABLED", "0")

import django

django.setup()

from django.db import transaction  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402

from reservation.actors import Actor  # noqa: E402
from reservation.models import Client, Provider, Reservation, ReservationStatus, User  # noqa: E402
from reservation.services.accounts import api_token_create  # noqa: E402

DOMAIN = "bench.invalid"
ROWS = 20_000
PAGE = 100
START = datetime(2031, 1, 1, tzinfo=UTC)
QUERY = """
query Page($after: String) {
  reservations(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id start status } }
  }
}
"""


def store(stamp: str) -> tuple[Provider, str]:
    with transaction.atomic():
        provider = Provider.objects.create(
            user=User.objects.create_user(f"keyset-provider-{stamp}@{DOMAIN}")
        )
        clients = [
            Client.objects.create(user=User.objects.create_user(f"keyset-{i}-{stamp}@{DOMAIN}"))
            for i in range(ROWS // 1000)
        ]
        Reservation.objects.bulk_create(
            [
                Reservation(
                    provider=provider,
                    client=clients[i // 1000],
                    start=START + timedelta(hours=i),
                    end=START + timedelta(hours=i, minutes=50),
                    status=ReservationStatus.CONFIRMED,
                )
                for i in range(ROWS)
            ],
            batch_size=500,  # one statement each: under the statement timeout
        )
        staff = User.objects.create_user(f"keyset-staff-{stamp}@{DOMAIN}", is_staff=True)
    _, secret = api_token_create(actor=Actor(user=staff), name="bench")
    return provider, secret


def walk(secret: str) -> list[float]:
    http = HttpClient(HTTP_HOST="localhost")
    times, after = [], None
    while True:
        began = time.perf_counter()
        response = http.post(
            "/graphql",
            data=json.dumps({"query": QUERY, "variables": {"after": after}}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        times.append(time.perf_counter() - began)
        page = response.json()["data"]["reservations"]
        if not page["pageInfo"]["hasNextPage"]:
            return times
        after = page["pageInfo"]["endCursor"]


def offset_query(provider: Provider, offset: int) -> float:
    queryset = Reservation.objects.filter(provider=provider).order_by("start", "id")
    began = time.perf_counter()
    list(queryset.values_list("id", "start", "status")[offset : offset + PAGE])
    return time.perf_counter() - began


def keyset_query(provider: Provider, offset: int) -> float:
    """The keyset query of a page after the row at `offset` (as strawberry-django builds it:
    start > s OR (start = s AND id > i)), ORM only."""
    queryset = Reservation.objects.filter(provider=provider).order_by("start", "id")
    row = queryset.values_list("start", "id")[offset]
    began = time.perf_counter()
    after = Q(start__gt=row[0]) | Q(start=row[0], id__gt=row[1])
    list(queryset.filter(after).values_list("id", "start", "status")[: PAGE + 1])
    return time.perf_counter() - began


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:6.1f} ms, max {max(values) * 1000:6.1f} ms"


def main() -> None:
    clean()
    stamp = str(int(time.time()))
    provider, secret = store(stamp)
    try:
        walk(secret)  # warm-up: caches, connections, the planner's statistics
        times = walk(secret)
        pages = len(times)
        tenth = max(1, pages // 10)
        print(f"keyset walk over {ROWS} rows, {pages} pages of {PAGE}, through HTTP:")
        print(f"  first {tenth} pages: {ms(times[:tenth])}")
        print(f"  middle {tenth} pages: {ms(times[pages // 2 : pages // 2 + tenth])}")
        print(f"  last {tenth} pages:  {ms(times[-tenth:])}")
        print("one page's query alone at a depth (ORM only, 20 runs each):")
        for offset in (0, ROWS // 2, ROWS - PAGE - 1):
            offsets = [offset_query(provider, offset) for _ in range(20)]
            keysets = [keyset_query(provider, offset) for _ in range(20)]
            print(f"  row {offset:>6}: OFFSET {ms(offsets)}; keyset {ms(keysets)}")
    finally:
        clean()


def clean() -> None:
    """Delete every row of this benchmark (of earlier, interrupted runs too)."""
    mine = {"email__startswith": "keyset-", "email__endswith": f"@{DOMAIN}"}
    with transaction.atomic():
        Reservation.objects.filter(provider__user__email__startswith="keyset-").filter(
            provider__user__email__endswith=f"@{DOMAIN}"
        ).delete()
        Provider.objects.filter(**{f"user__{k}": v for k, v in mine.items()}).delete()
        Client.objects.filter(**{f"user__{k}": v for k, v in mine.items()}).delete()
        User.objects.filter(**mine).delete()


if __name__ == "__main__":
    main()
