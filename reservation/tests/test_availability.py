"""Availability windows, working hours, time off and the booking policy, through the services
and the slot selectors (database-backed)."""

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from reservation.actors import ANONYMOUS
from reservation.errors import ErrorCode
from reservation.models import (
    AuditEntry,
    AvailabilityWindow,
    BookingPolicy,
    Provider,
    WorkingHours,
)
from reservation.selectors.booking import policy_for, provider_slots
from reservation.services.availability import (
    MAX_WINDOWS_PER_CALL,
    Shift,
    availability_bulk_create,
    availability_delete,
    time_off_create,
    time_off_delete,
    working_hours_set,
)
from reservation.services.reservations import reservation_create
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    audit_trail,
    hourly,
    json_time,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
    make_time_off,
    make_window,
    rejected,
    slot,
)

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def windows_of(provider: Provider) -> list[tuple[datetime, datetime]]:
    return list(
        AvailabilityWindow.objects.filter(provider=provider)
        .order_by("start")
        .values_list("start", "end")
    )


def day_slots(
    provider: Provider, day: int, *, now: datetime = NOW
) -> list[tuple[datetime, datetime]]:
    """The provider's bookable slots on 2030-01-`day` (UTC) as listed at `now`."""
    return provider_slots(provider_id=provider.pk, start=at(day, 0), end=at(day + 1, 0), now=now)


@pytest.fixture
def provider() -> Provider:
    """A provider in UTC with no working hours: only explicit windows count."""
    return make_provider(hours=None)


# --- availability_bulk_create --------------------------------------------------------------


def test_bulk_create_merges_overlapping_and_touching_windows_with_each_other(
    provider: Provider,
) -> None:
    created = availability_bulk_create(
        actor=actor_for(provider),
        windows=[
            (at(8, 14), at(8, 15)),  # alone (in no particular order)
            (at(8, 10), at(8, 11)),
            (at(8, 11), at(8, 12)),  # touches the one before
            (at(8, 10, 30), at(8, 10, 45)),  # inside the first
            (at(8, 12, 1), at(8, 13, 59)),  # a minute apart: stays separate
        ],
        now=NOW,
    )

    expected = [(at(8, 10), at(8, 12)), (at(8, 12, 1), at(8, 13, 59)), (at(8, 14), at(8, 15))]
    assert [(w.start, w.end) for w in created] == expected
    assert windows_of(provider) == expected
    assert audit_trail() == [("availability.add", "provider", provider.pk, "USER")]
    iso = [[json_time(s), json_time(e)] for s, e in expected]
    assert AuditEntry.objects.get().changes == {
        "added": iso,
        "merged_away": [],
        "merged_away_ids": [],
        "result": iso,
    }


def test_bulk_create_merges_with_existing_windows_it_overlaps_or_touches(
    provider: Provider,
) -> None:
    before = make_window(provider=provider, start=at(8, 9), end=at(8, 10))  # touches
    after = make_window(provider=provider, start=at(8, 11, 30), end=at(8, 13))  # overlaps
    apart = make_window(provider=provider, start=at(8, 13, 1), end=at(8, 14))  # a minute apart
    elsewhere = make_provider(hours=None)
    foreign = make_window(provider=elsewhere, start=at(8, 9), end=at(8, 14))

    created = availability_bulk_create(
        actor=actor_for(provider), windows=[(at(8, 10), at(8, 12))], now=NOW
    )

    assert [(w.start, w.end) for w in created] == [(at(8, 9), at(8, 13))]
    assert windows_of(provider) == [(at(8, 9), at(8, 13)), (at(8, 13, 1), at(8, 14))]
    assert not AvailabilityWindow.objects.filter(pk__in=[before.pk, after.pk]).exists()
    assert AvailabilityWindow.objects.filter(pk=apart.pk).exists()
    assert windows_of(elsewhere) == [(foreign.start, foreign.end)]
    assert AuditEntry.objects.get().changes == {
        "added": [[json_time(at(8, 10)), json_time(at(8, 12))]],
        "merged_away": [
            [json_time(at(8, 9)), json_time(at(8, 10))],
            [json_time(at(8, 11, 30)), json_time(at(8, 13))],
        ],
        "merged_away_ids": [before.pk, after.pk],
        "result": [[json_time(at(8, 9)), json_time(at(8, 13))]],
    }


