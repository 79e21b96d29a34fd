"""`availableSlots` and `bookingRules` through the API."""

from datetime import timedelta

import pytest

from api.tests.conftest import GraphQL, errors, gid, iso
from reservation.models import Client, Provider, ReservationStatus
from reservation.tests.factories import NOW, at, make_policy, make_provider, make_reservation

SLOTS = """
query Slots($providerId: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $providerId, start: $start, end: $end) { start end }
}
"""

RULES = """
query Rules($providerId: ID!) {
  bookingRules(providerId: $providerId) {
    slotLengthMinutes stepMinutes minNoticeMinutes horizonDays holdMinutes
    bufferBeforeMinutes bufferAfterMinutes maxActiveHolds
  }
}
"""


def slot(hour: int, day: int = 8) -> dict[str, str]:
    return {"start": iso(at(day, hour)), "end": iso(at(day, hour + 1))}


def test_slots_skip_live_reservations_only(
    gql: GraphQL, provider: Provider, client_profile: Client
) -> None:
    # Given on Tuesday (the provider works 09–17 UTC): a confirmed booking at 11, a live hold
    # at 12, a hold that ran out at 13, a cancelled booking at 14
    make_reservation(provider=provider, client=client_profile, start=at(8, 11))
    make_reservation(
        provider=provider,
        client=client_profile,
        start=at(8, 12),
        status=ReservationStatus.HELD,
        expires_at=NOW + timedelta(minutes=1),
    )
    make_reservation(
        provider=provider,
        client=client_profile,
        start=at(8, 13),
        status=ReservationStatus.HELD,
        expires_at=NOW,
    )
    make_reservation(
        provider=provider,
        client=client_profile,
        start=at(8, 14),
        status=ReservationStatus.CANCELLED,
    )

    # When anyone (no sign-in needed) asks for Tuesday's slots
    response = gql(
        SLOTS,
        {"providerId": gid("Provider", provider.pk), "start": iso(at(8, 0)), "end": iso(at(9, 0))},
    )

    # Then the confirmed and held hours are missing, the others offered
    assert response.json() == {
        "data": {"availableSlots": [slot(h) for h in (9, 10, 13, 14, 15, 16)]}
    }


def test_slots_respect_the_notice_and_the_range_bounds(gql: GraphQL, provider: Provider) -> None:
    # Now is Monday 08:00 with 24 h notice: Monday has nothing, Tuesday from 09:00. A range
    # ending at 11:00 holds the 10:00 slot but not one starting at 11:00.
    response = gql(
        SLOTS,
        {
            "providerId": gid("Provider", provider.pk),
            "start": iso(NOW),
            "end": iso(at(8, 11)),
        },
    )

    assert response.json() == {"data": {"availableSlots": [slot(9), slot(10)]}}


def test_slots_follow_the_providers_policy(gql: GraphQL, provider: Provider) -> None:
    # Given 30-minute slots every 45 minutes, 2 hours' notice
    make_policy(provider=provider, slot_length_minutes=30, step_minutes=45, min_notice_minutes=120)

    response = gql(
        SLOTS,
        {"providerId": gid("Provider", provider.pk), "start": iso(NOW), "end": iso(at(7, 12))},
    )

    assert response.json() == {
        "data": {
            "availableSlots": [
                {"start": iso(at(7, 10, 30)), "end": iso(at(7, 11))},
                {"start": iso(at(7, 11, 15)), "end": iso(at(7, 11, 45))},
            ]
        }
    }


def test_a_62_day_range_is_accepted(gql: GraphQL, provider: Provider) -> None:
    response = gql(
        SLOTS,
        {
            "providerId": gid("Provider", provider.pk),
            "start": iso(NOW),
            "end": iso(NOW + timedelta(days=62)),
        },
    )

    found = response.json()["data"]["availableSlots"]
    # Weekdays 09–17 for 60 days (the horizon): 8 slots on each of 43 weekdays, the first on
    # Tuesday the 8th, the last on Thursday 7 March (the horizon ends Friday 08:00)
    assert len(found) == 8 * 43
    assert found[0] == slot(9)
    assert found[-1] == {"start": "2030-03-07T16:00:00+00:00", "end": "2030-03-07T17:00:00+00:00"}


SLOTS_FIRST = """
query Slots($providerId: ID!, $start: DateTime!, $end: DateTime!, $first: Int!) {
  availableSlots(providerId: $providerId, start: $start, end: $end, first: $first) { start }
}
"""


