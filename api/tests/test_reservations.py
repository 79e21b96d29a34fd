"""Reservation writes through the API: hold, confirm, cancel, reschedule."""

from datetime import timedelta
from typing import Any

import pytest

from api.tests.conftest import GraphQL, gid, iso, token_of
from reservation.models import Client, Provider, Reservation, ReservationStatus
from reservation.tests.factories import (
    NOW,
    at,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
    row_counts,
)

RESERVATION_FIELDS = """
  id status start end expiresAt confirmedAt cancelledAt cancelReason
  provider { name timeZone }
  client { user { email } }
"""

CREATE = f"""
mutation Create($input: ReservationCreateInput!) {{
  reservationCreate(input: $input) {{
    ... on Reservation {{ {RESERVATION_FIELDS} }}
    ... on OperationInfo {{ messages {{ code field }} }}
  }}
}}
"""

CONFIRM = f"""
mutation Confirm($id: ID!) {{
  reservationConfirm(id: $id) {{
    ... on Reservation {{ {RESERVATION_FIELDS} }}
    ... on OperationInfo {{ messages {{ code field }} }}
  }}
}}
"""

CANCEL = f"""
mutation Cancel($id: ID!, $reason: String!) {{
  reservationCancel(id: $id, reason: $reason) {{
    ... on Reservation {{ {RESERVATION_FIELDS} }}
    ... on OperationInfo {{ messages {{ code field }} }}
  }}
}}
"""

RESCHEDULE = f"""
mutation Reschedule($id: ID!, $start: DateTime!) {{
  reservationReschedule(id: $id, start: $start) {{
    ... on Reservation {{ {RESERVATION_FIELDS} }}
    ... on OperationInfo {{ messages {{ code field }} }}
  }}
}}
"""

SLOT_STARTS = """
query SlotStarts($providerId: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $providerId, start: $start, end: $end) { start }
}
"""


def held(provider: Provider, reservation: Reservation, **changes: Any) -> dict[str, Any]:
    """What the API shows for a live hold by Cleo (the `client_profile` fixture)."""
    return {
        "id": gid("Reservation", reservation.pk),
        "status": "HELD",
        "start": iso(reservation.start),
        "end": iso(reservation.end),
        "expiresAt": iso(NOW + timedelta(minutes=30)),
        "confirmedAt": None,
        "cancelledAt": None,
        "cancelReason": "",
        "provider": {"name": provider.display_name, "timeZone": "UTC"},
        "client": {"user": {"email": "cleo@example.com"}},
        **changes,
    }


def messages(mutation: str, code: str, field: str | None = None) -> dict[str, Any]:
    return {"data": {mutation: {"messages": [{"code": code, "field": field}]}}}


def create_input(provider: Provider, start: Any, key: str = "") -> dict[str, Any]:
    return {
        "input": {
            "providerId": gid("Provider", provider.pk),
            "start": iso(start),
            "idempotencyKey": key,
        }
    }


# --- reservationCreate -----------------------------------------------------------------------


def test_create_holds_the_slot(
    gql: GraphQL, provider: Provider, client_profile: Client, client_token: str
) -> None:
    # When the client holds Tuesday 09:00
    response = gql(CREATE, create_input(provider, at(8, 9)), token=client_token)

    # Then it is held for 30 minutes
    reservation = Reservation.objects.get()
    assert response.json() == {"data": {"reservationCreate": held(provider, reservation)}}
    assert (reservation.start, reservation.end) == (at(8, 9), at(8, 10))
    assert reservation.client == client_profile
    # And the slot is no longer offered
    slots = gql(
        SLOT_STARTS,
        {"providerId": gid("Provider", provider.pk), "start": iso(at(8, 9)), "end": iso(at(8, 11))},
    )
    assert slots.json() == {"data": {"availableSlots": [{"start": iso(at(8, 10))}]}}


def test_the_same_idempotency_key_returns_the_same_hold(
    gql: GraphQL, provider: Provider, client_token: str
) -> None:
    first = gql(CREATE, create_input(provider, at(8, 9), key="k-1"), token=client_token)

    again = gql(CREATE, create_input(provider, at(8, 9), key="k-1"), token=client_token)

    assert again.json() == first.json()
    assert Reservation.objects.count() == 1


def test_another_idempotency_key_makes_another_hold(
    gql: GraphQL, provider: Provider, client_token: str
) -> None:
    gql(CREATE, create_input(provider, at(8, 9), key="k-1"), token=client_token)

    other = gql(CREATE, create_input(provider, at(8, 10), key="k-2"), token=client_token)

    assert other.json()["data"]["reservationCreate"]["start"] == iso(at(8, 10))
    assert Reservation.objects.count() == 2


