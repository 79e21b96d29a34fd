"""Providers' calendars through the API: windows, working hours and time off."""

from datetime import timedelta
from typing import Any

import pytest

from api.tests.conftest import GraphQL, gid, iso, token_of
from reservation.models import AvailabilityWindow, Provider, TimeOff, WorkingHours
from reservation.tests.factories import NOW, at, make_provider, make_window, row_counts

WINDOWS_ADD = """
mutation WindowsAdd($windows: [WindowInput!]!) {
  availabilityBulkCreate(windows: $windows) {
    ... on AvailabilityWindows { windows { start end } }
    ... on OperationInfo { messages { code field } }
  }
}
"""

WINDOWS_DELETE = """
mutation WindowsDelete($ids: [ID!]!) {
  availabilityDelete(ids: $ids) {
    ... on DeleteResult { deleted }
    ... on OperationInfo { messages { code field } }
  }
}
"""

WINDOWS = """
query Windows($start: DateTime, $end: DateTime) {
  availabilityWindows(start: $start, end: $end) {
    totalCount
    edges { node { start end } }
  }
}
"""

HOURS_SET = """
mutation HoursSet($hours: [ShiftInput!]!, $timeZone: String) {
  workingHoursSet(hours: $hours, timeZone: $timeZone) {
    ... on WorkingHoursResult { timeZone hours { weekday start end } }
    ... on OperationInfo { messages { code field } }
  }
}
"""

HOURS = """
query Hours {
  workingHours { timeZone hours { weekday start end } }
}
"""

TIME_OFF_CREATE = """
mutation TimeOffCreate($start: DateTime!, $end: DateTime!, $reason: String!) {
  timeOffCreate(start: $start, end: $end, reason: $reason) {
    ... on TimeOff { start end reason }
    ... on OperationInfo { messages { code field } }
  }
}
"""

TIME_OFF_DELETE = """
mutation TimeOffDelete($id: ID!) {
  timeOffDelete(id: $id) {
    ... on DeleteResult { deleted }
    ... on OperationInfo { messages { code field } }
  }
}
"""

TIME_OFF = """
query TimeOff {
  timeOff { totalCount edges { node { start end reason } } }
}
"""

SLOT_STARTS = """
query SlotStarts($providerId: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $providerId, start: $start, end: $end) { start }
}
"""


def window(start: Any, end: Any) -> dict[str, str]:
    return {"start": iso(start), "end": iso(end)}


def slot_starts(gql: GraphQL, provider: Provider, day: int) -> list[str]:
    """Starts of the provider's slots on one January 2030 day (UTC)."""
    response = gql(
        SLOT_STARTS,
        {
            "providerId": gid("Provider", provider.pk),
            "start": iso(at(day, 0)),
            "end": iso(at(day + 1, 0)),
        },
    )
    return [slot["start"] for slot in response.json()["data"]["availableSlots"]]


def operation_info(mutation: str, code: str, field: str | None) -> dict[str, Any]:
    return {"data": {mutation: {"messages": [{"code": code, "field": field}]}}}


# --- availabilityBulkCreate / availabilityDelete ---------------------------------------------


def test_windows_merge_with_each_other_and_with_existing_ones(
    gql: GraphQL, provider: Provider, provider_token: str
) -> None:
    # Given a window on the 10th, and one on the 20th
    make_window(provider=provider, start=at(10, 9), end=at(10, 10))
    make_window(provider=provider, start=at(20, 9), end=at(20, 10))

    # When the provider adds one touching the first, one overlapping that, and one apart
    # (given in +01:00)
    response = gql(
        WINDOWS_ADD,
        {
            "windows": [
                window(at(10, 10), at(10, 11)),
                window(at(10, 10, 30), at(10, 12)),
                {"start": "2030-01-11T09:00:00+01:00", "end": "2030-01-11T10:00:00+01:00"},
            ]
        },
        token=provider_token,
    )

    # Then the answer is the merged windows covering what was submitted, in UTC
    assert response.json() == {
        "data": {
            "availabilityBulkCreate": {
                "windows": [window(at(10, 9), at(10, 12)), window(at(11, 8), at(11, 9))]
            }
        }
    }
    # And the provider's windows are those plus the untouched one
    assert gql(WINDOWS, token=provider_token).json() == {
        "data": {
            "availabilityWindows": {
                "totalCount": 3,
                "edges": [
                    {"node": window(at(10, 9), at(10, 12))},
                    {"node": window(at(11, 8), at(11, 9))},
                    {"node": window(at(20, 9), at(20, 10))},
                ],
            }
        }
    }


