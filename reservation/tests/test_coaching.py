"""Seed 002's relationships and rules in the domain: public slugs (made by the database,
editable, old ones kept), coach assignments kept valid by the database, the coach-only
restriction in the one validation path, and recurring series."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import IntegrityError, transaction

from reservation.errors import ErrorCode
from reservation.models import (
    AuditEntry,
    CoachAssignment,
    ProviderSlug,
    Reservation,
    ReservationSeries,
    SeriesMember,
)
from reservation.selectors.coaching import provider_by_slug
from reservation.services.coaching import client_assign, client_unassign, provider_slug_set
from reservation.services.reservations import reservation_create, reservation_reschedule
from reservation.services.series import reservation_series_cancel, reservation_series_create
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
    make_staff,
    rejected,
)

pytestmark = pytest.mark.django_db


def slugs_of(provider) -> list[tuple[str, bool]]:
    return list(
        ProviderSlug.objects.filter(provider=provider)
        .order_by("id")
        .values_list("slug", "is_current")
    )


# --- slugs -----------------------------------------------------------------------------------


def test_every_provider_gets_a_unique_slug_from_their_name_however_they_are_made() -> None:
    from reservation.models import Provider

    first = Provider.objects.create(user=make_client().user, display_name="Dr Anna Berg!")
    second = Provider.objects.create(user=make_client().user, display_name="Dr. Anna  Berg")
    nameless = Provider.objects.create(user=make_client().user)
    assert slugs_of(first) == [("dr-anna-berg", True)]
    assert slugs_of(second) == [(f"dr-anna-berg-{second.pk}", True)]
    assert slugs_of(nameless) == [("coach", True)]


def test_a_new_slug_keeps_the_old_one_for_redirects_and_others_cannot_take_either() -> None:
    anna, other = make_provider(), make_provider()
    provider_slug_set(actor=actor_for(anna), provider_id=anna.pk, slug="anna", now=NOW)
    provider_slug_set(actor=actor_for(make_staff()), provider_id=anna.pk, slug="dr-berg", now=NOW)
    assert slugs_of(anna) == [
        (f"provider-{anna.user_id}", False),
        ("anna", False),
        ("dr-berg", True),
    ]
    old = provider_by_slug(slug="anna")
    assert (old.provider, old.current_slug, old.is_current) == (anna, "dr-berg", False)

    for taken in ("anna", "dr-berg"):
        with rejected(ErrorCode.SLUG_TAKEN):
            provider_slug_set(actor=actor_for(other), provider_id=other.pk, slug=taken, now=NOW)
    for bad in ("a", "anna--berg", "-anna", "änna", "x" * 61):
        with rejected(ErrorCode.INVALID_INPUT):
            provider_slug_set(actor=actor_for(other), provider_id=other.pk, slug=bad, now=NOW)
    with rejected(ErrorCode.NOT_FOUND):
        provider_slug_set(actor=actor_for(other), provider_id=anna.pk, slug="mine-now", now=NOW)

    # Taking back an old slug of one's own makes it current again: no new row.
    provider_slug_set(actor=actor_for(anna), provider_id=anna.pk, slug="anna", now=NOW)
    assert slugs_of(anna) == [
        (f"provider-{anna.user_id}", False),
        ("anna", True),
        ("dr-berg", False),
    ]
    assert AuditEntry.objects.filter(action="provider.slug", subject_id=anna.pk).count() == 3


def test_the_database_keeps_one_current_slug_per_provider() -> None:
    anna = make_provider()
    with pytest.raises(IntegrityError, match="provider_slug_one_current"), transaction.atomic():
        ProviderSlug.objects.create(provider=anna, slug="second", is_current=True, created_at=NOW)
    with pytest.raises(IntegrityError, match="provider_slug_format"), transaction.atomic():
        ProviderSlug.objects.create(
            provider=anna, slug="Bad Slug", is_current=False, created_at=NOW
        )
    ProviderSlug.objects.create(provider=anna, slug="old-one", is_current=False, created_at=NOW)


# --- assignments -----------------------------------------------------------------------------


def test_the_database_refuses_assignments_with_inactive_or_identical_parties() -> None:
    coach, client = make_provider(), make_client()

    def assign(provider, profile) -> None:
        with transaction.atomic():
            CoachAssignment.objects.create(provider=provider, client=profile, created_at=NOW)

    retired = make_provider(is_active=True)
    retired.is_active = False
    retired.save(update_fields=["is_active"])
    with pytest.raises(IntegrityError, match="assignment_parties_active"):
        assign(retired, client)
    gone = make_client()
    gone.user.is_active = False
    gone.user.save(update_fields=["is_active"])
    with pytest.raises(IntegrityError, match="assignment_parties_active"):
        assign(coach, gone)
    from reservation.models import Client

    self_client = Client.objects.create(user=coach.user)
    with pytest.raises(IntegrityError, match="assignment_parties_active"):
        assign(coach, self_client)
    assert CoachAssignment.objects.count() == 0

    assign(coach, client)  # the near miss: both active, two people
    assert CoachAssignment.objects.count() == 1
    coach.is_active = False
    coach.save(update_fields=["is_active"])  # retiring the coach ends the relationship
    assert CoachAssignment.objects.count() == 0


def test_a_deactivated_client_loses_their_assignments() -> None:
    coach, client, other = make_provider(), make_client(), make_client()
    client_assign(actor=actor_for(coach), provider_id=coach.pk, client_id=client.pk, now=NOW)
    client_assign(actor=actor_for(coach), provider_id=coach.pk, client_id=other.pk, now=NOW)
    client.user.is_active = False
    client.user.save(update_fields=["is_active"])
    assert list(CoachAssignment.objects.values_list("client", flat=True)) == [other.pk]


def test_providers_and_staff_assign_and_unassign_others_cannot() -> None:
    coach, client, stranger = make_provider(), make_client(), make_provider()
    client_assign(actor=actor_for(coach), provider_id=coach.pk, client_id=client.pk, now=NOW)
    client_assign(actor=actor_for(coach), provider_id=coach.pk, client_id=client.pk, now=NOW)
    assert CoachAssignment.objects.filter(provider=coach, client=client).count() == 1
    with rejected(ErrorCode.NOT_FOUND):
        client_assign(actor=actor_for(stranger), provider_id=coach.pk, client_id=client.pk)
    with rejected(ErrorCode.NOT_FOUND):
        client_assign(actor=actor_for(client), provider_id=coach.pk, client_id=client.pk)
    assert client_unassign(
        actor=actor_for(make_staff()), provider_id=coach.pk, client_id=client.pk, now=NOW
    )
    assert CoachAssignment.objects.count() == 0
    assert list(
        AuditEntry.objects.filter(subject_id=coach.pk, subject_type="provider")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["assignment.create", "assignment.delete"]


# --- the restriction -------------------------------------------------------------------------


def test_a_restricted_provider_takes_bookings_from_assigned_clients_only() -> None:
    coach, open_coach = make_provider(), make_provider()
    mine, stranger = make_client(), make_client()
    client_assign(actor=actor_for(coach), provider_id=coach.pk, client_id=mine.pk, now=NOW)
    make_policy(provider=coach, restrict_to_assigned_clients=True)

    with rejected(ErrorCode.CLIENT_NOT_ASSIGNED):
        reservation_create(actor=actor_for(stranger), provider_id=coach.pk, start=at(8, 9), now=NOW)
    # Near misses: the assigned client; an unrestricted provider (the default) for anyone.
    reservation_create(actor=actor_for(mine), provider_id=coach.pk, start=at(8, 9), now=NOW)
    reservation_create(
        actor=actor_for(stranger), provider_id=open_coach.pk, start=at(8, 9), now=NOW
    )

    # Moving a booking onto a restricted provider's calendar is checked the same way.
    booked = make_reservation(provider=coach, client=stranger, start=at(9, 9))
    with rejected(ErrorCode.CLIENT_NOT_ASSIGNED):
        reservation_reschedule(
            actor=actor_for(stranger), reservation_id=booked.pk, start=at(9, 11), now=NOW
        )


def test_the_default_policy_can_restrict_every_provider() -> None:
    coach, stranger = make_provider(), make_client()
    make_policy(provider=None, restrict_to_assigned_clients=True)
    with rejected(ErrorCode.CLIENT_NOT_ASSIGNED):
        reservation_create(actor=actor_for(stranger), provider_id=coach.pk, start=at(8, 9), now=NOW)
    make_policy(provider=coach, restrict_to_assigned_clients=False)  # an override lifts it
    reservation_create(actor=actor_for(stranger), provider_id=coach.pk, start=at(8, 9), now=NOW)


# --- series ----------------------------------------------------------------------------------


def test_an_all_or_nothing_series_books_nothing_when_one_time_is_taken() -> None:
    coach, client = make_provider(), make_client()
    make_reservation(provider=coach, client=make_client(), start=at(22, 9))
    with rejected(ErrorCode.SERIES_INCOMPLETE) as info:
        reservation_series_create(
            actor=actor_for(client),
            provider_id=coach.pk,
            start=at(8, 9),
            every_weeks=1,
            count=4,
            now=NOW,
        )
    assert info.value.messages == [
        "Nothing was booked: 1 of the times are not free (Tue 22 Jan 2030, 09:00 (UTC))."
    ]
    assert ReservationSeries.objects.count() == 0


def test_a_series_can_book_the_free_times_and_report_the_others() -> None:
    coach, client = make_provider(), make_client()
    make_reservation(provider=coach, client=make_client(), start=at(22, 9))
    result = reservation_series_create(
        actor=actor_for(client),
        provider_id=coach.pk,
        start=at(8, 9),
        every_weeks=2,
        count=3,
        all_or_nothing=False,
        now=NOW,
    )
    assert [(o.start, o.reservation is not None, o.code) for o in result.occurrences] == [
        (at(8, 9), True, ""),
        (at(22, 9), False, "SLOT_UNAVAILABLE"),
        (datetime(2030, 2, 5, 9, tzinfo=UTC), True, ""),
    ]
    assert list(
        Reservation.objects.filter(client=client).order_by("start").values_list("status", flat=True)
    ) == ["CONFIRMED", "CONFIRMED"]
    assert list(SeriesMember.objects.order_by("index").values_list("index", flat=True)) == [0, 2]


def test_a_series_keeps_the_wall_clock_time_across_a_dst_change_and_cancels_all_later() -> None:
    coach = make_provider(time_zone="Europe/Berlin", hours=(time(9), time(17)))
    client = make_client()
    make_policy(provider=coach, horizon_days=120)
    start = datetime(2030, 3, 19, 9, tzinfo=UTC)  # 10:00 in Berlin (winter time)
    result = reservation_series_create(
        actor=actor_for(client),
        provider_id=coach.pk,
        start=start,
        every_weeks=1,
        count=3,
        now=NOW,
    )
    # Summer time starts on 31 March: 10:00 in Berlin is then 08:00 UTC.
    assert [o.start for o in result.occurrences] == [
        start,
        start + timedelta(weeks=1),
        datetime(2030, 4, 2, 8, tzinfo=UTC),
    ]
    second = result.occurrences[1].reservation
    cancelled = reservation_series_cancel(
        actor=actor_for(client), reservation_id=second.pk, reason="Moving away", now=NOW
    )
    assert [r.start for r in cancelled] == [
        start + timedelta(weeks=1),
        datetime(2030, 4, 2, 8, tzinfo=UTC),
    ]
    assert list(
        Reservation.objects.filter(client=client).order_by("start").values_list("status", flat=True)
    ) == ["CONFIRMED", "CANCELLED", "CANCELLED"]
    outsider = make_client()
    with rejected(ErrorCode.NOT_FOUND):
        reservation_series_cancel(actor=actor_for(outsider), reservation_id=second.pk, now=NOW)


def test_series_inputs_are_bounded() -> None:
    coach, client = make_provider(), make_client()
    for every, count in ((0, 3), (13, 3), (1, 1), (1, 53)):
        with rejected(ErrorCode.INVALID_INPUT):
            reservation_series_create(
                actor=actor_for(client),
                provider_id=coach.pk,
                start=at(8, 9),
                every_weeks=every,
                count=count,
                now=NOW,
            )