def test_an_idempotency_key_cannot_be_reused_for_another_slot(
    gql: GraphQL, provider: Provider, client_token: str
) -> None:
    gql(CREATE, create_input(provider, at(8, 9), key="k-1"), token=client_token)
    before = row_counts()

    response = gql(CREATE, create_input(provider, at(8, 10), key="k-1"), token=client_token)

    assert response.json() == messages(
        "reservationCreate", "IDEMPOTENCY_KEY_REUSED", "idempotencyKey"
    )
    assert row_counts() == before


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (at(8, 11), "SLOT_UNAVAILABLE"),  # taken
        (at(8, 9, 30), "SLOT_UNAVAILABLE"),  # off the hourly grid
        (at(8, 17), "SLOT_UNAVAILABLE"),  # after hours
        (at(12, 10), "SLOT_UNAVAILABLE"),  # Saturday
        (at(7, 12), "NOTICE_TOO_SHORT"),  # today, within 24 hours
        (NOW + timedelta(days=63, hours=1), "BEYOND_HORIZON"),  # Monday 11 March 09:00
    ],
    ids=["taken", "off grid", "after hours", "weekend", "short notice", "beyond horizon"],
)
def test_create_rejects_what_is_not_offered(
    gql: GraphQL,
    provider: Provider,
    client_profile: Client,
    client_token: str,
    start: Any,
    code: str,
) -> None:
    # Given Tuesday 11:00 is taken by another client
    make_reservation(provider=provider, client=make_client(), start=at(8, 11))
    before = row_counts()

    response = gql(CREATE, create_input(provider, start), token=client_token)

    assert response.json() == messages("reservationCreate", code, "start")
    assert row_counts() == before


def test_the_slot_next_to_a_taken_one_is_fine(
    gql: GraphQL, provider: Provider, client_token: str
) -> None:
    make_reservation(provider=provider, client=make_client(), start=at(8, 11))

    response = gql(CREATE, create_input(provider, at(8, 12)), token=client_token)

    assert response.json()["data"]["reservationCreate"]["status"] == "HELD"


def test_the_same_time_with_another_provider_is_fine(
    gql: GraphQL, provider: Provider, client_token: str
) -> None:
    make_reservation(provider=provider, client=make_client(), start=at(8, 11))
    other = make_provider(email="other@example.com")

    response = gql(CREATE, create_input(other, at(8, 11)), token=client_token)

    assert response.json()["data"]["reservationCreate"]["status"] == "HELD"


def test_a_naive_start_is_rejected(gql: GraphQL, provider: Provider, client_token: str) -> None:
    variables = create_input(provider, at(8, 9))
    variables["input"]["start"] = "2030-01-08T09:00:00"

    response = gql(CREATE, variables, token=client_token)

    assert response.json() == messages("reservationCreate", "NAIVE_DATETIME", "start")
    assert Reservation.objects.count() == 0


def test_a_fourth_hold_is_refused(gql: GraphQL, provider: Provider, client_token: str) -> None:
    # Given three live holds (the default limit)
    for hour in (9, 10, 11):
        assert (
            gql(CREATE, create_input(provider, at(8, hour)), token=client_token).status_code == 200
        )
    before = row_counts()

    # When the client tries a fourth
    response = gql(CREATE, create_input(provider, at(8, 12)), token=client_token)

    # Then it is refused
    assert response.json() == messages("reservationCreate", "HOLD_LIMIT_REACHED")
    assert row_counts() == before


def test_a_confirmed_booking_frees_a_hold(
    gql: GraphQL, provider: Provider, client_token: str
) -> None:
    make_policy(provider=provider, max_active_holds=1)
    first = gql(CREATE, create_input(provider, at(8, 9)), token=client_token)
    gql(CONFIRM, {"id": first.json()["data"]["reservationCreate"]["id"]}, token=client_token)

    response = gql(CREATE, create_input(provider, at(8, 10)), token=client_token)

    assert response.json()["data"]["reservationCreate"]["status"] == "HELD"


@pytest.mark.parametrize("kind", ["unknown", "wrong type", "malformed"])
def test_create_with_a_bad_provider_id_is_not_found(
    gql: GraphQL, provider: Provider, client_token: str, kind: str
) -> None:
    provider_id = {
        "unknown": gid("Provider", 987654321),
        "wrong type": gid("Reservation", provider.pk),
        "malformed": "%%%",
    }[kind]

    response = gql(
        CREATE, {"input": {"providerId": provider_id, "start": iso(at(8, 9))}}, token=client_token
    )

    assert response.json() == messages("reservationCreate", "NOT_FOUND")