def test_windows_listing_filters_by_overlap(
    gql: GraphQL, provider: Provider, provider_token: str
) -> None:
    make_window(provider=provider, start=at(10, 9), end=at(10, 10))
    make_window(provider=provider, start=at(11, 9), end=at(11, 10))
    make_window(provider=provider, start=at(12, 9), end=at(12, 10))

    # [10th 10:00, 12th 09:00): the first ends at its start, the last starts at its end
    response = gql(WINDOWS, {"start": iso(at(10, 10)), "end": iso(at(12, 9))}, token=provider_token)

    assert response.json() == {
        "data": {
            "availabilityWindows": {
                "totalCount": 1,
                "edges": [{"node": window(at(11, 9), at(11, 10))}],
            }
        }
    }


def test_a_window_makes_slots_bookable(gql: GraphQL) -> None:
    # Given a provider without working hours
    provider = make_provider(email="win@example.com", hours=None)
    assert slot_starts(gql, provider, 12) == []

    # When they offer Saturday 10:00-12:00
    gql(WINDOWS_ADD, {"windows": [window(at(12, 10), at(12, 12))]}, token=token_of(provider.user))

    # Then it has two one-hour slots
    assert slot_starts(gql, provider, 12) == [iso(at(12, 10)), iso(at(12, 11))]


def test_more_than_500_windows_are_rejected_and_nothing_is_written(
    gql: GraphQL, provider: Provider, provider_token: str
) -> None:
    before = row_counts()
    windows = [
        window(at(10, 0) + timedelta(hours=2 * i), at(10, 1) + timedelta(hours=2 * i))
        for i in range(501)
    ]

    response = gql(WINDOWS_ADD, {"windows": windows}, token=provider_token)

    assert response.json() == operation_info(
        "availabilityBulkCreate", "TOO_MANY_WINDOWS", "windows"
    )
    assert row_counts() == before


def test_500_windows_are_accepted(gql: GraphQL, provider: Provider, provider_token: str) -> None:
    windows = [
        window(at(10, 0) + timedelta(hours=2 * i), at(10, 1) + timedelta(hours=2 * i))
        for i in range(500)
    ]

    response = gql(WINDOWS_ADD, {"windows": windows}, token=provider_token)

    assert len(response.json()["data"]["availabilityBulkCreate"]["windows"]) == 500
    assert AvailabilityWindow.objects.filter(provider=provider).count() == 500


@pytest.mark.parametrize(
    ("second", "code"),
    [
        ({"start": "2030-01-11T09:00:00", "end": "2030-01-11T10:00:00Z"}, "NAIVE_DATETIME"),
        ({"start": "2030-01-11T09:00:00Z", "end": "2030-01-11T10:00:00"}, "NAIVE_DATETIME"),
        ({"start": "2030-01-11T09:00:00Z", "end": "2030-01-11T09:00:00Z"}, "INVALID_TIME_RANGE"),
        ({"start": "2030-01-07T07:00:00Z", "end": "2030-01-07T09:00:00Z"}, "IN_THE_PAST"),
    ],
)
def test_one_bad_window_rejects_the_whole_call(
    gql: GraphQL, provider: Provider, provider_token: str, second: dict[str, str], code: str
) -> None:
    # Given a valid window followed by a bad one
    before = row_counts()
    windows = [window(at(10, 9), at(10, 10)), second]

    # When the provider submits both
    response = gql(WINDOWS_ADD, {"windows": windows}, token=provider_token)

    # Then nothing is written, not even the valid one
    assert response.json() == operation_info("availabilityBulkCreate", code, "windows")
    assert row_counts() == before


def test_no_windows_is_invalid(gql: GraphQL, provider_token: str) -> None:
    response = gql(WINDOWS_ADD, {"windows": []}, token=provider_token)

    assert response.json() == operation_info("availabilityBulkCreate", "INVALID_INPUT", "windows")


def test_only_providers_offer_windows(gql: GraphQL, client_token: str) -> None:
    before = row_counts()
    windows = [window(at(10, 9), at(10, 10))]

    as_client = gql(WINDOWS_ADD, {"windows": windows}, token=client_token)
    anonymous = gql(WINDOWS_ADD, {"windows": windows})

    assert as_client.json() == operation_info("availabilityBulkCreate", "PERMISSION_DENIED", None)
    assert anonymous.json() == operation_info("availabilityBulkCreate", "UNAUTHENTICATED", None)
    assert row_counts() == before


