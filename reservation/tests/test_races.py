"""Races on real, separate database connections: many threads call the services at once.

Each thread opens its own connection (Django's are per thread), waits at a barrier so they all
start together, and closes its connection at the end. The assertions are about outcomes only:
exactly who won, the exact error code of everyone else, and — checked in SQL afterwards — that
no two live reservations of a provider overlap.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier, Lock
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections

from reservation.errors import DomainError
from reservation.models import Client, Provider, Reservation, ReservationStatus
from reservation.services import reservations as reservation_services
from reservation.services.reservations import reservation_create, reservation_reschedule
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

CONTENDERS = 50

Outcome = Reservation | BaseException


def race(calls: list[Callable[[], Reservation]]) -> list[Outcome]:
    """Run every call in its own thread and connection, all released at once; each call's
    result or exception, in order."""
    barrier = Barrier(len(calls))

    def contend(call: Callable[[], Reservation]) -> Reservation:
        try:
            connection.ensure_connection()  # connect first: race on the queries, not on login
            barrier.wait(timeout=60)
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(contend, call) for call in calls]
        outcomes: list[Outcome] = []
        for future in futures:
            error = future.exception(timeout=120)
            outcomes.append(error if error is not None else future.result())
    return outcomes


def codes(outcomes: list[Outcome]) -> list[str]:
    """The domain error code of each failed outcome; anything else fails the test."""
    failures = [o for o in outcomes if not isinstance(o, Reservation)]
    unexpected = [o for o in failures if not isinstance(o, DomainError)]
    assert unexpected == [], f"unexpected exceptions: {unexpected!r}"
    return sorted(str(o.code) for o in failures)  # type: ignore[union-attr]


def overlapping_live_pairs() -> list[tuple[int, int]]:
    """Pairs of live (held or confirmed) reservations of one provider whose times overlap."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.id, b.id
            FROM reservation_reservation a
            JOIN reservation_reservation b
              ON a.provider_id = b.provider_id AND a.id < b.id
             AND tstzrange(a.start, a."end", '[)') && tstzrange(b.start, b."end", '[)')
            WHERE a.status IN ('HELD', 'CONFIRMED') AND b.status IN ('HELD', 'CONFIRMED')
            """
        )
        return cursor.fetchall()


def create_call(client: Client, provider: Provider, start: Any) -> Callable[[], Reservation]:
    return lambda: reservation_create(
        actor=actor_for(client), provider_id=provider.pk, start=start, now=NOW
    )


def test_fifty_clients_race_for_one_slot() -> None:
    # Given a provider's free slot and 50 clients
    provider = make_provider()
    clients = [make_client() for _ in range(CONTENDERS)]

    # When they all try to hold it at once
    outcomes = race([create_call(client, provider, at(8, 9)) for client in clients])

    # Then exactly one holds it and every other one is told the slot is unavailable
    winners = [o for o in outcomes if isinstance(o, Reservation)]
    assert len(winners) == 1
    assert codes(outcomes) == ["SLOT_UNAVAILABLE"] * (CONTENDERS - 1)
    assert list(Reservation.objects.values_list("pk", "status", "start")) == [
        (winners[0].pk, ReservationStatus.HELD, at(8, 9))
    ]
    assert overlapping_live_pairs() == []


def test_without_the_lock_the_constraint_still_lets_one_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the service's row locks switched off, and every contender held back after its
    # check until all have checked: all 50 see a free slot, and only the exclusion constraint
    # stands between them.
    # Their INSERTs are let through one at a time: PostgreSQL can deadlock two transactions
    # that insert conflicting rows under an exclusion constraint at the same instant (seen
    # here: "deadlock detected ... while checking exclusion constraint"), which the service's
    # lock exists to prevent; this test is about the constraint's verdict, not that.
    def no_locks(*, provider_id: int, client_id: int) -> tuple[Provider, Client]:
        return (
            Provider.objects.select_related("user").get(pk=provider_id),
            Client.objects.select_related("user").get(pk=client_id),
        )

    checked = Barrier(CONTENDERS)
    check = reservation_services._check_bookable

    def check_then_wait(**kwargs: Any) -> None:
        check(**kwargs)
        checked.wait(timeout=60)

    one_insert_at_a_time = Lock()
    insert = reservation_services._insert_hold
    inserts: list[int] = []

    def serial_insert(**kwargs: Any) -> Reservation:
        with one_insert_at_a_time:
            inserts.append(kwargs["reservation"].client_id)
            return insert(**kwargs)

    monkeypatch.setattr(reservation_services, "lock_booking", no_locks)
    monkeypatch.setattr(reservation_services, "_check_bookable", check_then_wait)
    monkeypatch.setattr(reservation_services, "_insert_hold", serial_insert)
    provider = make_provider()
    clients = [make_client() for _ in range(CONTENDERS)]

    outcomes = race([create_call(client, provider, at(8, 9)) for client in clients])

    # Then still one winner; the 49 inserts the constraint refused reach the caller as
    # SLOT_UNAVAILABLE (an IntegrityError would be an INTERNAL_ERROR at the API)
    # (every one of the 50 got past its check and tried its INSERT: the lock patched above is
    # the one the service goes through)
    assert sorted(inserts) == sorted(client.pk for client in clients)
    assert len([o for o in outcomes if isinstance(o, Reservation)]) == 1, outcomes
    assert codes(outcomes) == ["SLOT_UNAVAILABLE"] * (CONTENDERS - 1)
    losers = [o for o in outcomes if isinstance(o, DomainError)]
    assert all(isinstance(o.__cause__, IntegrityError) for o in losers)
    assert overlapping_live_pairs() == []


def test_concurrent_retries_with_one_idempotency_key_make_one_hold() -> None:
    # Given a client whose request is sent ten times at once (a double-click, a retrying proxy)
    provider = make_provider()
    client = make_client()

    def retry() -> Reservation:
        return reservation_create(
            actor=actor_for(client),
            provider_id=provider.pk,
            start=at(8, 9),
            idempotency_key="checkout-42",
            now=NOW,
        )

    outcomes = race([retry] * 10)

    # Then every attempt answers with the one reservation made
    assert codes(outcomes) == []
    assert {o.pk for o in outcomes} == set(Reservation.objects.values_list("pk", flat=True))
    assert Reservation.objects.count() == 1


@pytest.mark.parametrize("round_", range(4))  # who wins varies from round to round
def test_reschedule_races_new_bookings_for_both_its_slots(round_: int) -> None:
    # Given a confirmed booking at 09:00 whose client moves it to 11:00, while other clients
    # try to hold 11:00, and others 09:00 (free only once the move commits)
    provider = make_provider()
    mover = make_client()
    booked = make_reservation(provider=provider, client=mover, start=at(8, 9))

    def move() -> Reservation:
        return reservation_reschedule(
            actor=actor_for(mover), reservation_id=booked.pk, start=at(8, 11), now=NOW
        )

    calls = [move]
    calls += [create_call(make_client(), provider, at(8, 11)) for _ in range(4)]
    calls += [create_call(make_client(), provider, at(8, 9)) for _ in range(5)]

    # When they all go at once
    outcomes = race(calls)

    # Then every failure is SLOT_UNAVAILABLE, and 11:00 has exactly one live reservation
    failed = codes(outcomes)
    assert set(failed) <= {"SLOT_UNAVAILABLE"}
    live = Reservation.objects.filter(status__in=[ReservationStatus.HELD, "CONFIRMED"])
    assert live.filter(start=at(8, 11)).count() == 1
    booked.refresh_from_db()
    assert booked.status == ReservationStatus.CONFIRMED
    winners = len(outcomes) - len(failed)
    if isinstance(outcomes[0], Reservation):
        # The move won 11:00; 09:00, freed by it, went to at most one of its contenders
        assert booked.start == at(8, 11)
        assert live.filter(start=at(8, 9)).count() == winners - 1 <= 1
    else:
        # A new hold won 11:00; the booking is untouched at 09:00, which nobody else got
        assert booked.start == at(8, 9)
        assert list(live.filter(start=at(8, 9))) == [booked]
        assert winners == 1
    assert overlapping_live_pairs() == []


def test_one_client_racing_for_ten_slots_gets_the_hold_limit() -> None:
    # Given ten providers (so no provider lock orders the attempts), each allowing 3 holds
    providers = [make_provider() for _ in range(10)]
    for provider in providers:
        make_policy(provider=provider, max_active_holds=3)
    client = make_client()

    # When one client tries to hold a slot with each of them at once
    outcomes = race([create_call(client, provider, at(8, 9)) for provider in providers])

    # Then exactly three holds are made, and seven are refused for the limit
    assert len([o for o in outcomes if isinstance(o, Reservation)]) == 3
    assert codes(outcomes) == ["HOLD_LIMIT_REACHED"] * 7
    assert (
        Reservation.objects.filter(
            client=client, status=ReservationStatus.HELD, expires_at=NOW + timedelta(minutes=30)
        ).count()
        == 3
    )


def test_two_people_who_are_both_provider_and_client_book_each_other() -> None:
    # Given two people who each offer time and book the other's
    ann, bob = make_provider(), make_provider()
    for provider in (ann, bob):
        Client.objects.create(user=provider.user)
        make_policy(provider=provider, max_active_holds=20)
    ann_client, bob_client = Client.objects.get(user=ann.user), Client.objects.get(user=bob.user)

    # When each tries to hold all eight of the other's Tuesday slots, all at once
    calls = []
    for hour in range(9, 17):
        calls.append(create_call(ann_client, bob, at(8, hour)))
        calls.append(create_call(bob_client, ann, at(8, hour)))
    outcomes = race(calls)

    # Then every booking succeeds: nothing deadlocks on the two people's locks
    assert codes(outcomes) == []
    assert Reservation.objects.filter(provider=ann, client=bob_client).count() == 8
    assert Reservation.objects.filter(provider=bob, client=ann_client).count() == 8