def test_only_clients_make_reservations(
    gql: GraphQL, provider: Provider, provider_token: str
) -> None:
    other = make_provider(email="other@example.com")

    as_provider = gql(CREATE, create_input(other, at(8, 9)), token=provider_token)
    anonymous = gql(CREATE, create_input(other, at(8, 9)))

    assert as_provider.json() == messages("reservationCreate", "PERMISSION_DENIED")
    assert anonymous.json() == messages("reservationCreate", "UNAUTHENTICATED")
    assert Reservation.objects.count() == 0


def test_an_overlong_idempotency_key_is_invalid(
    gql: GraphQL, provider: Provider, client_token: str
) -> None:
    response = gql(CREATE, create_input(provider, at(8, 9), key="k" * 201), token=client_token)

    assert response.json() == messages("reservationCreate", "INVALID_INPUT", "idempotencyKey")


# --- reservationConfirm ----------------------------------------------------------------------


def test_confirm_keeps_the_slot_and_is_idempotent(
    gql: GraphQL, provider: Provider, hold: Reservation, client_token: str
) -> None:
    response = gql(CONFIRM, {"id": gid("Reservation", hold.pk)}, token=client_token)
    again = gql(CONFIRM, {"id": gid("Reservation", hold.pk)}, token=client_token)

    assert response.json() == {
        "data": {
            "reservationConfirm": held(
                provider, hold, status="CONFIRMED", expiresAt=None, confirmedAt=iso(NOW)
            )
        }
    }
    assert again.json() == response.json()


def test_a_lapsed_hold_cannot_be_confirmed_and_is_marked_expired(
    gql: GraphQL, hold: Reservation, client_token: str
) -> None:
    Reservation.objects.filter(pk=hold.pk).update(expires_at=NOW)

    response = gql(CONFIRM, {"id": gid("Reservation", hold.pk)}, token=client_token)

    assert response.json() == messages("reservationConfirm", "HOLD_EXPIRED")
    hold.refresh_from_db()
    assert hold.status == ReservationStatus.EXPIRED


def test_a_cancelled_reservation_cannot_be_confirmed(
    gql: GraphQL, hold: Reservation, client_token: str
) -> None:
    Reservation.objects.filter(pk=hold.pk).update(
        status=ReservationStatus.CANCELLED, expires_at=None
    )

    response = gql(CONFIRM, {"id": gid("Reservation", hold.pk)}, token=client_token)

    assert response.json() == messages("reservationConfirm", "RESERVATION_NOT_ACTIVE")


def test_only_the_client_confirms(
    gql: GraphQL, hold: Reservation, provider_token: str, stranger_token: str
) -> None:
    hold_id = gid("Reservation", hold.pk)

    by_provider = gql(CONFIRM, {"id": hold_id}, token=provider_token)
    by_stranger = gql(CONFIRM, {"id": hold_id}, token=stranger_token)
    anonymous = gql(CONFIRM, {"id": hold_id})

    assert by_provider.json() == messages("reservationConfirm", "PERMISSION_DENIED")
    assert by_stranger.json() == messages("reservationConfirm", "NOT_FOUND")
    assert anonymous.json() == messages("reservationConfirm", "UNAUTHENTICATED")
    hold.refresh_from_db()
    assert hold.status == ReservationStatus.HELD


# --- reservationCancel -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["client", "provider", "staff"])
def test_client_provider_or_staff_cancel(
    gql: GraphQL,
    provider: Provider,
    hold: Reservation,
    client_token: str,
    provider_token: str,
    staff_token: str,
    who: str,
) -> None:
    token = {"client": client_token, "provider": provider_token, "staff": staff_token}[who]

    response = gql(CANCEL, {"id": gid("Reservation", hold.pk), "reason": " ill "}, token=token)
    again = gql(CANCEL, {"id": gid("Reservation", hold.pk), "reason": "again"}, token=token)

    cancelled = held(
        provider,
        hold,
        status="CANCELLED",
        expiresAt=None,
        cancelledAt=iso(NOW),
        cancelReason="ill",
    )
    assert response.json() == {"data": {"reservationCancel": cancelled}}
    assert again.json() == {"data": {"reservationCancel": cancelled}}


def test_cancelling_frees_the_slot(
    gql: GraphQL, provider: Provider, hold: Reservation, client_token: str
) -> None:
    gql(CANCEL, {"id": gid("Reservation", hold.pk), "reason": ""}, token=client_token)

    response = gql(CREATE, create_input(provider, at(8, 9)), token=token_of(make_client().user))

    assert response.json()["data"]["reservationCreate"]["status"] == "HELD"