def test_bulk_create_inside_an_existing_window_keeps_one_window(provider: Provider) -> None:
    make_window(provider=provider, start=at(8, 9), end=at(8, 17))

    created = availability_bulk_create(
        actor=actor_for(provider), windows=[(at(8, 10), at(8, 11)), (at(8, 16), at(8, 17))], now=NOW
    )

    assert [(w.start, w.end) for w in created] == [(at(8, 9), at(8, 17))]
    assert windows_of(provider) == [(at(8, 9), at(8, 17))]


def test_bulk_create_stores_other_offsets_in_utc(provider: Provider) -> None:
    plus_one = timezone(timedelta(hours=1))

    availability_bulk_create(
        actor=actor_for(provider),
        windows=[(datetime(2030, 1, 8, 11, tzinfo=plus_one), datetime(2030, 1, 8, 12, tzinfo=UTC))],
        now=NOW,
    )

    assert windows_of(provider) == [(at(8, 10), at(8, 12))]


def test_bulk_create_takes_500_windows(provider: Provider) -> None:
    windows = [(at(8, 0) + 2 * i * HOUR, at(8, 0) + (2 * i + 1) * HOUR) for i in range(500)]

    created = availability_bulk_create(actor=actor_for(provider), windows=windows, now=NOW)

    assert MAX_WINDOWS_PER_CALL == 500
    assert len(created) == 500
    assert windows_of(provider) == windows


@pytest.mark.parametrize("count", [501, 10_000])
def test_bulk_create_rejects_more_than_500_windows(provider: Provider, count: int) -> None:
    windows = [(at(8, 0) + 2 * i * HOUR, at(8, 0) + (2 * i + 1) * HOUR) for i in range(count)]

    with rejected(ErrorCode.TOO_MANY_WINDOWS) as error:
        availability_bulk_create(actor=actor_for(provider), windows=windows, now=NOW)

    assert error.value.message_dict == {"windows": [f"At most 500 windows per call; got {count}."]}


@pytest.mark.parametrize(
    ("start", "end"),
    [(at(8, 10), at(8, 10)), (at(8, 11), at(8, 10))],
    ids=["empty", "reversed"],
)
def test_bulk_create_rejects_an_end_not_after_its_start_and_writes_nothing(
    provider: Provider,
    start: datetime,
    end: datetime,
) -> None:
    make_window(provider=provider, start=at(8, 9), end=at(8, 10))

    with rejected(ErrorCode.INVALID_TIME_RANGE) as error:
        availability_bulk_create(
            actor=actor_for(provider),
            windows=[(at(8, 12), at(8, 13)), (start, end)],  # the first one alone is fine
            now=NOW,
        )

    assert error.value.message_dict == {"windows": ["windows[1]: end must be after start."]}
    assert windows_of(provider) == [(at(8, 9), at(8, 10))]


def test_bulk_create_rejects_a_window_starting_in_the_past_but_takes_one_starting_now(
    provider: Provider,
) -> None:
    with rejected(ErrorCode.IN_THE_PAST):
        availability_bulk_create(
            actor=actor_for(provider),
            windows=[(at(8, 12), at(8, 13)), (NOW - MINUTE, NOW + HOUR)],
            now=NOW,
        )

    availability_bulk_create(actor=actor_for(provider), windows=[(NOW, NOW + HOUR)], now=NOW)
    assert windows_of(provider) == [(NOW, NOW + HOUR)]


@pytest.mark.parametrize("naive", ["start", "end"])
def test_bulk_create_rejects_a_naive_datetime(provider: Provider, naive: str) -> None:
    start, end = at(8, 10), at(8, 11)
    if naive == "start":
        start = start.replace(tzinfo=None)
    else:
        end = end.replace(tzinfo=None)

    with rejected(ErrorCode.NAIVE_DATETIME):
        availability_bulk_create(
            actor=actor_for(provider), windows=[(at(8, 12), at(8, 13)), (start, end)], now=NOW
        )


