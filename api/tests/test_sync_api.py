"""Incremental sync: `updatedSince` on reservations and events (cancelled rows included, with
their status) and `deletedSince` tombstones for hard deletions, each for those who could see
the object."""

from datetime import timedelta

from api.tests.conftest import GraphQL, gid, iso
from reservation.models import Client, Event, Provider, Reservation, ReservationStatus, User
from reservation.services.availability import time_off_create, time_off_delete
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
