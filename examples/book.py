"""Book a slot end to end over HTTP, with nothing but the standard library.

    python examples/book.py --token <client token from `make run`>

Lists providers, finds the first free slot, reserves it (a 30-minute hold), confirms it and
prints its audit log. Every request is a plain GraphQL POST with a Bearer token.
"""

import argparse
import json
import sys
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

PROVIDERS = "query { providers(first: 10) { edges { node { id name timeZone } } } }"
SLOTS = """
query Slots($provider: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $provider, start: $start, end: $end) { start end }
}"""
RESERVE = """
mutation Reserve($provider: ID!, $start: DateTime!, $key: String!) {
  reservationCreate(input: {providerId: $provider, start: $start, idempotencyKey: $key}) {
    ... on Reservation { id status start end expiresAt }
    ... on OperationInfo { messages { code message field } }
  }
}"""
CONFIRM = """
mutation Confirm($id: ID!) {
  reservationConfirm(id: $id) {
    ... on Reservation { id status confirmedAt }
    ... on OperationInfo { messages { code message } }
  }
}"""
LOG = """
query Log($id: ID!) {
  auditLog(subjectId: $id, first: 20) { edges { node { at actorKind action changes } } }
}"""


def call(url: str, token: str, query: str, **variables: object) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = json.load(response)
    if payload.get("errors"):
        sys.exit(f"error: {json.dumps(payload['errors'], indent=2)}")
    return payload["data"]


def show(title: str, data: object) -> None:
    print(f"# {title}\n{json.dumps(data, indent=2)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/graphql")
    parser.add_argument("--token", required=True, help="a client's API token")
    args = parser.parse_args()

    providers = call(args.url, args.token, PROVIDERS)["providers"]["edges"]
    provider = providers[0]["node"]
    show("provider", provider)

    start = datetime.now(UTC)
    slots = call(
        args.url,
        args.token,
        SLOTS,
        provider=provider["id"],
        start=start.isoformat(),
        end=(start + timedelta(days=14)).isoformat(),
    )
    show("first three free slots", slots["availableSlots"][:3])

    held = call(
        args.url,
        args.token,
        RESERVE,
        provider=provider["id"],
        start=slots["availableSlots"][0]["start"],
        key=str(uuid.uuid4()),
    )
    show("reservationCreate", held)
    reservation = held["reservationCreate"]
    if "id" not in reservation:
        sys.exit(1)

    show("reservationConfirm", call(args.url, args.token, CONFIRM, id=reservation["id"]))
    show("auditLog", call(args.url, args.token, LOG, id=reservation["id"]))


if __name__ == "__main__":
    main()