def test_bulk_create_needs_a_window(provider: Provider) -> None:
    with rejected(ErrorCode.INVALID_INPUT):
        availability_bulk_create(actor=actor_for(provider), windows=[], now=NOW)


def test_only_active_providers_add_windows() -> None:
    client = make_client()
    retired = make_provider(hours=None)
    retired.is_active = False
    retired.save()
    window = [(at(8, 10), at(8, 11))]

    with rejected(ErrorCode.PERMISSION_DENIED):
        availability_bulk_create(actor=actor_for(client), windows=window, now=NOW)
    with rejected(ErrorCode.PERMISSION_DENIED):
        availability_bulk_create(actor=actor_for(retired), windows=window, now=NOW)
    with rejected(ErrorCode.UNAUTHENTICATED):
        availability_bulk_create(actor=ANONYMOUS, windows=window, now=NOW)


# --- availability_delete -------------------------------------------------------------------


def test_delete_removes_own_windows(provider: Provider) -> None:
    first = make_window(provider=provider, start=at(8, 9), end=at(8, 10))
    second = make_window(provider=provider, start=at(8, 12), end=at(8, 13))
    kept = make_window(provider=provider, start=at(8, 15), end=at(8, 16))

    deleted = availability_delete(
        actor=actor_for(provider), window_ids=[second.pk, first.pk, first.pk], now=NOW
    )

    assert deleted == 2
    assert windows_of(provider) == [(kept.start, kept.end)]
    assert audit_trail() == [("availability.delete", "provider", provider.pk, "USER")]
    assert AuditEntry.objects.get().changes == {
        "deleted": [
            [json_time(at(8, 9)), json_time(at(8, 10))],
            [json_time(at(8, 12)), json_time(at(8, 13))],
        ],
        "ids": [first.pk, second.pk],
    }


def test_delete_with_a_foreign_or_unknown_window_deletes_nothing(provider: Provider) -> None:
    own = make_window(provider=provider, start=at(8, 9), end=at(8, 10))
    other = make_provider(hours=None)
    foreign = make_window(provider=other, start=at(8, 9), end=at(8, 10))

    with rejected(ErrorCode.NOT_FOUND):
        availability_delete(actor=actor_for(provider), window_ids=[own.pk, foreign.pk], now=NOW)
    with rejected(ErrorCode.NOT_FOUND):
        availability_delete(actor=actor_for(provider), window_ids=[own.pk, 10**9], now=NOW)
    with rejected(ErrorCode.INVALID_INPUT):
        availability_delete(actor=actor_for(provider), window_ids=[], now=NOW)

    assert windows_of(provider) == [(own.start, own.end)]
    assert windows_of(other) == [(foreign.start, foreign.end)]


def test_delete_keeps_reservations_made_in_the_window(provider: Provider) -> None:
    window = make_window(provider=provider, start=at(8, 9), end=at(8, 12))
    reservation = make_reservation(provider=provider, client=make_client(), start=at(8, 10))

    availability_delete(actor=actor_for(provider), window_ids=[window.pk], now=NOW)

    reservation.refresh_from_db()
    assert (reservation.start, reservation.status) == (at(8, 10), "CONFIRMED")
    assert day_slots(provider, 8) == []


# --- working hours -------------------------------------------------------------------------


