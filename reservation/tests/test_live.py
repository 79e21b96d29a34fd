"""What subscriptions are built on: the change notifications of migration 0015 (sent at
commit, never for a rollback, chunked) and slot_state's next instant of change."""

import contextlib
from datetime import time, timedelta

import psycopg
import pytest
from django.db import connection, transaction

from reservation.models import Provider, Reservation, ReservationStatus, TimeOff
from reservation.selectors.live import slot_state
from reservation.tests.factories import (
    NOW,
    at,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
)

TICK = timedelta(microseconds=1)


@contextlib.contextmanager
def listening():
    """A second connection LISTENing on the channel; yields a function that returns the
    payloads delivered so far."""
    params = connection.get_connection_params()
    params = {
        k: v for k, v in params.items() if k in {"dbname", "user", "password", "host", "port"}
    }
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute("LISTEN rendezvous_changes")

        def received() -> list[str]:
            return [n.payload for n in conn.notifies(timeout=0.5, stop_after=None)]

        yield received


@pytest.mark.django_db(transaction=True)
def test_notifications_come_at_commit_and_never_for_a_rollback() -> None:
    provider = make_provider()
    client = make_client()
    with listening() as received:
        received()  # what the setup announced
        # Given a transaction that writes a hold and rolls back
        with contextlib.suppress(RuntimeError), transaction.atomic():
            make_reservation(provider=provider, client=client, start=at(8, 10))
            raise RuntimeError
        # Then nothing was announced
        assert received() == []

        # When one commits
        with transaction.atomic():
            held = make_reservation(
                provider=provider,
                client=client,
                start=at(8, 11),
                status=ReservationStatus.HELD,
                expires_at=NOW + timedelta(minutes=10),
            )
            # nothing before the commit
            assert received() == []
        # Then the provider's slots and the reservation are announced, once each
        assert received() == [f"p:{provider.pk}", f"r:{held.pk}.{client.pk}.{provider.pk}"]

        # An update that changes nothing that blocks time announces the row only
        Reservation.objects.filter(pk=held.pk).update(cancel_reason="x")
        assert received() == [f"r:{held.pk}.{client.pk}.{provider.pk}"]
        # Deleting a live hold announces the provider's slots
        Reservation.objects.filter(pk=held.pk).delete()
        assert received() == [f"p:{provider.pk}"]
        # Time off announces its user (the provider's slots)
        TimeOff.objects.create(user=provider.user, start=at(8, 12), end=at(8, 13))
        assert received() == [f"u:{provider.user_id}"]
        # The global policy: every provider
        make_policy(provider=None, hold_minutes=20)
        assert received() == ["g:0"]


def confirmed_hours(count: int) -> Provider:
    """A provider with `count` confirmed hour-long bookings from tomorrow on, in one INSERT."""
    provider = make_provider()
    client = make_client()
    Reservation.objects.bulk_create(
        Reservation(
            provider=provider,
            client=client,
            start=NOW + timedelta(days=1, hours=n),
            end=NOW + timedelta(days=1, hours=n + 1),
            status=ReservationStatus.CONFIRMED,
        )
        for n in range(count)
    )
    return provider


@pytest.mark.django_db(transaction=True)
def test_a_bulk_change_is_one_notification_of_its_time() -> None:
    provider = confirmed_hours(1001)
    with listening() as received:
        received()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT (extract(epoch FROM transaction_timestamp()) * 1e6)::bigint")
                [(began,)] = cursor.fetchall()
            Reservation.objects.filter(provider=provider).update(status=ReservationStatus.CANCELLED)
        assert received() == [f"p:{provider.pk}", f"R:{began}"]


@pytest.mark.django_db(transaction=True)
def test_a_large_change_is_chunked_under_the_payload_limit() -> None:
    provider = confirmed_hours(600)
    with listening() as received:
        received()
        Reservation.objects.filter(provider=provider).update(status=ReservationStatus.CANCELLED)
        payloads = received()
    rows = [p for p in payloads if p.startswith("r:")]
    assert sorted(len(p.split(",")) for p in rows) == [100, 250, 250]
    assert all(len(p) < 8000 for p in rows)
    assert {item.split(".")[0] for p in rows for item in p[2:].split(",")} == {
        str(pk) for pk in Reservation.objects.values_list("pk", flat=True)
    }
    assert [p for p in payloads if p.startswith("p:")] == [f"p:{provider.pk}"]


@pytest.mark.django_db
def test_slot_state_knows_when_the_slots_change_by_the_clock_alone() -> None:
    # A provider working 09–17 with an hour's notice, a horizon of a day
    provider = make_provider(hours=(time(9), time(17)))
    make_policy(provider=provider, min_notice_minutes=60, horizon_days=1)
    now = at(7, 8)  # Monday 08:00

    # The first slot (09:00) goes inside the notice one tick after 08:00
    state = slot_state(provider_id=provider.pk, start=at(7, 0), end=at(8, 0), now=now)
    assert state.slots[0] == (at(7, 9), at(7, 10))
    assert state.next_change_at == at(7, 8) + TICK

    # A later range: its first slot (Tuesday 09:00) is past the horizon (Tuesday 08:00) now and
    # comes inside it at Monday 09:00
    state = slot_state(provider_id=provider.pk, start=at(8, 0), end=at(9, 0), now=now)
    assert state.slots == ()
    assert state.next_change_at == at(7, 9)

    # A live hold in the range that lapses sooner (07:55, before the notice's 08:00) decides it
    make_reservation(
        provider=provider,
        client=make_client(),
        start=at(7, 12),
        status=ReservationStatus.HELD,
        expires_at=at(7, 7, 55),
    )
    state = slot_state(provider_id=provider.pk, start=at(7, 0), end=at(8, 0), now=at(7, 7, 50))
    assert (at(7, 12), at(7, 13)) not in state.slots
    assert state.next_change_at == at(7, 7, 55) + TICK
    # ...and once lapsed, its slot is back with nothing written
    later = slot_state(
        provider_id=provider.pk, start=at(7, 0), end=at(8, 0), now=at(7, 7, 55) + TICK
    )
    assert (at(7, 12), at(7, 13)) in later.slots