def test_a_stranger_cannot_cancel(gql: GraphQL, hold: Reservation, stranger_token: str) -> None:
    response = gql(CANCEL, {"id": gid("Reservation", hold.pk), "reason": ""}, token=stranger_token)

    assert response.json() == messages("reservationCancel", "NOT_FOUND")
    hold.refresh_from_db()
    assert hold.status == ReservationStatus.HELD


def test_a_lapsed_hold_cannot_be_cancelled(
    gql: GraphQL, hold: Reservation, client_token: str
) -> None:
    Reservation.objects.filter(pk=hold.pk).update(expires_at=NOW - timedelta(seconds=1))

    response = gql(CANCEL, {"id": gid("Reservation", hold.pk), "reason": ""}, token=client_token)

    assert response.json() == messages("reservationCancel", "RESERVATION_NOT_ACTIVE")


def test_an_overlong_reason_is_invalid(gql: GraphQL, hold: Reservation, client_token: str) -> None:
    response = gql(
        CANCEL, {"id": gid("Reservation", hold.pk), "reason": "x" * 501}, token=client_token
    )

    assert response.json() == messages("reservationCancel", "INVALID_INPUT", "reason")
    hold.refresh_from_db()
    assert hold.status == ReservationStatus.HELD


# --- reservationReschedule -------------------------------------------------------------------


def test_reschedule_moves_the_reservation(
    gql: GraphQL, provider: Provider, hold: Reservation, client_token: str
) -> None:
    response = gql(
        RESCHEDULE, {"id": gid("Reservation", hold.pk), "start": iso(at(9, 14))}, token=client_token
    )

    hold.refresh_from_db()
    assert (hold.start, hold.end) == (at(9, 14), at(9, 15))
    assert response.json() == {"data": {"reservationReschedule": held(provider, hold)}}


def test_reschedule_within_its_own_time_is_allowed(
    gql: GraphQL, provider: Provider, client_profile: Client, client_token: str
) -> None:
    # Given a 30-minute grid with 60-minute slots, a booking at 09:00
    make_policy(provider=provider, step_minutes=30)
    booked = make_reservation(provider=provider, client=client_profile, start=at(8, 9))

    # When it moves half an hour later, overlapping its old self
    response = gql(
        RESCHEDULE,
        {"id": gid("Reservation", booked.pk), "start": iso(at(8, 9, 30))},
        token=client_token,
    )

    assert response.json()["data"]["reservationReschedule"]["start"] == iso(at(8, 9, 30))


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (at(8, 11), "SLOT_UNAVAILABLE"),
        (at(8, 18), "SLOT_UNAVAILABLE"),
        (at(7, 10), "NOTICE_TOO_SHORT"),
    ],
    ids=["taken", "after hours", "short notice"],
)
def test_reschedule_to_what_is_not_offered_keeps_the_old_time(
    gql: GraphQL,
    provider: Provider,
    hold: Reservation,
    client_token: str,
    start: Any,
    code: str,
) -> None:
    make_reservation(provider=provider, client=make_client(), start=at(8, 11))
    before = row_counts()

    response = gql(
        RESCHEDULE, {"id": gid("Reservation", hold.pk), "start": iso(start)}, token=client_token
    )

    assert response.json() == messages("reservationReschedule", code, "start")
    hold.refresh_from_db()
    assert hold.start == at(8, 9)
    assert row_counts() == before


def test_a_cancelled_reservation_cannot_be_rescheduled(
    gql: GraphQL, hold: Reservation, client_token: str
) -> None:
    Reservation.objects.filter(pk=hold.pk).update(
        status=ReservationStatus.CANCELLED, expires_at=None
    )

    response = gql(
        RESCHEDULE, {"id": gid("Reservation", hold.pk), "start": iso(at(9, 9))}, token=client_token
    )

    assert response.json() == messages("reservationReschedule", "RESERVATION_NOT_ACTIVE")


def test_a_stranger_cannot_reschedule(gql: GraphQL, hold: Reservation, stranger_token: str) -> None:
    response = gql(
        RESCHEDULE,
        {"id": gid("Reservation", hold.pk), "start": iso(at(9, 9))},
        token=stranger_token,
    )

    assert response.json() == messages("reservationReschedule", "NOT_FOUND")
    hold.refresh_from_db()
    assert hold.start == at(8, 9)


def test_an_unknown_reservation_cannot_be_rescheduled(gql: GraphQL, client_token: str) -> None:
    response = gql(
        RESCHEDULE,
        {"id": gid("Reservation", 987654321), "start": iso(at(9, 9))},
        token=client_token,
    )

    assert response.json() == messages("reservationReschedule", "NOT_FOUND")
