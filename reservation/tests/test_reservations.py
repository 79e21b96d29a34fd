"""Holding, confirming, cancelling and moving reservations, through the services and the
selectors (database-backed), and the exclusion constraint behind them."""

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.db import IntegrityError, connection, transaction

from reservation.actors import ANONYMOUS, Actor
from reservation.errors import DomainError, ErrorCode
from reservation.models import AuditEntry, Client, Provider, Reservation, ReservationStatus
from reservation.selectors.booking import provider_slots
from reservation.selectors.reservations import reservation_list
from reservation.services import reservations as reservation_services
from reservation.services.accounts import api_token_create
from reservation.services.locks import lock_provider
from reservation.services.reservations import (
    reservation_cancel,
    reservation_confirm,
    reservation_create,
    reservation_reschedule,
)
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    audit_trail,
    json_time,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
    make_staff,
    make_user,
    rejected,
    row_counts,
    slot,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
HELD, CONFIRMED, CANCELLED, EXPIRED = (
    ReservationStatus.HELD,
    ReservationStatus.CONFIRMED,
    ReservationStatus.CANCELLED,
    ReservationStatus.EXPIRED,
)
ALL_DAY = (8, 9, 10, 11, 12, 13, 14, 15, 16)  # the hourly slots of a 09–17 working day


def day_slots(
    provider: Provider, day: int, *, now: datetime = NOW
) -> list[tuple[datetime, datetime]]:
    """The provider's bookable slots on 2030-01-`day` (UTC) as listed at `now`."""
    return provider_slots(provider_id=provider.pk, start=at(day, 0), end=at(day + 1, 0), now=now)


def hours_listed(provider: Provider, day: int, *, now: datetime = NOW) -> list[int]:
    """The start hours of the provider's one-hour slots on 2030-01-`day`."""
    return [start.hour for start, _ in day_slots(provider, day, now=now)]


def state(reservation: Reservation) -> tuple[object, ...]:
    """What a write could change, read back from the database."""
    reservation.refresh_from_db()
    return (
        reservation.start,
        reservation.end,
        reservation.status,
        reservation.expires_at,
        reservation.confirmed_at,
        reservation.cancelled_at,
        reservation.cancelled_by_id,
        reservation.cancel_reason,
    )


@pytest.fixture(autouse=True)
def default_policy() -> None:
    """The global default row with the model's defaults: 60-minute slots on a 60-minute grid,
    24 h notice, 60 days ahead, 30-minute holds, 3 holds at most, no buffers."""
    make_policy(provider=None)


@pytest.fixture
def provider() -> Provider:
    """Mon–Fri 09–17 UTC."""
    return make_provider()


@pytest.fixture
def client() -> Client:
    return make_client()


def hold(
    client: Client, provider: Provider, start: datetime, *, now: datetime = NOW, key: str = ""
) -> Reservation:
    return reservation_create(
        actor=actor_for(client), provider_id=provider.pk, start=start, idempotency_key=key, now=now
    )


# --- reservation_create --------------------------------------------------------------------


def test_create_holds_the_slot_until_the_hold_time_runs_out(
    provider: Provider, client: Client
) -> None:
    other = make_provider()
    assert hours_listed(provider, 8) == list(ALL_DAY[1:])

    reservation = hold(client, provider, at(8, 10))

    reservation.refresh_from_db()
    assert (
        reservation.provider_id,
        reservation.client_id,
        reservation.start,
        reservation.end,
        reservation.status,
        reservation.expires_at,
        reservation.idempotency_key,
        reservation.confirmed_at,
        reservation.cancelled_at,
    ) == (provider.pk, client.pk, at(8, 10), at(8, 11), HELD, NOW + 30 * MINUTE, "", None, None)
    assert hours_listed(provider, 8) == [9, 11, 12, 13, 14, 15, 16]
    assert hours_listed(other, 8) == [9, 10, 11, 12, 13, 14, 15, 16]
    assert audit_trail() == [("reservation.create", "reservation", reservation.pk, "USER")]
    entry = AuditEntry.objects.get()
    assert (entry.actor_user_id, entry.at) == (client.user_id, NOW)
    assert entry.changes == {
        "provider": provider.pk,
        "client": client.pk,
        "start": json_time(at(8, 10)),
        "end": json_time(at(8, 11)),
        "status": "HELD",
        "expires_at": json_time(NOW + 30 * MINUTE),
    }


def test_create_takes_a_start_in_any_offset(provider: Provider, client: Client) -> None:
    berlin_winter = timezone(timedelta(hours=1))

    reservation = hold(client, provider, datetime(2030, 1, 8, 11, tzinfo=berlin_winter))

    assert (reservation.start, reservation.end) == slot(at(8, 10))


def test_create_uses_the_providers_hold_time(provider: Provider, client: Client) -> None:
    make_policy(provider=provider, hold_minutes=5)

    reservation = hold(client, provider, at(8, 10))

    assert reservation.expires_at == NOW + 5 * MINUTE