def test_working_hours_set_replaces_the_week_and_changes_the_zone() -> None:
    provider = make_provider()  # Mon–Fri 09–17 UTC
    assert day_slots(provider, 8) == hourly(8, 9, 10, 11, 12, 13, 14, 15, 16)

    rows = working_hours_set(
        actor=actor_for(provider),
        shifts=[
            Shift(weekday=4, start=time(22), end=time(2)),  # Friday night into Saturday
            Shift(weekday=1, start=time(9), end=time(12)),
        ],
        time_zone="Europe/Berlin",
        now=NOW,
    )

    assert [(r.weekday, r.start, r.end) for r in rows] == [
        (1, time(9), time(12)),
        (4, time(22), time(2)),
    ]
    assert list(
        WorkingHours.objects.filter(user=provider.user).values_list("weekday", "start", "end")
    ) == [(1, time(9), time(12)), (4, time(22), time(2))]
    provider.user.refresh_from_db()
    assert provider.user.time_zone == "Europe/Berlin"
    # Berlin is UTC+1 in January.
    assert day_slots(provider, 8) == hourly(8, 8, 9, 10)
    assert day_slots(provider, 9) == []
    assert day_slots(provider, 11) == hourly(11, 21, 22, 23)
    assert day_slots(provider, 12) == hourly(12, 0)
    assert audit_trail() == [("working_hours.set", "user", provider.user_id, "USER")]
    assert AuditEntry.objects.get().changes == {
        "before": [[day, "09:00:00", "17:00:00"] for day in range(5)],
        "after": [[1, "09:00:00", "12:00:00"], [4, "22:00:00", "02:00:00"]],
        "time_zone": ["UTC", "Europe/Berlin"],
    }


def test_working_hours_set_without_a_zone_keeps_it_and_empty_clears_the_week() -> None:
    provider = make_provider(time_zone="Asia/Tokyo")

    rows = working_hours_set(actor=actor_for(provider), shifts=[], now=NOW)

    assert rows == []
    assert not WorkingHours.objects.filter(user=provider.user).exists()
    provider.user.refresh_from_db()
    assert provider.user.time_zone == "Asia/Tokyo"
    assert "time_zone" not in AuditEntry.objects.get().changes


def test_anyone_signed_in_sets_their_own_working_hours() -> None:
    client = make_client()
    provider = make_provider()

    working_hours_set(
        actor=actor_for(client), shifts=[Shift(weekday=0, start=time(8), end=time(9))], now=NOW
    )

    assert list(WorkingHours.objects.filter(user=client.user).values_list("weekday")) == [(0,)]
    assert WorkingHours.objects.filter(user=provider.user).count() == 5
    with rejected(ErrorCode.UNAUTHENTICATED):
        working_hours_set(actor=ANONYMOUS, shifts=[], now=NOW)