def test_provider_deletes_own_windows_only(
    gql: GraphQL, provider: Provider, provider_token: str
) -> None:
    # Given a window of this provider and one of another
    mine = make_window(provider=provider, start=at(10, 9), end=at(10, 10))
    other = make_window(
        provider=make_provider(email="other@example.com"), start=at(10, 9), end=at(10, 10)
    )

    # When the provider deletes both in one call, nothing goes
    both = gql(
        WINDOWS_DELETE,
        {"ids": [gid("AvailabilityWindow", mine.pk), gid("AvailabilityWindow", other.pk)]},
        token=provider_token,
    )
    assert both.json() == operation_info("availabilityDelete", "NOT_FOUND", None)
    assert AvailabilityWindow.objects.count() == 2

    # When it deletes its own, it goes
    own = gql(WINDOWS_DELETE, {"ids": [gid("AvailabilityWindow", mine.pk)]}, token=provider_token)
    assert own.json() == {"data": {"availabilityDelete": {"deleted": 1}}}
    assert list(AvailabilityWindow.objects.values_list("pk", flat=True)) == [other.pk]


# --- workingHoursSet ------------------------------------------------------------------------


def test_working_hours_replace_the_old_ones_in_the_new_zone(
    gql: GraphQL, provider: Provider, provider_token: str
) -> None:
    # When the provider (Mon–Fri 09–17 UTC) switches to Tuesdays 09–11 and Friday nights,
    # in Berlin
    response = gql(
        HOURS_SET,
        {
            "hours": [
                {"weekday": "FRIDAY", "start": "22:00", "end": "02:00"},
                {"weekday": "TUESDAY", "start": "09:00", "end": "11:00"},
            ],
            "timeZone": "Europe/Berlin",
        },
        token=provider_token,
    )

    # Then those are the hours, Monday first
    expected = {
        "timeZone": "Europe/Berlin",
        "hours": [
            {"weekday": "TUESDAY", "start": "09:00:00", "end": "11:00:00"},
            {"weekday": "FRIDAY", "start": "22:00:00", "end": "02:00:00"},
        ],
    }
    assert response.json() == {"data": {"workingHoursSet": expected}}
    assert gql(HOURS, token=provider_token).json() == {"data": {"workingHours": expected}}
    # And the slots follow (Berlin is UTC+1 in January): Tuesday 08:00Z and 09:00Z, none on
    # Wednesday, Friday 21:00Z to Saturday 01:00Z
    assert slot_starts(gql, provider, 8) == [iso(at(8, 8)), iso(at(8, 9))]
    assert slot_starts(gql, provider, 9) == []
    assert slot_starts(gql, provider, 11) == [iso(at(11, 21)), iso(at(11, 22)), iso(at(11, 23))]
    assert slot_starts(gql, provider, 12) == [iso(at(12, 0))]


def test_working_hours_keep_the_zone_when_none_is_given(
    gql: GraphQL, provider: Provider, provider_token: str
) -> None:
    response = gql(HOURS_SET, {"hours": []}, token=provider_token)

    assert response.json() == {"data": {"workingHoursSet": {"timeZone": "UTC", "hours": []}}}
    assert slot_starts(gql, provider, 8) == []


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        (
            {"hours": [{"weekday": "MONDAY", "start": "09:00", "end": "10:00"}], "timeZone": "X"},
            "INVALID_TIME_ZONE",
            "timeZone",
        ),
        (
            {"hours": [{"weekday": "MONDAY", "start": "09:00", "end": "09:00"}]},
            "INVALID_TIME_RANGE",
            "hours",
        ),
        (
            {
                "hours": [
                    {"weekday": "MONDAY", "start": "09:00", "end": "10:00"},
                    {"weekday": "MONDAY", "start": "09:00", "end": "12:00"},
                ]
            },
            "INVALID_INPUT",
            "hours",
        ),
    ],
    ids=["zone", "empty shift", "same start"],
)
def test_bad_working_hours_change_nothing(
    gql: GraphQL,
    provider: Provider,
    provider_token: str,
    variables: dict[str, Any],
    code: str,
    field: str,
) -> None:
    before = list(WorkingHours.objects.values_list("weekday", "start", "end"))

    response = gql(HOURS_SET, variables, token=provider_token)

    assert response.json() == operation_info("workingHoursSet", code, field)
    assert list(WorkingHours.objects.values_list("weekday", "start", "end")) == before
    provider.user.refresh_from_db()
    assert provider.user.time_zone == "UTC"