def test_first_caps_the_list_and_is_bounded(gql: GraphQL, provider: Provider) -> None:
    week = {
        "providerId": gid("Provider", provider.pk),
        "start": iso(NOW),
        "end": iso(NOW + timedelta(days=7)),
    }

    three = gql(SLOTS_FIRST, {**week, "first": 3})
    too_many = gql(SLOTS_FIRST, {**week, "first": 1001})
    none = gql(SLOTS_FIRST, {**week, "first": 0})

    assert three.json() == {
        "data": {
            "availableSlots": [
                {"start": iso(at(8, 9))},
                {"start": iso(at(8, 10))},
                {"start": iso(at(8, 11))},
            ]
        }
    }
    assert errors(too_many) == [{"path": ["availableSlots"], "code": "INVALID_INPUT"}]
    assert errors(none) == [{"path": ["availableSlots"], "code": "INVALID_INPUT"}]


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (NOW, NOW + timedelta(days=62, seconds=1), "RANGE_TOO_LONG"),
        (NOW, NOW + timedelta(days=400), "RANGE_TOO_LONG"),
        (NOW, NOW, "INVALID_TIME_RANGE"),
        (NOW, NOW - timedelta(seconds=1), "INVALID_TIME_RANGE"),
    ],
    ids=["62 days and a second", "400 days", "empty", "reversed"],
)
def test_bad_ranges_are_rejected(
    gql: GraphQL, provider: Provider, start: object, end: object, code: str
) -> None:
    response = gql(
        SLOTS, {"providerId": gid("Provider", provider.pk), "start": iso(start), "end": iso(end)}
    )

    assert response.json()["data"] is None
    assert errors(response) == [{"path": ["availableSlots"], "code": code}]


def test_a_naive_range_is_rejected(gql: GraphQL, provider: Provider) -> None:
    response = gql(
        SLOTS,
        {
            "providerId": gid("Provider", provider.pk),
            "start": "2030-01-08T00:00:00",
            "end": "2030-01-09T00:00:00Z",
        },
    )

    assert errors(response) == [{"path": ["availableSlots"], "code": "NAIVE_DATETIME"}]


def test_anything_but_an_active_providers_id_gets_the_same_not_found(
    gql: GraphQL, provider: Provider
) -> None:
    # Given an inactive provider
    inactive = make_provider(email="retired@example.com")
    Provider.objects.filter(pk=inactive.pk).update(is_active=False)
    provider_ids = {
        "unknown": gid("Provider", 987654321),
        "inactive": gid("Provider", inactive.pk),
        "wrong type": gid("User", provider.user_id),
        "malformed": "no such thing",
        "not an int": gid("Provider", "1 OR 1=1"),  # type: ignore[arg-type]
        "not canonical": gid("Provider", f"0{provider.pk}"),  # type: ignore[arg-type]
    }

    # When someone asks for the slots of each
    answers = {
        kind: gql(
            SLOTS, {"providerId": provider_id, "start": iso(at(8, 0)), "end": iso(at(9, 0))}
        ).json()
        for kind, provider_id in provider_ids.items()
    }

    # Then an unknown provider is NOT_FOUND, and every other case is answered word for word
    # the same, so nothing can be learnt by probing
    unknown = answers.pop("unknown")
    assert unknown["data"] is None
    assert [e["extensions"] for e in unknown["errors"]] == [{"code": "NOT_FOUND"}]
    assert answers == dict.fromkeys(answers, unknown)


def test_booking_rules_are_the_providers_policy(gql: GraphQL, provider: Provider) -> None:
    make_policy(
        provider=provider,
        slot_length_minutes=45,
        step_minutes=15,
        min_notice_minutes=90,
        horizon_days=14,
        hold_minutes=10,
        buffer_before_minutes=5,
        buffer_after_minutes=10,
        max_active_holds=2,
    )

    response = gql(RULES, {"providerId": gid("Provider", provider.pk)})

    assert response.json() == {
        "data": {
            "bookingRules": {
                "slotLengthMinutes": 45,
                "stepMinutes": 15,
                "minNoticeMinutes": 90,
                "horizonDays": 14,
                "holdMinutes": 10,
                "bufferBeforeMinutes": 5,
                "bufferAfterMinutes": 10,
                "maxActiveHolds": 2,
            }
        }
    }


def test_booking_rules_default_to_the_global_policy(gql: GraphQL, provider: Provider) -> None:
    response = gql(RULES, {"providerId": gid("Provider", provider.pk)})

    assert response.json() == {
        "data": {
            "bookingRules": {
                "slotLengthMinutes": 60,
                "stepMinutes": 60,
                "minNoticeMinutes": 1440,
                "horizonDays": 60,
                "holdMinutes": 30,
                "bufferBeforeMinutes": 0,
                "bufferAfterMinutes": 0,
                "maxActiveHolds": 3,
            }
        }
    }