def test_a_slot_23h59m_ahead_is_too_soon_and_24h_is_fine(
    provider: Provider, client: Client
) -> None:
    a_minute_late = at(7, 9, 1)  # Tuesday 09:00 is 23 h 59 min ahead
    assert hours_listed(provider, 8, now=a_minute_late) == [10, 11, 12, 13, 14, 15, 16]
    with rejected(ErrorCode.NOTICE_TOO_SHORT):
        hold(client, provider, at(8, 9), now=a_minute_late)

    just_in_time = at(7, 9)  # exactly 24 h ahead
    assert hours_listed(provider, 8, now=just_in_time) == list(ALL_DAY[1:])
    reservation = hold(client, provider, at(8, 9), now=just_in_time)
    assert reservation.start == at(8, 9)


def test_a_slot_beyond_the_horizon_is_neither_listed_nor_bookable(
    provider: Provider, client: Client
) -> None:
    now = at(7, 10)
    last_day = datetime(2030, 3, 8, tzinfo=now.tzinfo)  # a Friday, now + 60 days
    assert now + timedelta(days=60) == last_day + 10 * HOUR

    listed = provider_slots(
        provider_id=provider.pk, start=last_day, end=last_day + timedelta(days=1), now=now
    )

    assert listed == [slot(last_day + 9 * HOUR), slot(last_day + 10 * HOUR)]
    with rejected(ErrorCode.BEYOND_HORIZON):
        hold(client, provider, last_day + 11 * HOUR, now=now)
    reservation = hold(client, provider, last_day + 10 * HOUR, now=now)
    assert reservation.start == last_day + 10 * HOUR


@pytest.mark.parametrize(
    "start",
    [
        at(8, 9, 30),  # off the hourly grid
        at(8, 10, 0) + SECOND,  # off by a second
        at(8, 8),  # before the working day
        at(8, 17),  # the working day is over
        at(8, 16, 30),  # would run past its end
        at(12, 10),  # Saturday
    ],
    ids=["half-past", "one-second", "before-hours", "after-hours", "past-the-end", "saturday"],
)
def test_a_start_the_listing_does_not_offer_is_unavailable(
    provider: Provider, client: Client, start: datetime
) -> None:
    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        hold(client, provider, start)

    # The near misses: the first and last slot of the day.
    assert hold(client, provider, at(8, 9)).start == at(8, 9)
    assert hold(client, provider, at(8, 16)).end == at(8, 17)


def test_create_rejects_a_naive_start(provider: Provider, client: Client) -> None:
    with rejected(ErrorCode.NAIVE_DATETIME):
        hold(client, provider, datetime(2030, 1, 8, 10))  # noqa: DTZ001


def test_create_needs_a_client_and_an_active_provider(provider: Provider) -> None:
    client = make_client()
    retired = make_provider()
    retired.is_active = False
    retired.save()

    with rejected(ErrorCode.UNAUTHENTICATED):
        reservation_create(actor=ANONYMOUS, provider_id=provider.pk, start=at(8, 10), now=NOW)
    with rejected(ErrorCode.PERMISSION_DENIED):  # a provider without a client profile
        reservation_create(
            actor=actor_for(retired), provider_id=provider.pk, start=at(8, 10), now=NOW
        )
    with rejected(ErrorCode.NOT_FOUND):
        hold(client, retired, at(8, 10))
    with rejected(ErrorCode.NOT_FOUND):
        reservation_create(
            actor=actor_for(client), provider_id=retired.pk + 1000, start=at(8, 10), now=NOW
        )


def test_a_confirmed_reservation_blocks_its_slot_for_that_provider_only(
    provider: Provider, client: Client
) -> None:
    make_reservation(provider=provider, client=make_client(), start=at(8, 10), status=CONFIRMED)
    other = make_provider()

    assert hours_listed(provider, 8) == [9, 11, 12, 13, 14, 15, 16]
    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        hold(client, provider, at(8, 10))

    assert hold(client, provider, at(8, 9)).end == at(8, 10)  # adjacent before
    assert hold(client, provider, at(8, 11)).start == at(8, 11)  # adjacent after
    assert hold(client, other, at(8, 10)).provider_id == other.pk  # another provider


def test_a_longer_reservation_blocks_every_slot_it_overlaps(
    provider: Provider, client: Client
) -> None:
    make_reservation(
        provider=provider, client=make_client(), start=at(8, 12, 30), length=90 * MINUTE
    )

    assert hours_listed(provider, 8) == [9, 10, 11, 14, 15, 16]
    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        hold(client, provider, at(8, 12))
    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        hold(client, provider, at(8, 13))


def test_cancelled_and_expired_reservations_do_not_block(
    provider: Provider, client: Client
) -> None:
    someone = make_client()
    make_reservation(provider=provider, client=someone, start=at(8, 10), status=CANCELLED)
    make_reservation(provider=provider, client=someone, start=at(8, 11), status=EXPIRED)

    assert hours_listed(provider, 8) == list(ALL_DAY[1:])
    assert hold(client, provider, at(8, 10)).status == HELD
    assert hold(client, provider, at(8, 11)).status == HELD


