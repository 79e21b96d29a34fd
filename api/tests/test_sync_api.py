"""Incremental sync: `updatedSince` on reservations, events and availability windows
(cancelled rows included, with their status) and `deletedSince` tombstones for hard
deletions, each for those who could see the object."""

from datetime import timedelta

from api.tests.conftest import GraphQL, gid, iso
from reservation.models import (
    AvailabilityWindow,
    Client,
    Event,
    Provider,
    Reservation,
    ReservationStatus,
    User,
)
from reservation.services.availability import (
    availability_bulk_create,
    availability_delete,
    time_off_create,
    time_off_delete,
)
from reservation.services.events import event_delete
from reservation.tests.factories import NOW, actor_for, at, make_reservation, make_staff

RESERVATIONS = """
query R($since: DateTime) {
  reservations(updatedSince: $since) { edges { node { id status updatedAt } } }
}
"""
EVENTS = """
query E($since: DateTime) { events(updatedSince: $since) { edges { node { id status } } } }
"""
DELETED = """
query D($since: DateTime!) {
  deletedSince(since: $since) { edges { node { subjectType subjectId deletedAt } } }
}
"""


def nodes(response: object) -> list[dict]:
    [data] = response.json()["data"].values()  # type: ignore[attr-defined]
    return [edge["node"] for edge in data["edges"]]


def test_reservations_changed_since_include_cancelled_ones(
    gql: GraphQL, provider: Provider, client_profile: Client, client_token: str
) -> None:
    # Given one booking unchanged for an hour and one cancelled just now
    quiet = make_reservation(provider=provider, client=client_profile, start=at(8, 9))
    cancelled = make_reservation(
        provider=provider,
        client=client_profile,
        start=at(8, 11),
        status=ReservationStatus.CANCELLED,
    )
    Reservation.objects.filter(pk=quiet.pk).update(updated_at=NOW - timedelta(hours=1))
    Reservation.objects.filter(pk=cancelled.pk).update(updated_at=NOW)

    # When the client asks what changed in the last minute, and with no bound
    since = gql(RESERVATIONS, {"since": iso(NOW - timedelta(minutes=1))}, token=client_token)
    everything = gql(RESERVATIONS, {"since": None}, token=client_token)

    # Then only the cancelled one, with its status
    assert nodes(since) == [
        {"id": gid("Reservation", cancelled.pk), "status": "CANCELLED", "updatedAt": iso(NOW)}
    ]
    assert len(nodes(everything)) == 2
    naive = gql(RESERVATIONS, {"since": "2030-01-07T08:00:00"}, token=client_token).json()
    assert naive["errors"][0]["extensions"]["code"] == "NAIVE_DATETIME"


def test_events_changed_since(gql: GraphQL, proposed: Event, party_token: str) -> None:
    after = gql(EVENTS, {"since": iso(NOW + timedelta(seconds=1))}, token=party_token)
    at_now = gql(EVENTS, {"since": iso(NOW)}, token=party_token)

    assert nodes(after) == []
    assert nodes(at_now) == [{"id": gid("Event", proposed.pk), "status": "PROPOSED"}]


def test_deletions_leave_tombstones_for_who_could_see_them(
    gql: GraphQL,
    proposed: Event,
    party: User,
    party_token: str,
    client_profile: Client,
    client_token: str,
) -> None:
    # Given Olga's event deleted by staff, and Pia's time off deleted by her
    event_delete(actor=actor_for(make_staff()), event_id=proposed.pk, now=NOW)
    time_off = time_off_create(actor=actor_for(party), start=at(15, 9), end=at(15, 17), now=NOW)
    time_off_delete(actor=actor_for(party), time_off_id=time_off.pk, now=NOW + timedelta(hours=1))

    # When Pia (a party) and Cleo (not on the event) ask what went since NOW
    pia = gql(DELETED, {"since": iso(NOW)}, token=party_token)
    cleo = gql(DELETED, {"since": iso(NOW)}, token=client_token)
    later = gql(DELETED, {"since": iso(NOW + timedelta(minutes=1))}, token=party_token)

    # Then Pia hears of both, oldest first; Cleo of nothing
    assert nodes(pia) == [
        {"subjectType": "Event", "subjectId": gid("Event", proposed.pk), "deletedAt": iso(NOW)},
        {
            "subjectType": "TimeOff",
            "subjectId": gid("TimeOff", time_off.pk),
            "deletedAt": iso(NOW + timedelta(hours=1)),
        },
    ]
    assert nodes(cleo) == []
    assert [n["subjectType"] for n in nodes(later)] == ["TimeOff"]


WINDOWS = """
query W($since: DateTime) {
  availabilityWindows(updatedSince: $since) { edges { node { id start end updatedAt } } }
}
"""


def test_availability_windows_sync_with_tombstones_for_merged_and_deleted_ones(
    gql: GraphQL, provider: Provider, provider_token: str, client_token: str
) -> None:
    # Given two windows made at NOW
    actor = actor_for(provider.user)
    first, second = availability_bulk_create(
        actor=actor, windows=[(at(8, 9), at(8, 10)), (at(9, 9), at(9, 10))], now=NOW
    )
    AvailabilityWindow.objects.update(created_at=NOW)
    later = NOW + timedelta(hours=1)

    # When, an hour later, one that touches the first is added (replacing it) and the second
    # is deleted
    [merged] = availability_bulk_create(actor=actor, windows=[(at(8, 10), at(8, 11))], now=later)
    AvailabilityWindow.objects.filter(pk=merged.pk).update(created_at=later)
    availability_delete(actor=actor, window_ids=[second.pk], now=later)

    # Then a provider syncing from NOW + 1 s gets the merged window and both tombstones
    since = iso(NOW + timedelta(seconds=1))
    assert nodes(gql(WINDOWS, {"since": since}, token=provider_token)) == [
        {
            "id": gid("AvailabilityWindow", merged.pk),
            "start": iso(at(8, 9)),
            "end": iso(at(8, 11)),
            "updatedAt": iso(later),
        }
    ]
    assert nodes(gql(DELETED, {"since": since}, token=provider_token)) == [
        {
            "subjectType": "AvailabilityWindow",
            "subjectId": gid("AvailabilityWindow", first.pk),
            "deletedAt": iso(later),
        },
        {
            "subjectType": "AvailabilityWindow",
            "subjectId": gid("AvailabilityWindow", second.pk),
            "deletedAt": iso(later),
        },
    ]
    # and nobody else hears of the provider's windows
    assert nodes(gql(DELETED, {"since": since}, token=client_token)) == []
