"""freeTime of another person needs their consent, and a hidden person answers exactly like an
address with no account."""

from typing import Any

import pytest

from api.tests.conftest import GraphQL, token_of
from reservation.models import AuditEntry, Client, FreeBusySharing, Provider, User
from reservation.services.events import SlotInput, event_cancel, event_propose
from reservation.tests.factories import actor_for, at, make_reservation, make_user

FREE = """
query Free($users: [String!]!) {
  freeTime(users: $users, start: "2030-01-08T09:00:00Z", end: "2030-01-08T10:00:00Z",
    durationMinutes: 60) { start }
}
"""
SET = """
mutation Set($sharing: FreeBusySharing!) {
  freeBusySharingSet(sharing: $sharing) {
    ... on FreeBusySharingResult { sharing }
    ... on OperationInfo { messages { code } }
  }
}
"""
ONE_HOUR = {"data": {"freeTime": [{"start": "2030-01-08T09:00:00+00:00"}]}}


def free(gql: GraphQL, token: str, *users: str) -> Any:
    return gql(FREE, {"users": list(users)}, token=token).json()


def hidden_like_unknown(gql: GraphQL, token: str, email: str) -> None:
    """The answer for `email` is the answer for an address nobody has, byte for byte."""
    hidden = free(gql, token, email)
    unknown = free(gql, token, "nobody-at-all@example.com")
    assert hidden == unknown
    assert hidden["data"] is None
    assert [e["extensions"]["code"] for e in hidden["errors"]] == ["NOT_FOUND"]


@pytest.fixture
def olga(db: None) -> User:
    return make_user(email="olga@example.com", name="Olga")


def propose(organizer: User, *parties: User) -> int:
    event = event_propose(
        actor=actor_for(organizer),
        parties=[p.email for p in parties],
        slots=[SlotInput(start=at(20, 9), duration_minutes=60)],
        title="Planning",
    )
    return event.pk


def test_a_stranger_sees_nothing_and_cannot_tell_an_account_exists(
    gql: GraphQL, client_profile: Client, stranger: User
) -> None:
    sam = token_of(stranger)

    hidden_like_unknown(gql, sam, "cleo@example.com")
    # ...nor by asking about two people at once
    assert free(gql, sam, "sam@example.com", "cleo@example.com") == free(
        gql, sam, "sam@example.com", "nobody-at-all@example.com"
    )


def test_everyone_sees_their_own(gql: GraphQL, stranger: User) -> None:
    assert free(gql, token_of(stranger), "sam@example.com") == ONE_HOUR


def test_sharing_an_event_makes_contacts(
    gql: GraphQL, client_profile: Client, olga: User, stranger: User
) -> None:
    event_id = propose(olga, client_profile.user)

    assert free(gql, token_of(olga), "cleo@example.com") == ONE_HOUR
    assert free(gql, token_of(client_profile.user), "olga@example.com") == ONE_HOUR
    hidden_like_unknown(gql, token_of(stranger), "cleo@example.com")

    # a cancelled event no longer counts
    event_cancel(actor=actor_for(olga), event_id=event_id)
    hidden_like_unknown(gql, token_of(olga), "cleo@example.com")


def test_a_booking_makes_contacts(gql: GraphQL, provider: Provider, client_profile: Client) -> None:
    make_reservation(provider=provider, client=client_profile, start=at(9, 11))

    assert free(gql, token_of(provider.user), "cleo@example.com") == ONE_HOUR
    assert free(gql, token_of(client_profile.user), "pat@example.com") == ONE_HOUR
    # ...and a stranger still sees neither
    hidden_like_unknown(gql, token_of(make_user(email="zed@example.com")), "pat@example.com")


def test_everyone_and_nobody(
    gql: GraphQL, client_profile: Client, olga: User, stranger: User
) -> None:
    propose(olga, client_profile.user)
    cleo = token_of(client_profile.user)

    set_everyone = gql(SET, {"sharing": "EVERYONE"}, token=cleo).json()
    stranger_sees = free(gql, token_of(stranger), "cleo@example.com")
    set_nobody = gql(SET, {"sharing": "NOBODY"}, token=cleo).json()

    assert set_everyone == {"data": {"freeBusySharingSet": {"sharing": "EVERYONE"}}}
    assert stranger_sees == ONE_HOUR
    assert set_nobody == {"data": {"freeBusySharingSet": {"sharing": "NOBODY"}}}
    hidden_like_unknown(gql, token_of(olga), "cleo@example.com")  # even a contact
    assert free(gql, cleo, "cleo@example.com") == ONE_HOUR  # but never herself
    assert gql("{ freeBusySharing }", token=cleo).json() == {"data": {"freeBusySharing": "NOBODY"}}
    assert User.objects.get(pk=client_profile.user.pk).free_busy_sharing == FreeBusySharing.NOBODY
    assert list(
        AuditEntry.objects.filter(action="user.free_busy_sharing").values_list("changes", flat=True)
    ) == [
        {"free_busy_sharing": ["CONTACTS", "EVERYONE"]},
        {"free_busy_sharing": ["EVERYONE", "NOBODY"]},
    ]


def test_one_hidden_person_hides_the_whole_answer(
    gql: GraphQL, client_profile: Client, olga: User, stranger: User
) -> None:
    propose(olga, client_profile.user)

    hidden = free(gql, token_of(olga), "cleo@example.com", "sam@example.com")

    assert hidden == free(gql, token_of(olga), "cleo@example.com", "nobody-at-all@example.com")