def test_a_lapsed_hold_is_free_at_once_before_the_periodic_job_ran(
    provider: Provider, client: Client
) -> None:
    first = hold(make_client(), provider, at(8, 10))  # expires at NOW + 30 min
    assert first.status == HELD

    assert 10 not in hours_listed(provider, 8, now=NOW + 30 * MINUTE - SECOND)
    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        hold(client, provider, at(8, 10), now=NOW + 30 * MINUTE - SECOND)

    later = NOW + 30 * MINUTE
    assert 10 in hours_listed(provider, 8, now=later)
    assert Reservation.objects.get(pk=first.pk).status == HELD  # nothing has expired it yet
    second = hold(client, provider, at(8, 10), now=later)

    assert (second.start, second.status) == (at(8, 10), HELD)
    assert Reservation.objects.get(pk=first.pk).status == EXPIRED
    assert audit_trail()[-2:] == [
        ("reservation.expire", "reservation", first.pk, "SYSTEM"),
        ("reservation.create", "reservation", second.pk, "USER"),
    ]


# --- the hold limit ------------------------------------------------------------------------


def test_the_hold_limit_counts_live_holds_across_providers(
    provider: Provider, client: Client
) -> None:
    other = make_provider()
    hold(client, provider, at(8, 9))
    hold(client, other, at(8, 9))
    third = hold(client, provider, at(8, 10))

    with rejected(ErrorCode.HOLD_LIMIT_REACHED):
        hold(client, other, at(8, 10))

    # Another client is not limited by this one's holds.
    assert hold(make_client(), other, at(8, 10)).status == HELD
    # A confirmed reservation is not a hold: confirming one makes room.
    reservation_confirm(actor=actor_for(client), reservation_id=third.pk, now=NOW)
    assert hold(client, other, at(8, 11)).status == HELD
    assert Reservation.objects.filter(client=client, status=HELD).count() == 3


def test_lapsed_holds_do_not_count_towards_the_limit(provider: Provider, client: Client) -> None:
    other = make_provider()
    for hour in (9, 10, 11):
        make_reservation(
            provider=other, client=client, start=at(8, hour), status=HELD, expires_at=NOW
        )

    assert hold(client, provider, at(8, 9)).status == HELD


def test_the_hold_limit_is_the_booked_providers_policy(provider: Provider, client: Client) -> None:
    strict = make_provider()
    make_policy(provider=strict, max_active_holds=1)
    hold(client, provider, at(8, 9))

    with rejected(ErrorCode.HOLD_LIMIT_REACHED):
        hold(client, strict, at(8, 9))

    assert hold(client, provider, at(8, 10)).status == HELD  # the default allows 3


# --- idempotency ---------------------------------------------------------------------------


def test_a_repeated_idempotency_key_returns_the_first_reservation(
    provider: Provider, client: Client
) -> None:
    first = hold(client, provider, at(8, 10), key="k-1")
    before = row_counts()

    again = hold(
        client,
        provider,
        datetime(2030, 1, 8, 11, tzinfo=timezone(timedelta(hours=1))),  # the same instant
        now=NOW + MINUTE,
        key="k-1",
    )

    assert again.pk == first.pk
    assert again.expires_at == first.expires_at
    assert row_counts() == before


@pytest.mark.parametrize("change", ["start", "provider"])
def test_an_idempotency_key_reused_for_another_request_is_rejected(
    provider: Provider, client: Client, change: str
) -> None:
    other = make_provider()
    first = hold(client, provider, at(8, 10), key="k-1")

    with rejected(ErrorCode.IDEMPOTENCY_KEY_REUSED):
        if change == "start":
            hold(client, provider, at(8, 11), key="k-1")
        else:
            hold(client, other, at(8, 10), key="k-1")

    assert Reservation.objects.get().pk == first.pk


def test_idempotency_keys_belong_to_one_client(provider: Provider, client: Client) -> None:
    first = hold(client, provider, at(8, 10), key="k-1")

    second = hold(make_client(), provider, at(8, 11), key="k-1")

    assert second.pk != first.pk
    assert (second.start, second.idempotency_key) == (at(8, 11), "k-1")


def test_an_idempotency_key_has_200_characters_at_most(provider: Provider, client: Client) -> None:
    with rejected(ErrorCode.INVALID_INPUT):
        hold(client, provider, at(8, 10), key="k" * 201)

    assert hold(client, provider, at(8, 10), key="k" * 200).idempotency_key == "k" * 200


# --- reservation_confirm -------------------------------------------------------------------


def test_the_client_confirms_a_live_hold_once(provider: Provider, client: Client) -> None:
    reservation = hold(client, provider, at(8, 10))
    later = NOW + 30 * MINUTE - SECOND

    confirmed = reservation_confirm(
        actor=actor_for(client), reservation_id=reservation.pk, now=later
    )

    assert state(confirmed) == (at(8, 10), at(8, 11), CONFIRMED, None, later, None, None, "")
    again = reservation_confirm(
        actor=actor_for(client), reservation_id=reservation.pk, now=later + HOUR
    )
    assert state(again) == (at(8, 10), at(8, 11), CONFIRMED, None, later, None, None, "")
    assert [action for action, *_ in audit_trail()] == ["reservation.create", "reservation.confirm"]
    assert AuditEntry.objects.last().changes == {"status": "CONFIRMED"}
    # Confirmed, the slot stays taken long after the hold time.
    assert 10 not in hours_listed(provider, 8, now=NOW + 2 * HOUR)