def test_anonymous_cannot_set_working_hours(gql: GraphQL) -> None:
    response = gql(HOURS_SET, {"hours": []})

    assert response.json() == operation_info("workingHoursSet", "UNAUTHENTICATED", None)


# --- timeOffCreate / timeOffDelete -----------------------------------------------------------


def test_time_off_removes_slots_until_deleted(
    gql: GraphQL, provider: Provider, provider_token: str
) -> None:
    # When the provider takes Tuesday 10:00–12:00 off
    created = gql(
        TIME_OFF_CREATE,
        {"start": iso(at(8, 10)), "end": iso(at(8, 12)), "reason": " dentist "},
        token=provider_token,
    )

    # Then it is recorded and those two slots are gone
    assert created.json() == {
        "data": {
            "timeOffCreate": {"start": iso(at(8, 10)), "end": iso(at(8, 12)), "reason": "dentist"}
        }
    }
    assert gql(TIME_OFF, token=provider_token).json() == {
        "data": {
            "timeOff": {
                "totalCount": 1,
                "edges": [
                    {"node": {"start": iso(at(8, 10)), "end": iso(at(8, 12)), "reason": "dentist"}}
                ],
            }
        }
    }
    assert slot_starts(gql, provider, 8) == [iso(at(8, h)) for h in (9, 12, 13, 14, 15, 16)]

    # When they delete it
    time_off = TimeOff.objects.get()
    deleted = gql(TIME_OFF_DELETE, {"id": gid("TimeOff", time_off.pk)}, token=provider_token)

    # Then the slots are back, and a second delete finds nothing
    assert deleted.json() == {"data": {"timeOffDelete": {"deleted": 1}}}
    assert slot_starts(gql, provider, 8) == [iso(at(8, h)) for h in range(9, 17)]
    again = gql(TIME_OFF_DELETE, {"id": gid("TimeOff", time_off.pk)}, token=provider_token)
    assert again.json() == operation_info("timeOffDelete", "NOT_FOUND", None)


@pytest.mark.parametrize(
    ("start", "end", "code", "field"),
    [
        (NOW - timedelta(hours=2), NOW, "IN_THE_PAST", "end"),
        (at(8, 12), at(8, 12), "INVALID_TIME_RANGE", "end"),
        (at(8, 12), at(8, 10), "INVALID_TIME_RANGE", "end"),
    ],
)
def test_bad_time_off_is_rejected(
    gql: GraphQL, provider_token: str, start: Any, end: Any, code: str, field: str
) -> None:
    response = gql(
        TIME_OFF_CREATE, {"start": iso(start), "end": iso(end), "reason": ""}, token=provider_token
    )

    assert response.json() == operation_info("timeOffCreate", code, field)
    assert TimeOff.objects.count() == 0


def test_time_off_ending_just_after_now_is_accepted(gql: GraphQL, provider_token: str) -> None:
    response = gql(
        TIME_OFF_CREATE,
        {
            "start": iso(NOW - timedelta(hours=1)),
            "end": iso(NOW + timedelta(minutes=1)),
            "reason": "",
        },
        token=provider_token,
    )

    assert response.json()["data"]["timeOffCreate"]["end"] == iso(NOW + timedelta(minutes=1))


def test_naive_time_off_is_rejected(gql: GraphQL, provider_token: str) -> None:
    response = gql(
        TIME_OFF_CREATE,
        {"start": "2030-01-08T10:00:00", "end": "2030-01-08T12:00:00Z", "reason": ""},
        token=provider_token,
    )

    assert response.json() == operation_info("timeOffCreate", "NAIVE_DATETIME", "start")
    assert TimeOff.objects.count() == 0


def test_someone_elses_time_off_is_not_found(
    gql: GraphQL, provider: Provider, client_token: str
) -> None:
    theirs = TimeOff.objects.create(user=provider.user, start=at(8, 10), end=at(8, 12))

    response = gql(TIME_OFF_DELETE, {"id": gid("TimeOff", theirs.pk)}, token=client_token)

    assert response.json() == operation_info("timeOffDelete", "NOT_FOUND", None)
    assert TimeOff.objects.filter(pk=theirs.pk).exists()
