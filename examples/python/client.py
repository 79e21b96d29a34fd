"""Book a slot with the `gql` library: list slots, reserve, confirm, page through reservations.

    RENDEZVOUS_URL=http://127.0.0.1:8000/graphql RENDEZVOUS_TOKEN=rdv_... \\
        .venv/bin/python examples/python/client.py

The token is a client's API token (`make run` prints one). The documents are
examples/operations/*.graphql, the same the TypeScript client is generated from; gql checks
them against the schema it fetches from the server (introspection) before sending anything.
Every request carries `Authorization: Bearer`, so no CSRF token is involved. Exits non-zero
when the server answers anything but what is expected.
"""

import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport

OPERATIONS = gql((Path(__file__).parents[1] / "operations" / "booking.graphql").read_text())
PAGE_SIZE = 2


def explain(code: str | None) -> str:
    """What a client does about each error code of the booking mutations."""
    match code:
        case "SLOT_UNAVAILABLE":
            return "taken meanwhile (or not on offer): list the slots again and pick another"
        case "NOTICE_TOO_SHORT":
            return "too soon: pick a later slot"
        case "BEYOND_HORIZON":
            return "too far ahead: pick an earlier slot"
        case "HOLD_LIMIT_REACHED":
            return "too many unconfirmed holds: confirm or cancel one first"
        case "HOLD_EXPIRED":
            return "the hold lapsed before confirmation: reserve again"
        case "RESERVATION_NOT_ACTIVE":
            return "cancelled or expired: nothing to confirm"
        case "IDEMPOTENCY_KEY_REUSED":
            return "this key was used for another request: use a fresh key"
        case "NAIVE_DATETIME" | "INVALID_TIME_RANGE" | "RANGE_TOO_LONG" | "INVALID_INPUT":
            return "a bug in this client: fix the request"
        case "UNAUTHENTICATED":
            return "sign in again: the token is missing, revoked or expired"
        case "PERMISSION_DENIED" | "NOT_FOUND":
            return "not yours, or gone"
        case "RATE_LIMITED":
            return "slow down and retry later"
        case _:
            return f"unexpected code {code!r}: show the message to the user"


def run(session: Any, operation: str, **variables: Any) -> dict[str, Any]:
    request = GraphQLRequest(OPERATIONS, variable_values=variables, operation_name=operation)
    return session.execute(request)


def reserve(session: Any, provider: str, start: str) -> dict[str, Any]:
    return run(session, "Reserve", provider=provider, start=start, key=str(uuid.uuid4()))[
        "reservationCreate"
    ]


def expect_refusal(result: dict[str, Any], code: str) -> None:
    if result["__typename"] != "OperationInfo":
        sys.exit(f"expected {code}, got {result}")
    got = result["messages"][0]["code"]
    print(f"  refused {got}: {explain(got)}")
    if got != code:
        sys.exit(f"expected {code}, got {got}")


def main() -> None:
    url = os.environ.get("RENDEZVOUS_URL", "http://127.0.0.1:8000/graphql")
    token = os.environ["RENDEZVOUS_TOKEN"]
    transport = RequestsHTTPTransport(
        url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10, retries=0
    )
    client = Client(transport=transport, fetch_schema_from_transport=True)
    with client as session:
        provider = run(session, "Providers")["providers"]["edges"][0]["node"]
        print(f"provider: {provider['name']} ({provider['timeZone']})")

        now = datetime.now(UTC)
        slots = run(
            session,
            "Slots",
            provider=provider["id"],
            start=(now + timedelta(days=2)).isoformat(),
            end=(now + timedelta(days=16)).isoformat(),
            first=20,
        )["availableSlots"]
        print(f"{len(slots)} slots, the first at {slots[0]['start']}")

        booked = []
        for slot in slots[:3]:  # three, so that the list below has more than one page
            held = reserve(session, provider["id"], slot["start"])
            if held["__typename"] != "Reservation":
                sys.exit(f"reserve failed: {held['messages']}")
            print(f"held {held['id']} at {held['start']} until {held['expiresAt']}")
            confirmed = run(session, "Confirm", id=held["id"])["reservationConfirm"]
            if confirmed["__typename"] != "Reservation":
                sys.exit(f"confirm failed: {confirmed['messages']}")
            print(f"confirmed {confirmed['id']}: {confirmed['status']}")
            booked.append(confirmed["id"])

        print("the first slot again, with another idempotency key:")
        expect_refusal(reserve(session, provider["id"], slots[0]["start"]), "SLOT_UNAVAILABLE")
        print("a slot one hour from now:")
        soon = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        expect_refusal(reserve(session, provider["id"], soon.isoformat()), "NOTICE_TOO_SHORT")

        seen: list[str] = []
        after = None
        while True:
            page = run(session, "MyReservations", first=PAGE_SIZE, after=after)["reservations"]
            seen += [edge["node"]["id"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        print(f"paged through {len(seen)} of {page['totalCount']} reservations, {PAGE_SIZE} a page")
        if not set(booked) <= set(seen) or len(seen) != page["totalCount"]:
            sys.exit("the list of reservations does not hold what was just booked")

        print("confirming a reservation that does not exist:")
        unknown = run(session, "Confirm", id="UmVzZXJ2YXRpb246OTk5OTk5")  # Reservation:999999
        expect_refusal(unknown["reservationConfirm"], "NOT_FOUND")

    # A refusal of the whole request has its code in `errors[].extensions.code`.
    print("a revoked or mistyped token:")
    stranger = RequestsHTTPTransport(
        url=url, headers={"Authorization": "Bearer rdv_not-a-token"}, timeout=10, retries=0
    )
    try:
        with Client(transport=stranger) as session:
            run(session, "Providers")
        sys.exit("a request with an unknown token succeeded")
    except TransportQueryError as error:
        code = (error.errors or [{}])[0].get("extensions", {}).get("code")
        print(f"  refused {code}: {explain(code)}")
        if code != "UNAUTHENTICATED":
            sys.exit(f"expected UNAUTHENTICATED, got {code}")


if __name__ == "__main__":
    main()