def test_only_the_holding_client_confirms(provider: Provider, client: Client) -> None:
    reservation = hold(client, provider, at(8, 10))
    held = state(reservation)
    other_client = make_client()
    staff = make_staff()

    with rejected(ErrorCode.NOT_FOUND):
        reservation_confirm(actor=actor_for(other_client), reservation_id=reservation.pk, now=NOW)
    with rejected(ErrorCode.PERMISSION_DENIED):
        reservation_confirm(actor=actor_for(provider), reservation_id=reservation.pk, now=NOW)
    with rejected(ErrorCode.PERMISSION_DENIED):
        reservation_confirm(actor=actor_for(staff), reservation_id=reservation.pk, now=NOW)
    with rejected(ErrorCode.UNAUTHENTICATED):
        reservation_confirm(actor=ANONYMOUS, reservation_id=reservation.pk, now=NOW)
    with rejected(ErrorCode.NOT_FOUND):
        reservation_confirm(actor=actor_for(client), reservation_id=reservation.pk + 1, now=NOW)

    assert state(reservation) == held


def test_confirming_a_lapsed_hold_fails_and_keeps_it_expired(
    provider: Provider, client: Client
) -> None:
    reservation = hold(client, provider, at(8, 10))
    counts = row_counts()

    with pytest.raises(DomainError) as error:
        reservation_confirm(
            actor=actor_for(client), reservation_id=reservation.pk, now=reservation.expires_at
        )

    assert error.value.error_code == ErrorCode.HOLD_EXPIRED
    # The service's own (here: nested) transaction was not rolled back by the error.
    assert Reservation.objects.get(pk=reservation.pk).status == EXPIRED
    assert row_counts() == {**counts, "AuditEntry": counts["AuditEntry"] + 1}
    assert audit_trail()[-1] == ("reservation.expire", "reservation", reservation.pk, "SYSTEM")

    # Again: still HOLD_EXPIRED, and nothing more is written.
    with rejected(ErrorCode.HOLD_EXPIRED):
        reservation_confirm(
            actor=actor_for(client), reservation_id=reservation.pk, now=reservation.expires_at
        )


def test_a_cancelled_reservation_cannot_be_confirmed(provider: Provider, client: Client) -> None:
    reservation = hold(client, provider, at(8, 10))
    reservation_cancel(actor=actor_for(client), reservation_id=reservation.pk, now=NOW)

    with rejected(ErrorCode.RESERVATION_NOT_ACTIVE):
        reservation_confirm(actor=actor_for(client), reservation_id=reservation.pk, now=NOW)

    assert Reservation.objects.get(pk=reservation.pk).status == CANCELLED


@pytest.mark.django_db(transaction=True)
def test_the_expired_mark_of_a_failed_confirm_is_committed() -> None:
    make_policy(provider=None)
    provider = make_provider()
    client = make_client()
    reservation = hold(client, provider, at(8, 10))

    with pytest.raises(DomainError) as error:
        reservation_confirm(actor=actor_for(client), reservation_id=reservation.pk, now=NOW + HOUR)

    assert error.value.error_code == ErrorCode.HOLD_EXPIRED
    # Autocommit: what we read now is what the service committed.
    assert not transaction.get_connection().in_atomic_block
    assert Reservation.objects.get(pk=reservation.pk).status == EXPIRED
    assert audit_trail() == [
        ("reservation.create", "reservation", reservation.pk, "USER"),
        ("reservation.expire", "reservation", reservation.pk, "SYSTEM"),
    ]


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_confirming_a_lapsed_hold_touches_no_other_row() -> None:
    """Confirm locks its own row first; expiring any other row after that could wait on (and
    deadlock with) another session holding that row while it waits for ours."""
    make_policy(provider=None)
    provider = make_provider()
    mine, theirs = make_client(), make_client()
    my_hold = hold(mine, provider, at(8, 10))
    their_hold = hold(theirs, provider, at(8, 11))  # lapses at the same time as mine
    locked, release = threading.Event(), threading.Event()

    def other_session() -> None:
        try:
            with transaction.atomic():
                Reservation.objects.select_for_update().get(pk=their_hold.pk)
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_session)
    thread.start()
    try:
        assert locked.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # waiting on their row fails, not hangs
        with pytest.raises(DomainError) as error:
            reservation_confirm(actor=actor_for(mine), reservation_id=my_hold.pk, now=NOW + HOUR)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        release.set()
        thread.join()

    assert error.value.error_code == ErrorCode.HOLD_EXPIRED
    assert Reservation.objects.get(pk=my_hold.pk).status == EXPIRED
    assert Reservation.objects.get(pk=their_hold.pk).status == HELD  # left to its own session


# --- reservation_cancel --------------------------------------------------------------------


def test_the_client_cancels_a_hold_and_the_slot_is_free_again(
    provider: Provider, client: Client
) -> None:
    reservation = hold(client, provider, at(8, 10))
    assert 10 not in hours_listed(provider, 8)

    cancelled = reservation_cancel(
        actor=actor_for(client), reservation_id=reservation.pk, reason="  changed my mind ", now=NOW
    )

    assert state(cancelled) == (
        at(8, 10),
        at(8, 11),
        CANCELLED,
        None,
        None,
        NOW,
        client.user_id,
        "changed my mind",
    )
    assert hours_listed(provider, 8) == list(ALL_DAY[1:])
    assert AuditEntry.objects.last().changes == {
        "status": ["HELD", "CANCELLED"],
        "reason": "changed my mind",
    }


