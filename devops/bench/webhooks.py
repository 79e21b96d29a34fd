"""Webhook throughput: N deliveries to a local receiver through a real Procrastinate worker.

    DEBUG=1 DATABASE_URL=postgresql://postgres@127.0.0.1:5432/NAME \
        .venv/bin/python devops/bench/webhooks.py [--count 1000] [--concurrency 8]

Builds a provider, a client, one reservation and the provider's webhook pointing at a
receiver on loopback (a ThreadingHTTPServer that checks each signature), then records `count`
changes of that reservation through `audit_record_many` in one transaction: the same path a
service takes, so it queues `count` deliveries and jobs (the emission is timed too). Then it
starts `manage.py procrastinate worker --queues webhooks` and waits until every delivery is
DELIVERED. Prints the emission time, deliveries per second (from the first attempt to the last
delivery, worker start-up left out) and the wall time including start-up. Everything it made
is removed afterwards (audit entries stay, as audit entries do).
"""

import argparse
import hashlib
import hmac
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
os.environ["REMINDER_ALLOW_PRIVATE_NETWORKS"] = "1"  # the receiver is on loopback

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402
from django.db.models import Max, Min  # noqa: E402

from reservation.actors import Actor, utcnow  # noqa: E402
from reservation.models import (  # noqa: E402
    Client,
    Provider,
    Reservation,
    ReservationStatus,
    User,
    Webhook,
    WebhookDelivery,
)
from reservation.services.audit import audit_record_many  # noqa: E402
from reservation.services.webhooks import webhook_create  # noqa: E402

DOMAIN = "webhooks-bench.invalid"
SECRET = "bench-secret-0123456789"


class Counting(BaseHTTPRequestHandler):
    """Answers 204; counts requests and signatures that do not verify."""

    received = 0
    bad = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        timestamp = self.headers.get("X-Rendezvous-Timestamp", "")
        mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        good = self.headers.get("X-Rendezvous-Signature") == f"sha256={mac.hexdigest()}"
        with Counting.lock:
            Counting.received += 1
            Counting.bad += not good
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def build(url: str) -> tuple[Reservation, Webhook]:
    now = utcnow()
    provider_user = User.objects.create(email=f"pat@{DOMAIN}")
    provider = Provider.objects.create(user=provider_user, display_name="Bench")
    client = Client.objects.create(user=User.objects.create(email=f"cleo@{DOMAIN}"))
    start = now.replace(microsecond=0) + timedelta(days=3)
    reservation = Reservation.objects.create(
        provider=provider,
        client=client,
        start=start,
        end=start + timedelta(hours=1),
        status=ReservationStatus.CONFIRMED,
    )
    webhook = webhook_create(
        actor=Actor(user=provider_user),
        url=url,
        events=["reservation.confirmed"],
        secret=SECRET,
        now=now,
    )
    return reservation, webhook


def clean() -> None:
    Webhook.objects.filter(owner__email__endswith=DOMAIN).delete()
    Reservation.objects.filter(provider__user__email__endswith=DOMAIN).delete()
    Provider.objects.filter(user__email__endswith=DOMAIN).delete()
    Client.objects.filter(user__email__endswith=DOMAIN).delete()
    User.objects.filter(email__endswith=DOMAIN).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"

    clean()
    reservation, webhook = build(url)
    try:
        started = time.perf_counter()
        with transaction.atomic():
            audit_record_many(
                actor=Actor(user=reservation.client.user),
                action="reservation.confirm",
                items=[(reservation, {"n": i}) for i in range(args.count)],
                at=utcnow(),
            )
        emitted = time.perf_counter() - started
        queued = WebhookDelivery.objects.filter(webhook=webhook).count()
        print(f"emitted {queued} deliveries (rows + jobs) in {emitted * 1000:.0f} ms")

        wall = time.perf_counter()
        worker = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "procrastinate",
                "worker",
                "--queues",
                "webhooks",
                "--concurrency",
                str(args.concurrency),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            done = WebhookDelivery.objects.filter(webhook=webhook, status="DELIVERED")
            deadline = time.monotonic() + 600
            while done.count() < args.count and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        wall = time.perf_counter() - wall
        span = WebhookDelivery.objects.filter(webhook=webhook).aggregate(
            first=Min("attempt_log__at"), last=Max("delivered_at")
        )
        delivered = done.count()
        seconds = (span["last"] - span["first"]).total_seconds() if delivered else 0.0
        print(
            f"delivered {delivered}/{args.count} to {url} with --concurrency "
            f"{args.concurrency}; receiver got {Counting.received}, "
            f"{Counting.bad} bad signatures"
        )
        if seconds:
            print(
                f"{delivered / seconds:.0f} deliveries/s (first attempt to last delivery, "
                f"{seconds:.2f} s); {wall:.2f} s wall including worker start-up"
            )
    finally:
        clean()
        server.shutdown()


if __name__ == "__main__":
    main()
