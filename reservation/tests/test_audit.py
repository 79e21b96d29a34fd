"""The audit trail: written with every state change, in its transaction, and shown only to
the people involved."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

import pytest

from reservation.actors import SYSTEM, Actor
from reservation.models import (
    ApiToken,
    AuditEntry,
    AvailabilityWindow,
    Client,
    Provider,
    Reservation,
    ReservationStatus,
    TimeOff,
    User,
    WorkingHours,
)
from reservation.selectors.reservations import audit_entries_for
from reservation.services import accounts, availability, reservations
from reservation.services.accounts import api_token_create
from reservation.tests.factories import (
    NOW,
    PASSWORD,
    actor_for,
    at,
    json_time,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
    make_staff,
    make_time_off,
    make_user,
    make_window,
)

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def everything() -> dict[str, list[tuple[Any, ...]]]:
    """Every row a service could write, field by field: equal before and after means nothing
    was written."""
    return {
        "users": list(User.objects.order_by("pk").values_list("pk", "email", "name", "time_zone")),
        "clients": list(Client.objects.order_by("pk").values_list("pk", "user_id")),
        "providers": list(Provider.objects.order_by("pk").values_list("pk", "user_id")),
        "tokens": list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at")),
        "windows": list(
            AvailabilityWindow.objects.order_by("pk").values_list("pk", "start", "end")
        ),
        "hours": list(
            WorkingHours.objects.order_by("pk").values_list("pk", "weekday", "start", "end")
        ),
        "time_off": list(TimeOff.objects.order_by("pk").values_list("pk", "start", "end")),
        "reservations": list(
            Reservation.objects.order_by("pk").values_list(
                "pk", "start", "end", "status", "expires_at", "confirmed_at", "cancelled_at"
            )
        ),
        "audit": list(AuditEntry.objects.order_by("pk").values_list("pk")),
    }


@dataclass
class World:
    provider: Provider
    client: Client
    held: Reservation
    confirmed: Reservation
    lapsed: Reservation
    window: AvailabilityWindow
    time_off: TimeOff
    token: ApiToken


@pytest.fixture
def world() -> World:
    make_policy(provider=None)
    provider = make_provider()
    client = make_client()
    token, _ = api_token_create(actor=actor_for(client), name="cli", now=NOW)
    return World(
        provider=provider,
        client=client,
        held=make_reservation(
            provider=provider,
            client=client,
            start=at(8, 10),
            status=ReservationStatus.HELD,
            expires_at=NOW + HOUR,
        ),
        confirmed=make_reservation(provider=provider, client=client, start=at(8, 11)),
        lapsed=make_reservation(
            provider=provider,
            client=make_client(),
            start=at(8, 12),
            status=ReservationStatus.HELD,
            expires_at=NOW,
        ),
        window=make_window(provider=provider, start=at(12, 9), end=at(12, 12)),
        time_off=make_time_off(user=provider.user, start=at(9, 9), end=at(9, 10)),
        token=token,
    )


Action = Callable[[World], object]

ACTIONS: dict[str, tuple[object, str, Action]] = {
    "account_register": (
        accounts,
        "audit_record",
        lambda w: accounts.account_register(email="new@example.com", password=PASSWORD, now=NOW),
    ),
    "provider_create": (
        accounts,
        "audit_record",
        lambda w: accounts.provider_create(email=w.client.user.email, actor=SYSTEM, now=NOW),
    ),
    "api_token_create": (
        accounts,
        "audit_record",
        lambda w: accounts.api_token_create(actor=actor_for(w.client), name="x", now=NOW),
    ),
    "api_token_revoke": (
        accounts,
        "audit_record",
        lambda w: accounts.api_token_revoke(
            actor=actor_for(w.client), token_id=w.token.pk, now=NOW
        ),
    ),
    "availability_bulk_create": (
        availability,
        "audit_record",
        lambda w: availability.availability_bulk_create(
            actor=actor_for(w.provider), windows=[(at(12, 12), at(12, 13))], now=NOW
        ),
    ),
    "availability_delete": (
        availability,
        "audit_record",
        lambda w: availability.availability_delete(
            actor=actor_for(w.provider), window_ids=[w.window.pk], now=NOW
        ),
    ),
    "working_hours_set": (
        availability,
        "audit_record",
        lambda w: availability.working_hours_set(
            actor=actor_for(w.provider),
            shifts=[availability.Shift(weekday=0, start=time(8), end=time(9))],
            time_zone="Europe/Berlin",
            now=NOW,
        ),
    ),
    "time_off_create": (
        availability,
        "audit_record",
        lambda w: availability.time_off_create(
            actor=actor_for(w.provider), start=at(10, 9), end=at(10, 10), now=NOW
        ),
    ),
    "time_off_delete": (
        availability,
        "audit_record",
        lambda w: availability.time_off_delete(
            actor=actor_for(w.provider), time_off_id=w.time_off.pk, now=NOW
        ),
    ),
    "reservation_create": (
        reservations,
        "audit_entry",  # built in the transaction, written in the INSERT of the hold
        lambda w: reservations.reservation_create(
            actor=actor_for(w.client), provider_id=w.provider.pk, start=at(8, 12), now=NOW
        ),
    ),
    "reservation_confirm": (
        reservations,
        "audit_record",
        lambda w: reservations.reservation_confirm(
            actor=actor_for(w.client), reservation_id=w.held.pk, now=NOW
        ),
    ),
    "reservation_cancel": (
        reservations,
        "audit_record",
        lambda w: reservations.reservation_cancel(
            actor=actor_for(w.provider), reservation_id=w.confirmed.pk, now=NOW
        ),
    ),
    "reservation_reschedule": (
        reservations,
        "audit_record",
        lambda w: reservations.reservation_reschedule(
            actor=actor_for(w.client), reservation_id=w.confirmed.pk, start=at(8, 12), now=NOW
        ),
    ),
    # reservation_expire_due writes its entries in the same SQL statement as the change:
    # reservation/tests/test_expiry.py breaks the audit table under it instead.
}


@pytest.mark.parametrize("name", ACTIONS)
def test_each_state_change_is_audited_in_its_own_transaction(
    world: World, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, writer, action = ACTIONS[name]
    before = everything()

    # If writing the entry fails, the change it records must not survive either ...
    def broken(**kwargs: object) -> None:
        raise RuntimeError("the audit table is gone")

    monkeypatch.setattr(module, writer, broken)
    with pytest.raises(RuntimeError, match="the audit table is gone"):
        action(world)
    assert everything() == before

    # ... and when it works, the change comes with at least one entry stamped with `now`.
    monkeypatch.undo()
    action(world)
    after = everything()
    assert after != before
    new = AuditEntry.objects.exclude(pk__in=[pk for (pk,) in before["audit"]])
    assert new.count() >= 1
    assert {entry.at for entry in new} == {NOW}


def test_the_life_of_a_reservation_in_the_audit_trail() -> None:
    make_policy(provider=None)
    provider = make_provider()
    client = make_client()
    staff = make_staff()
    token, _ = api_token_create(actor=actor_for(client), name="cli", now=NOW)
    AuditEntry.objects.all().delete()
    by_token = Actor(user=client.user, api_token=token)

    made = reservations.reservation_create(
        actor=by_token, provider_id=provider.pk, start=at(8, 10), now=NOW
    )
    reservations.reservation_confirm(
        actor=actor_for(client), reservation_id=made.pk, now=NOW + MINUTE
    )
    reservations.reservation_reschedule(
        actor=actor_for(provider), reservation_id=made.pk, start=at(8, 14), now=NOW + 2 * MINUTE
    )
    reservations.reservation_cancel(
        actor=actor_for(staff), reservation_id=made.pk, reason="closed", now=NOW + 3 * MINUTE
    )
    forgotten = reservations.reservation_create(
        actor=by_token, provider_id=provider.pk, start=at(8, 9), now=NOW + 4 * MINUTE
    )
    reservations.reservation_expire_due(now=NOW + HOUR)

    trail = list(
        AuditEntry.objects.order_by("at", "id").values_list(
            "at", "action", "subject_id", "actor_kind", "actor_user_id", "actor_token_id", "changes"
        )
    )
    assert trail == [
        (
            NOW,
            "reservation.create",
            made.pk,
            "TOKEN",
            client.user_id,
            token.pk,
            {
                "provider": provider.pk,
                "client": client.pk,
                "start": json_time(at(8, 10)),
                "end": json_time(at(8, 11)),
                "status": "HELD",
                "expires_at": json_time(NOW + 30 * MINUTE),
            },
        ),
        (
            NOW + MINUTE,
            "reservation.confirm",
            made.pk,
            "USER",
            client.user_id,
            None,
            {"status": "CONFIRMED"},
        ),
        (
            NOW + 2 * MINUTE,
            "reservation.reschedule",
            made.pk,
            "USER",
            provider.user_id,
            None,
            {
                "from": {"start": json_time(at(8, 10)), "end": json_time(at(8, 11))},
                "to": {"start": json_time(at(8, 14)), "end": json_time(at(8, 15))},
            },
        ),
        (
            NOW + 3 * MINUTE,
            "reservation.cancel",
            made.pk,
            "USER",
            staff.pk,
            None,
            {"status": ["CONFIRMED", "CANCELLED"], "reason": "closed"},
        ),
        (
            NOW + 4 * MINUTE,
            "reservation.create",
            forgotten.pk,
            "TOKEN",
            client.user_id,
            token.pk,
            {
                "provider": provider.pk,
                "client": client.pk,
                "start": json_time(at(8, 9)),
                "end": json_time(at(8, 10)),
                "status": "HELD",
                "expires_at": json_time(NOW + 34 * MINUTE),
            },
        ),
        (
            NOW + HOUR,
            "reservation.expire",
            forgotten.pk,
            "SYSTEM",
            None,
            None,
            {"status": "EXPIRED", "expires_at": json_time(NOW + 34 * MINUTE)},
        ),
    ]


def test_entries_outlive_their_actors() -> None:
    user = make_user()
    token, _ = api_token_create(actor=actor_for(user), name="cli", now=NOW)
    accounts.api_token_create(actor=Actor(user=user, api_token=token), name="other", now=NOW)

    ApiToken.objects.all().delete()

    assert list(AuditEntry.objects.values_list("action", "actor_kind", "actor_token_id")) == [
        ("api_token.create", "USER", None),
        ("api_token.create", "TOKEN", None),
    ]


# --- audit_entries_for ---------------------------------------------------------------------


def actions_seen(user: User, subject_type: str, subject_id: int) -> list[str]:
    return [
        e.action
        for e in audit_entries_for(user=user, subject_type=subject_type, subject_id=subject_id)
    ]


def test_a_reservations_entries_are_for_its_client_its_provider_and_staff() -> None:
    make_policy(provider=None)
    provider, other_provider = make_provider(), make_provider()
    client, other_client = make_client(), make_client()
    made = reservations.reservation_create(
        actor=actor_for(client), provider_id=provider.pk, start=at(8, 10), now=NOW
    )
    reservations.reservation_confirm(actor=actor_for(client), reservation_id=made.pk, now=NOW)
    # Another reservation of the same people, to show entries are per subject.
    reservations.reservation_create(
        actor=actor_for(client), provider_id=provider.pk, start=at(8, 11), now=NOW
    )
    trail = ["reservation.create", "reservation.confirm"]

    assert actions_seen(client.user, "reservation", made.pk) == trail
    assert actions_seen(provider.user, "reservation", made.pk) == trail
    assert actions_seen(make_staff(), "reservation", made.pk) == trail
    assert actions_seen(other_client.user, "reservation", made.pk) == []
    assert actions_seen(other_provider.user, "reservation", made.pk) == []
    assert actions_seen(make_user(), "reservation", made.pk) == []
    assert actions_seen(client.user, "reservation", made.pk + 1000) == []


def test_availability_entries_are_for_the_provider_and_staff() -> None:
    provider = make_provider(hours=None)
    availability.availability_bulk_create(
        actor=actor_for(provider), windows=[(at(8, 9), at(8, 10))], now=NOW
    )
    window = AvailabilityWindow.objects.get()
    availability.availability_delete(actor=actor_for(provider), window_ids=[window.pk], now=NOW)
    trail = ["availability.add", "availability.delete"]

    # Still visible after the window itself is gone.
    assert actions_seen(provider.user, "provider", provider.pk) == trail
    assert actions_seen(make_staff(), "provider", provider.pk) == trail
    assert actions_seen(make_provider().user, "provider", provider.pk) == []
    assert actions_seen(make_client().user, "provider", provider.pk) == []


def test_a_users_and_a_tokens_entries_are_for_that_user_and_staff() -> None:
    user = make_user()
    stranger = make_user()
    staff = make_staff()
    time_off = availability.time_off_create(
        actor=actor_for(user), start=at(8, 9), end=at(8, 10), now=NOW
    )
    availability.time_off_delete(actor=actor_for(user), time_off_id=time_off.pk, now=NOW)
    token, _ = api_token_create(actor=actor_for(user), name="cli", now=NOW)

    assert actions_seen(user, "user", user.pk) == ["time_off.create", "time_off.delete"]
    assert actions_seen(staff, "user", user.pk) == ["time_off.create", "time_off.delete"]
    assert actions_seen(stranger, "user", user.pk) == []
    assert actions_seen(user, "apitoken", token.pk) == ["api_token.create"]
    assert actions_seen(staff, "apitoken", token.pk) == ["api_token.create"]
    assert actions_seen(stranger, "apitoken", token.pk) == []


def test_entries_of_an_unknown_kind_of_subject_are_for_staff_only() -> None:
    user = make_user()
    AuditEntry.objects.create(
        at=NOW, actor_kind="SYSTEM", action="thing.happen", subject_type="thing", subject_id=1
    )

    assert actions_seen(user, "thing", 1) == []
    assert actions_seen(make_staff(), "thing", 1) == ["thing.happen"]