def test_the_provider_and_staff_cancel_confirmed_reservations(
    provider: Provider, client: Client
) -> None:
    first = make_reservation(provider=provider, client=client, start=at(8, 10))
    second = make_reservation(provider=provider, client=client, start=at(8, 11))
    staff = make_staff()

    reservation_cancel(actor=actor_for(provider), reservation_id=first.pk, now=NOW)
    reservation_cancel(actor=actor_for(staff), reservation_id=second.pk, now=NOW)

    assert state(first)[2:] == (CANCELLED, None, None, NOW, provider.user_id, "")
    assert state(second)[2:] == (CANCELLED, None, None, NOW, staff.pk, "")
    assert [(a, k) for a, _, _, k in audit_trail()] == [
        ("reservation.cancel", "USER"),
        ("reservation.cancel", "USER"),
    ]
    assert AuditEntry.objects.first().changes == {
        "status": ["CONFIRMED", "CANCELLED"],
        "reason": "",
    }


def test_a_stranger_cannot_cancel(provider: Provider, client: Client) -> None:
    reservation = hold(client, provider, at(8, 10))
    held = state(reservation)
    stranger = make_client()
    other_provider = make_provider()

    with rejected(ErrorCode.NOT_FOUND):
        reservation_cancel(actor=actor_for(stranger), reservation_id=reservation.pk, now=NOW)
    with rejected(ErrorCode.NOT_FOUND):
        reservation_cancel(actor=actor_for(other_provider), reservation_id=reservation.pk, now=NOW)
    with rejected(ErrorCode.UNAUTHENTICATED):
        reservation_cancel(actor=ANONYMOUS, reservation_id=reservation.pk, now=NOW)

    assert state(reservation) == held


def test_cancelling_twice_is_harmless(provider: Provider, client: Client) -> None:
    reservation = hold(client, provider, at(8, 10))
    reservation_cancel(actor=actor_for(client), reservation_id=reservation.pk, now=NOW)
    cancelled = state(reservation)
    before = row_counts()

    again = reservation_cancel(
        actor=actor_for(provider), reservation_id=reservation.pk, reason="me too", now=NOW + HOUR
    )

    assert again.pk == reservation.pk
    assert state(reservation) == cancelled
    assert row_counts() == before


def test_an_expired_or_lapsed_hold_cannot_be_cancelled(provider: Provider, client: Client) -> None:
    expired = make_reservation(provider=provider, client=client, start=at(8, 10), status=EXPIRED)
    lapsed = hold(client, provider, at(8, 11))

    with rejected(ErrorCode.RESERVATION_NOT_ACTIVE):
        reservation_cancel(actor=actor_for(client), reservation_id=expired.pk, now=NOW)
    with rejected(ErrorCode.RESERVATION_NOT_ACTIVE):
        reservation_cancel(actor=actor_for(client), reservation_id=lapsed.pk, now=lapsed.expires_at)

    assert Reservation.objects.get(pk=expired.pk).status == EXPIRED
    # A second before it lapses, the hold can still be cancelled.
    reservation_cancel(
        actor=actor_for(client), reservation_id=lapsed.pk, now=lapsed.expires_at - SECOND
    )
    assert Reservation.objects.get(pk=lapsed.pk).status == CANCELLED


def test_a_cancel_reason_has_500_characters_at_most(provider: Provider, client: Client) -> None:
    reservation = hold(client, provider, at(8, 10))

    with rejected(ErrorCode.INVALID_INPUT):
        reservation_cancel(
            actor=actor_for(client), reservation_id=reservation.pk, reason="x" * 501, now=NOW
        )

    assert Reservation.objects.get(pk=reservation.pk).status == HELD
    reservation_cancel(
        actor=actor_for(client), reservation_id=reservation.pk, reason="x" * 500, now=NOW
    )
    assert Reservation.objects.get(pk=reservation.pk).cancel_reason == "x" * 500


# --- reservation_reschedule ----------------------------------------------------------------


def test_reschedule_moves_the_reservation_and_frees_the_old_slot(
    provider: Provider, client: Client
) -> None:
    reservation = hold(client, provider, at(8, 10))

    moved = reservation_reschedule(
        actor=actor_for(client), reservation_id=reservation.pk, start=at(8, 14), now=NOW + MINUTE
    )

    assert moved.pk == reservation.pk
    assert state(moved) == (at(8, 14), at(8, 15), HELD, NOW + 30 * MINUTE, None, None, None, "")
    assert hours_listed(provider, 8, now=NOW + MINUTE) == [9, 10, 11, 12, 13, 15, 16]
    assert Reservation.objects.count() == 1
    assert AuditEntry.objects.last().action == "reservation.reschedule"
    assert AuditEntry.objects.last().changes == {
        "from": {"start": json_time(at(8, 10)), "end": json_time(at(8, 11))},
        "to": {"start": json_time(at(8, 14)), "end": json_time(at(8, 15))},
    }