@pytest.mark.parametrize(
    ("shifts", "time_zone", "code"),
    [
        ([Shift(weekday=0, start=time(9), end=time(12))], "Moon/Base", ErrorCode.INVALID_TIME_ZONE),
        ([Shift(weekday=0, start=time(9), end=time(9))], None, ErrorCode.INVALID_TIME_RANGE),
        ([Shift(weekday=7, start=time(9), end=time(12))], None, ErrorCode.INVALID_INPUT),
        ([Shift(weekday=-1, start=time(9), end=time(12))], None, ErrorCode.INVALID_INPUT),
        (
            [
                Shift(weekday=0, start=time(9), end=time(12)),
                Shift(weekday=0, start=time(9), end=time(10)),
            ],
            None,
            ErrorCode.INVALID_INPUT,
        ),
        (
            [Shift(weekday=0, start=time(9, tzinfo=UTC), end=time(12, tzinfo=UTC))],
            None,
            ErrorCode.INVALID_INPUT,
        ),
        (
            [Shift(weekday=d % 7, start=time(d // 7), end=time(23)) for d in range(57)],
            None,
            ErrorCode.INVALID_INPUT,
        ),
    ],
    ids=["zone", "empty", "weekday-7", "weekday-minus-1", "same-start", "offset", "too-many"],
)
def test_working_hours_set_rejects_bad_input_and_changes_nothing(
    shifts: list[Shift], time_zone: str | None, code: ErrorCode
) -> None:
    provider = make_provider()

    with rejected(code):
        working_hours_set(actor=actor_for(provider), shifts=shifts, time_zone=time_zone, now=NOW)

    assert WorkingHours.objects.filter(user=provider.user, start=time(9), end=time(17)).count() == 5
    provider.user.refresh_from_db()
    assert provider.user.time_zone == "UTC"


# --- time off ------------------------------------------------------------------------------


def test_time_off_removes_availability_and_deleting_it_restores_it() -> None:
    provider = make_provider()  # Mon–Fri 09–17 UTC
    actor = actor_for(provider)

    time_off = time_off_create(
        actor=actor, start=at(8, 12), end=at(8, 13, 30), reason=" dentist ", now=NOW
    )

    assert (time_off.start, time_off.end, time_off.reason) == (at(8, 12), at(8, 13, 30), "dentist")
    # The hour after the time off starts at 13:30: the grid restarts where availability does.
    assert day_slots(provider, 8) == [
        *hourly(8, 9, 10, 11),
        slot(at(8, 13, 30)),
        slot(at(8, 14, 30)),
        slot(at(8, 15, 30)),
    ]
    assert day_slots(provider, 9) == hourly(9, 9, 10, 11, 12, 13, 14, 15, 16)  # untouched

    time_off_delete(actor=actor, time_off_id=time_off.pk, now=NOW)

    assert day_slots(provider, 8) == hourly(8, 9, 10, 11, 12, 13, 14, 15, 16)
    assert [action for action, *_ in audit_trail()] == ["time_off.create", "time_off.delete"]


def test_time_off_removes_explicit_windows_too(provider: Provider) -> None:
    make_window(provider=provider, start=at(8, 9), end=at(8, 12))
    make_time_off(user=provider.user, start=at(8, 10), end=at(8, 11))

    assert day_slots(provider, 8) == hourly(8, 9, 11)


def test_time_off_rejects_a_period_that_is_over_but_takes_one_ending_after_now() -> None:
    provider = make_provider()
    actor = actor_for(provider)

    with rejected(ErrorCode.IN_THE_PAST):
        time_off_create(actor=actor, start=NOW - HOUR, end=NOW, now=NOW)
    with rejected(ErrorCode.INVALID_TIME_RANGE):
        time_off_create(actor=actor, start=at(8, 10), end=at(8, 10), now=NOW)
    with rejected(ErrorCode.NAIVE_DATETIME):
        time_off_create(actor=actor, start=datetime(2030, 1, 8, 10), end=at(8, 11), now=NOW)  # noqa: DTZ001

    time_off = time_off_create(actor=actor, start=NOW - HOUR, end=NOW + MINUTE, now=NOW)
    assert time_off.pk is not None


def test_deleting_someone_elses_time_off_is_not_found() -> None:
    provider = make_provider()
    time_off = make_time_off(user=provider.user, start=at(8, 10), end=at(8, 11))
    stranger = actor_for(make_provider())

    with rejected(ErrorCode.NOT_FOUND):
        time_off_delete(actor=stranger, time_off_id=time_off.pk, now=NOW)

    assert day_slots(provider, 8) == hourly(8, 9, 11, 12, 13, 14, 15, 16)


# --- windows ∪ working hours − time off, across DST -----------------------------------------


def test_availability_across_the_spring_dst_change_in_berlin() -> None:
    make_policy(provider=None, min_notice_minutes=0)
    provider = make_provider(
        time_zone="Europe/Berlin", hours=(time(9), time(12)), weekdays=range(7)
    )
    # Sunday 2030-03-31 02:00 CET becomes 03:00 CEST (UTC+1 -> UTC+2).
    make_window(
        provider=provider,
        start=datetime(2030, 3, 31, 13, tzinfo=UTC),
        end=datetime(2030, 3, 31, 15, tzinfo=UTC),
    )
    make_time_off(
        user=provider.user,
        start=datetime(2030, 3, 30, 9, tzinfo=UTC),
        end=datetime(2030, 3, 30, 10, tzinfo=UTC),
    )

    found = provider_slots(
        provider_id=provider.pk,
        start=datetime(2030, 3, 30, tzinfo=UTC),
        end=datetime(2030, 4, 1, tzinfo=UTC),
        now=datetime(2030, 3, 28, 8, tzinfo=UTC),
    )

    assert found == [
        # Saturday, CET: 09–12 local is 08–11 UTC, minus the time off 09–10.
        slot(datetime(2030, 3, 30, 8, tzinfo=UTC)),
        slot(datetime(2030, 3, 30, 10, tzinfo=UTC)),
        # Sunday, CEST: 09–12 local is 07–10 UTC; then the explicit window 13–15 UTC.
        slot(datetime(2030, 3, 31, 7, tzinfo=UTC)),
        slot(datetime(2030, 3, 31, 8, tzinfo=UTC)),
        slot(datetime(2030, 3, 31, 9, tzinfo=UTC)),
        slot(datetime(2030, 3, 31, 13, tzinfo=UTC)),
        slot(datetime(2030, 3, 31, 14, tzinfo=UTC)),
    ]


def test_availability_across_the_autumn_dst_change_in_berlin() -> None:
    make_policy(provider=None, min_notice_minutes=0)
    provider = make_provider(
        time_zone="Europe/Berlin", hours=(time(9), time(11)), weekdays=range(7)
    )

    # Sunday 2030-10-27 03:00 CEST becomes 02:00 CET (UTC+2 -> UTC+1).
    found = provider_slots(
        provider_id=provider.pk,
        start=datetime(2030, 10, 26, tzinfo=UTC),
        end=datetime(2030, 10, 28, tzinfo=UTC),
        now=datetime(2030, 10, 24, 8, tzinfo=UTC),
    )

    assert found == [
        slot(datetime(2030, 10, 26, 7, tzinfo=UTC)),
        slot(datetime(2030, 10, 26, 8, tzinfo=UTC)),
        slot(datetime(2030, 10, 27, 8, tzinfo=UTC)),
        slot(datetime(2030, 10, 27, 9, tzinfo=UTC)),
    ]


def test_provider_slots_checks_its_range() -> None:
    provider = make_provider()

    with rejected(ErrorCode.INVALID_TIME_RANGE):
        provider_slots(provider_id=provider.pk, start=at(9, 0), end=at(8, 0), now=NOW)
    with rejected(ErrorCode.RANGE_TOO_LONG):
        provider_slots(
            provider_id=provider.pk, start=at(8, 0), end=at(8, 0) + timedelta(days=63), now=NOW
        )
    with rejected(ErrorCode.NAIVE_DATETIME):
        provider_slots(
            provider_id=provider.pk,
            start=datetime(2030, 1, 8),  # noqa: DTZ001
            end=at(9, 0),
            now=NOW,
        )
    retired = make_provider()
    retired.is_active = False
    retired.save()
    with rejected(ErrorCode.NOT_FOUND):
        provider_slots(provider_id=retired.pk, start=at(8, 0), end=at(9, 0), now=NOW)
    with rejected(ErrorCode.NOT_FOUND):
        provider_slots(provider_id=retired.pk + 1000, start=at(8, 0), end=at(9, 0), now=NOW)
    # 62 days is the most, and fine.
    assert (
        len(
            provider_slots(
                provider_id=provider.pk, start=at(8, 0), end=at(8, 0) + timedelta(days=62), now=NOW
            )
        )
        == 8 * 43
    )  # the weekdays Tue 8 Jan – Thu 7 Mar; the horizon ends Fri 8 Mar 08:00


# --- the booking policy --------------------------------------------------------------------


@pytest.fixture
def two_providers() -> tuple[Provider, Provider]:
    """(overridden, default): two providers with the same window Tue 08–14 UTC; the first has
    its own policy, both start from the same global default."""
    make_policy(provider=None, slot_length_minutes=60, step_minutes=None, min_notice_minutes=0)
    overridden = make_provider(hours=None)
    default = make_provider(hours=None)
    for p in (overridden, default):
        make_window(provider=p, start=at(8, 8), end=at(8, 14))
    return overridden, default


def test_policy_for_prefers_the_providers_own_row_then_the_default_then_built_ins() -> None:
    overridden = make_provider(hours=None)
    default = make_provider(hours=None)
    global_row = make_policy(provider=None, slot_length_minutes=30)
    own_row = make_policy(provider=overridden, slot_length_minutes=45)

    assert policy_for(provider=overridden).pk == own_row.pk
    assert policy_for(provider=default).pk == global_row.pk

    BookingPolicy.objects.all().delete()
    built_in = policy_for(provider=default)
    assert built_in.pk is None
    assert (
        built_in.slot_length_minutes,
        built_in.step,
        built_in.min_notice_minutes,
        built_in.horizon_days,
        built_in.hold_minutes,
        built_in.max_active_holds,
    ) == (60, timedelta(hours=1), 24 * 60, 60, 30, 3)


def test_policy_slot_length_and_step(two_providers: tuple[Provider, Provider]) -> None:
    overridden, default = two_providers
    make_policy(provider=None, slot_length_minutes=90, step_minutes=None, min_notice_minutes=0)
    make_policy(provider=overridden, slot_length_minutes=45, step_minutes=75, min_notice_minutes=0)

    assert day_slots(default, 8) == [
        slot(at(8, 8), 90),
        slot(at(8, 9, 30), 90),
        slot(at(8, 11), 90),
        slot(at(8, 12, 30), 90),
    ]
    assert day_slots(overridden, 8) == [
        slot(at(8, 8), 45),
        slot(at(8, 9, 15), 45),
        slot(at(8, 10, 30), 45),
        slot(at(8, 11, 45), 45),
        slot(at(8, 13), 45),
    ]


def test_policy_min_notice(two_providers: tuple[Provider, Provider]) -> None:
    overridden, default = two_providers
    make_policy(provider=overridden, min_notice_minutes=150)
    now = at(8, 8)

    assert day_slots(default, 8, now=now) == hourly(8, 8, 9, 10, 11, 12, 13)
    assert day_slots(overridden, 8, now=now) == hourly(8, 11, 12, 13)  # 10:30 and later


def test_policy_horizon(two_providers: tuple[Provider, Provider]) -> None:
    overridden, default = two_providers
    make_policy(provider=overridden, min_notice_minutes=0, horizon_days=1)

    assert day_slots(default, 8) == hourly(8, 8, 9, 10, 11, 12, 13)
    assert day_slots(overridden, 8) == hourly(8, 8)  # starts up to NOW + 1 day, inclusive


def test_policy_buffers(two_providers: tuple[Provider, Provider]) -> None:
    overridden, default = two_providers
    make_policy(
        provider=overridden,
        min_notice_minutes=0,
        step_minutes=30,
        buffer_before_minutes=30,
        buffer_after_minutes=30,
    )
    client = make_client()
    for p in (overridden, default):
        make_reservation(provider=p, client=client, start=at(8, 10))

    assert day_slots(default, 8) == hourly(8, 8, 9, 11, 12, 13)
    # Every slot keeps 30 minutes clear on both sides of the 10–11 booking.
    assert day_slots(overridden, 8) == [
        slot(at(8, 8)),
        slot(at(8, 8, 30)),
        slot(at(8, 11, 30)),
        slot(at(8, 12)),
        slot(at(8, 12, 30)),
        slot(at(8, 13)),
    ]
    # A write accepts exactly what the listing offers.
    booker = actor_for(make_client())
    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        reservation_create(actor=booker, provider_id=overridden.pk, start=at(8, 9), now=NOW)
    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        reservation_create(actor=booker, provider_id=overridden.pk, start=at(8, 11), now=NOW)
    made = reservation_create(actor=booker, provider_id=overridden.pk, start=at(8, 8, 30), now=NOW)
    assert (made.start, made.end) == slot(at(8, 8, 30))
    made = reservation_create(actor=booker, provider_id=default.pk, start=at(8, 9), now=NOW)
    assert (made.start, made.end) == slot(at(8, 9))


def test_a_provider_policy_overrides_the_default_entirely(
    two_providers: tuple[Provider, Provider],
) -> None:
    overridden, default = two_providers
    make_policy(provider=None, min_notice_minutes=0, slot_length_minutes=30)
    # The override leaves min_notice at its model default (24 h), not the global row's 0.
    make_policy(provider=overridden, slot_length_minutes=120)
    now = at(7, 9)

    assert day_slots(overridden, 8, now=now) == [slot(at(8, 10), 120), slot(at(8, 12), 120)]
    assert day_slots(default, 8, now=now) == [
        slot(at(8, 8) + i * 30 * MINUTE, 30) for i in range(12)
    ]