def test_the_provider_reschedules_a_confirmed_reservation_onto_its_own_time(
    provider: Provider, client: Client
) -> None:
    make_policy(provider=provider, step_minutes=30)
    reservation = make_reservation(provider=provider, client=client, start=at(8, 10))

    reservation_reschedule(
        actor=actor_for(provider), reservation_id=reservation.pk, start=at(8, 10, 30), now=NOW
    )

    assert state(reservation)[:3] == (at(8, 10, 30), at(8, 11, 30), CONFIRMED)


def test_reschedule_to_a_taken_slot_leaves_the_original_unchanged(
    provider: Provider, client: Client
) -> None:
    reservation = hold(client, provider, at(8, 10))
    make_reservation(provider=provider, client=make_client(), start=at(8, 14))
    before = state(reservation)

    for start, code in [
        (at(8, 14), ErrorCode.SLOT_UNAVAILABLE),
        (at(8, 13, 30), ErrorCode.SLOT_UNAVAILABLE),
        (at(12, 10), ErrorCode.SLOT_UNAVAILABLE),
        (at(7, 10), ErrorCode.NOTICE_TOO_SHORT),
        (at(8, 10) + timedelta(days=90), ErrorCode.BEYOND_HORIZON),
    ]:
        with rejected(code):
            reservation_reschedule(
                actor=actor_for(client), reservation_id=reservation.pk, start=start, now=NOW
            )

    assert state(reservation) == before
    assert hours_listed(provider, 8) == [9, 11, 12, 13, 15, 16]


def test_reschedule_onto_a_lapsed_hold(provider: Provider, client: Client) -> None:
    reservation = make_reservation(provider=provider, client=client, start=at(8, 10))
    lapsed = hold(make_client(), provider, at(8, 14))

    reservation_reschedule(
        actor=actor_for(client), reservation_id=reservation.pk, start=at(8, 14), now=NOW + HOUR
    )

    assert state(reservation)[:3] == (at(8, 14), at(8, 15), CONFIRMED)
    assert Reservation.objects.get(pk=lapsed.pk).status == EXPIRED


def test_reschedule_with_a_retired_provider_is_not_found_like_a_new_booking(
    provider: Provider, client: Client
) -> None:
    reservation = make_reservation(provider=provider, client=client, start=at(8, 10))
    provider.is_active = False
    provider.save()

    with rejected(ErrorCode.NOT_FOUND):
        hold(client, provider, at(8, 14))
    with rejected(ErrorCode.NOT_FOUND):
        reservation_reschedule(
            actor=actor_for(client), reservation_id=reservation.pk, start=at(8, 14), now=NOW
        )

    assert state(reservation)[:3] == (at(8, 10), at(8, 11), CONFIRMED)
    # Cancelling stays possible.
    reservation_cancel(actor=actor_for(client), reservation_id=reservation.pk, now=NOW)
    assert Reservation.objects.get(pk=reservation.pk).status == CANCELLED


def test_create_checks_the_provider_is_active_under_its_lock(
    provider: Provider, client: Client
) -> None:
    """There is no look before the lock: the provider is checked once, locked."""
    provider.is_active = False
    provider.save()

    with rejected(ErrorCode.NOT_FOUND):
        hold(client, provider, at(8, 10))


def test_reschedule_needs_a_live_reservation_the_actor_may_see(
    provider: Provider, client: Client
) -> None:
    reservation = hold(client, provider, at(8, 10))
    cancelled = make_reservation(
        provider=provider, client=client, start=at(8, 11), status=CANCELLED
    )
    stranger = make_client()

    with rejected(ErrorCode.NOT_FOUND):
        reservation_reschedule(
            actor=actor_for(stranger), reservation_id=reservation.pk, start=at(8, 14), now=NOW
        )
    with rejected(ErrorCode.NOT_FOUND):
        reservation_reschedule(
            actor=actor_for(client), reservation_id=10**9, start=at(8, 14), now=NOW
        )
    with rejected(ErrorCode.UNAUTHENTICATED):
        reservation_reschedule(
            actor=ANONYMOUS, reservation_id=reservation.pk, start=at(8, 14), now=NOW
        )
    with rejected(ErrorCode.NAIVE_DATETIME):
        reservation_reschedule(
            actor=actor_for(client),
            reservation_id=reservation.pk,
            start=datetime(2030, 1, 8, 14),  # noqa: DTZ001
            now=NOW,
        )
    with rejected(ErrorCode.RESERVATION_NOT_ACTIVE):
        reservation_reschedule(
            actor=actor_for(client), reservation_id=cancelled.pk, start=at(8, 14), now=NOW
        )
    with rejected(ErrorCode.RESERVATION_NOT_ACTIVE):
        reservation_reschedule(
            actor=actor_for(client),
            reservation_id=reservation.pk,
            start=at(8, 14),
            now=reservation.expires_at,
        )

    assert state(reservation)[:3] == (at(8, 10), at(8, 11), HELD)


def wait_until_another_session_waits_for_a_lock() -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else frozen per transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)
    raise AssertionError("the other session never waited for a lock")


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_reschedule_and_the_expiry_job_do_not_deadlock() -> None:
    """The job locks lapsed holds in id order; a reschedule must not hold its own row while it
    waits for them, or the two wait for each other until PostgreSQL kills one."""
    make_policy(provider=None)
    provider, client = make_provider(), make_client()
    lapsed = make_reservation(
        provider=provider, client=make_client(), start=at(8, 12), status=HELD, expires_at=NOW
    )
    moving = make_reservation(  # live at NOW, lapsed for the job below
        provider=provider, client=client, start=at(8, 10), status=HELD, expires_at=NOW + MINUTE
    )
    outcome: list[BaseException | Reservation] = []

    def reschedule() -> None:
        try:
            outcome.append(
                reservation_reschedule(
                    actor=actor_for(client), reservation_id=moving.pk, start=at(8, 14), now=NOW
                )
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread to assert on
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=reschedule)
    with transaction.atomic():  # the job, mid-run: it has locked the first lapsed hold
        Reservation.objects.select_for_update().get(pk=lapsed.pk)
        thread.start()
        wait_until_another_session_waits_for_a_lock()
        expired = reservation_services.reservation_expire_due(now=NOW + HOUR)
    thread.join(timeout=30)

    assert expired == 2
    assert len(outcome) == 1
    assert isinstance(outcome[0], DomainError), outcome[0]
    assert outcome[0].error_code == ErrorCode.RESERVATION_NOT_ACTIVE
    assert state(moving)[:3] == (at(8, 10), at(8, 11), EXPIRED)
    assert Reservation.objects.get(pk=lapsed.pk).status == EXPIRED


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_people_booking_each_other_do_not_wait_on_each_others_user_row() -> None:
    """X books Y while Y books X (both are providers and clients). Each booking locks its
    provider, then its client; locking their users' rows as well would make the two wait for
    each other."""
    make_policy(provider=None)
    x, y = make_provider(), make_provider()
    x_client = Client.objects.create(user=x.user)
    Client.objects.create(user=y.user)
    outcome: list[BaseException | Reservation] = []

    def x_books_y() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
            outcome.append(hold(x_client, y, at(8, 10)))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread to assert on
            outcome.append(exc)
        finally:
            connection.close()

    with transaction.atomic():  # Y booking X, half-way: X's provider row is locked
        lock_provider(provider_id=x.pk)
        thread = threading.Thread(target=x_books_y)
        thread.start()
        thread.join(timeout=30)

    assert len(outcome) == 1
    assert isinstance(outcome[0], Reservation), outcome[0]
    assert (outcome[0].provider_id, outcome[0].client_id) == (y.pk, x_client.pk)


# --- the constraint backstop ---------------------------------------------------------------


def insert(provider: Provider, client: Client, start: datetime, minutes: int, status: str) -> None:
    Reservation.objects.create(
        provider=provider,
        client=client,
        start=start,
        end=start + timedelta(minutes=minutes),
        status=status,
        expires_at=NOW + HOUR if status == HELD else None,
    )


@pytest.mark.parametrize(
    ("start", "minutes", "status"),
    [
        (at(8, 10), 60, CONFIRMED),  # the same period
        (at(8, 10, 30), 60, CONFIRMED),  # overlapping the end
        (at(8, 9, 30), 60, HELD),  # overlapping the start, held
        (at(8, 10, 15), 15, HELD),  # inside
        (at(8, 9), 180, CONFIRMED),  # around
    ],
)
def test_the_database_refuses_an_overlapping_active_reservation(
    provider: Provider, client: Client, start: datetime, minutes: int, status: str
) -> None:
    insert(provider, client, at(8, 10), 60, CONFIRMED)

    with pytest.raises(IntegrityError, match="reservation_no_overlap"), transaction.atomic():
        insert(provider, client, start, minutes, status)

    assert Reservation.objects.count() == 1


def test_the_database_accepts_the_near_misses(provider: Provider, client: Client) -> None:
    insert(provider, client, at(8, 10), 60, CONFIRMED)
    other = make_provider()

    insert(provider, client, at(8, 9), 60, CONFIRMED)  # touching before
    insert(provider, client, at(8, 11), 60, HELD)  # touching after
    insert(other, client, at(8, 10), 60, CONFIRMED)  # another provider
    insert(provider, client, at(8, 10), 60, CANCELLED)  # overlapping, cancelled
    insert(provider, client, at(8, 10, 30), 60, EXPIRED)  # overlapping, expired

    assert Reservation.objects.count() == 6


def test_the_database_refuses_reviving_an_overlapping_cancelled_reservation(
    provider: Provider, client: Client
) -> None:
    insert(provider, client, at(8, 10), 60, CONFIRMED)
    insert(provider, client, at(8, 10, 30), 60, CANCELLED)

    with pytest.raises(IntegrityError, match="reservation_no_overlap"), transaction.atomic():
        Reservation.objects.filter(status=CANCELLED).update(status=CONFIRMED)


def test_a_race_the_check_missed_is_reported_as_slot_unavailable(
    provider: Provider, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The constraint's IntegrityError is translated at the service boundary."""
    make_reservation(provider=provider, client=make_client(), start=at(8, 10))
    reservation = hold(client, provider, at(8, 14))
    before = state(reservation)
    # As if another transaction had booked 10:00 after the check looked.
    monkeypatch.setattr(reservation_services, "_check_bookable", lambda **kwargs: None)

    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        hold(client, provider, at(8, 10, 30))
    with rejected(ErrorCode.SLOT_UNAVAILABLE):
        reservation_reschedule(
            actor=actor_for(client), reservation_id=reservation.pk, start=at(8, 10), now=NOW
        )

    assert state(reservation) == before


# --- reservation_list ----------------------------------------------------------------------


def test_reservation_list_shows_each_person_what_they_are_involved_in() -> None:
    first, second = make_provider(), make_provider()
    alice, bob = make_client(), make_client()
    r1 = make_reservation(provider=first, client=alice, start=at(8, 10))
    r2 = make_reservation(
        provider=first, client=bob, start=at(8, 11), status=HELD, expires_at=NOW + HOUR
    )
    r3 = make_reservation(provider=second, client=alice, start=at(9, 10), status=CANCELLED)
    r4 = make_reservation(provider=second, client=bob, start=at(8, 9))

    def ids(user: object, **filters: object) -> list[int]:
        return [r.pk for r in reservation_list(user=user, **filters)]

    assert ids(alice.user) == [r1.pk, r3.pk]
    assert ids(bob.user) == [r4.pk, r2.pk]
    assert ids(first.user) == [r1.pk, r2.pk]
    assert ids(second.user) == [r4.pk, r3.pk]
    assert ids(make_staff()) == [r4.pk, r1.pk, r2.pk, r3.pk]
    assert ids(make_user()) == []
    assert ids(make_client().user) == []


def test_reservation_list_filters() -> None:
    first, second = make_provider(), make_provider()
    alice = make_client()
    r1 = make_reservation(provider=first, client=alice, start=at(8, 10))
    r2 = make_reservation(
        provider=first, client=alice, start=at(8, 11), status=HELD, expires_at=NOW + HOUR
    )
    r3 = make_reservation(provider=second, client=alice, start=at(9, 10), status=CANCELLED)
    r4 = make_reservation(provider=second, client=alice, start=at(8, 9))
    user = alice.user

    def ids(**filters: object) -> list[int]:
        return [r.pk for r in reservation_list(user=user, **filters)]

    assert ids(statuses=["CONFIRMED"]) == [r4.pk, r1.pk]
    assert ids(statuses=["HELD", "CANCELLED"]) == [r2.pk, r3.pk]
    assert ids(statuses=[]) == [r4.pk, r1.pk, r2.pk, r3.pk]
    assert ids(provider_id=second.pk) == [r4.pk, r3.pk]
    assert ids(provider_id=second.pk, statuses=["CONFIRMED"]) == [r4.pk]
    # A reservation is in [start, end) when it overlaps it: touching is not overlapping.
    assert ids(start=at(8, 10, 30), end=at(8, 11)) == [r1.pk]
    assert ids(start=at(8, 11), end=at(8, 11, 1)) == [r2.pk]
    assert ids(start=at(8, 10), end=at(8, 10)) == []
    assert ids(start=at(8, 12)) == [r3.pk]
    assert ids(end=at(8, 10)) == [r4.pk]
    assert ids(provider_id=10**9) == []


def test_reservation_list_rejects_naive_bounds() -> None:
    user = make_client().user

    with rejected(ErrorCode.NAIVE_DATETIME):
        reservation_list(user=user, start=datetime(2030, 1, 8))  # noqa: DTZ001
    with rejected(ErrorCode.NAIVE_DATETIME):
        reservation_list(user=user, end=datetime(2030, 1, 8))  # noqa: DTZ001


def test_a_token_actor_books_like_its_user(provider: Provider, client: Client) -> None:
    token, _ = api_token_create(actor=actor_for(client), name="cli", now=NOW)

    reservation = reservation_create(
        actor=Actor(user=client.user, api_token=token),
        provider_id=provider.pk,
        start=at(8, 10),
        now=NOW,
    )

    entry = AuditEntry.objects.get(action="reservation.create")
    assert (entry.subject_id, entry.actor_kind, entry.actor_token_id) == (
        reservation.pk,
        "TOKEN",
        token.pk,
    )


def test_a_booking_that_is_over_cannot_be_cancelled_or_moved() -> None:
    provider, client = make_provider(), make_client()
    booking = make_reservation(provider=provider, client=client, start=at(8, 10))
    over = booking.end  # Tuesday 11:00: the appointment has just ended
    target = at(9, 14)

    with rejected(ErrorCode.RESERVATION_NOT_ACTIVE):
        reservation_cancel(actor=actor_for(client), reservation_id=booking.pk, now=over)
    with rejected(ErrorCode.RESERVATION_NOT_ACTIVE):
        reservation_reschedule(
            actor=actor_for(provider), reservation_id=booking.pk, start=target, now=over
        )

    # A second earlier it was still running, and could be cancelled.
    reservation_cancel(actor=actor_for(client), reservation_id=booking.pk, now=over - SECOND)
    booking.refresh_from_db()
    assert booking.status == CANCELLED
