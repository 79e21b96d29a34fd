"""`auditLog`: the history of a subject, shown only to the people involved."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient

from api.tests.conftest import GraphQL, errors, gid, iso
from reservation.models import ApiToken, Client, Provider, Reservation, ReservationStatus
from reservation.tests.factories import NOW, at, make_reservation

AUDIT_LOG = """
query AuditLog($subjectId: ID!) {
  auditLog(subjectId: $subjectId) {
    totalCount
    edges { node { at action actorKind actorUser { email } changes } }
  }
}
"""

CREATE = """
mutation Create($providerId: ID!, $start: DateTime!) {
  reservationCreate(input: {providerId: $providerId, start: $start}) { ... on Reservation { id } }
}
"""

CONFIRM = """
mutation Confirm($id: ID!) {
  reservationConfirm(id: $id) { ... on Reservation { status } }
}
"""

REGISTER = """
mutation Register {
  accountRegister(email: "new@example.com", password: "correct horse battery staple") {
    ... on User { id }
  }
}
"""

REVOKE = """
mutation Revoke($id: ID!) {
  apiTokenRevoke(id: $id) { ... on OperationInfo { messages { code } } }
}
"""

WINDOWS_ADD = """
mutation WindowsAdd($start: DateTime!, $end: DateTime!) {
  availabilityBulkCreate(windows: [{start: $start, end: $end}]) {
    ... on AvailabilityWindows { windows { start } }
  }
}
"""


def entry(action: str, kind: str, email: str | None, changes: Any) -> dict[str, Any]:
    return {
        "node": {
            "at": iso(NOW),
            "action": action,
            "actorKind": kind,
            "actorUser": {"email": email} if email else None,
            "changes": changes,
        }
    }


def log(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"auditLog": {"totalCount": len(entries), "edges": list(entries)}}}


@pytest.fixture
def booked(
    gql: GraphQL,
    http: HttpClient,
    provider: Provider,
    client_profile: Client,
    client_token: str,
) -> Reservation:
    """Cleo held Tuesday 09:00 with her API token, then confirmed it signed in to a browser."""
    gql(
        CREATE,
        {"providerId": gid("Provider", provider.pk), "start": iso(at(8, 9))},
        token=client_token,
    )
    reservation = Reservation.objects.get()
    http.force_login(client_profile.user)
    confirmed = gql(CONFIRM, {"id": gid("Reservation", reservation.pk)})
    assert confirmed.json() == {"data": {"reservationConfirm": {"status": "CONFIRMED"}}}
    http.logout()
    return reservation


def reservation_history(provider: Provider, client: Client) -> dict[str, Any]:
    return log(
        entry(
            "reservation.create",
            "TOKEN",
            "cleo@example.com",
            {
                "provider": provider.pk,
                "client": client.pk,
                "start": "2030-01-08T09:00:00Z",
                "end": "2030-01-08T10:00:00Z",
                "status": "HELD",
                "expires_at": "2030-01-07T08:30:00Z",
            },
        ),
        entry("reservation.confirm", "USER", "cleo@example.com", {"status": "CONFIRMED"}),
    )


@pytest.mark.parametrize("who", ["client", "provider", "staff"])
def test_the_people_involved_see_a_reservations_history(
    gql: GraphQL,
    provider: Provider,
    client_profile: Client,
    booked: Reservation,
    client_token: str,
    provider_token: str,
    staff_token: str,
    who: str,
) -> None:
    token = {"client": client_token, "provider": provider_token, "staff": staff_token}[who]

    response = gql(AUDIT_LOG, {"subjectId": gid("Reservation", booked.pk)}, token=token)

    assert response.json() == reservation_history(provider, client_profile)


def test_a_stranger_sees_no_history(gql: GraphQL, booked: Reservation, stranger_token: str) -> None:
    response = gql(AUDIT_LOG, {"subjectId": gid("Reservation", booked.pk)}, token=stranger_token)

    assert response.json() == log()


def test_a_lapsed_hold_is_expired_by_the_system(
    gql: GraphQL, provider: Provider, client_profile: Client, client_token: str
) -> None:
    hold = make_reservation(
        provider=provider,
        client=client_profile,
        start=at(8, 9),
        status=ReservationStatus.HELD,
        expires_at=NOW - timedelta(minutes=1),
    )
    gql(CONFIRM, {"id": gid("Reservation", hold.pk)}, token=client_token)

    response = gql(AUDIT_LOG, {"subjectId": gid("Reservation", hold.pk)}, token=client_token)

    assert response.json() == log(
        entry(
            "reservation.expire",
            "SYSTEM",
            None,
            {"status": "EXPIRED", "expires_at": "2030-01-07T07:59:00Z"},
        )
    )


def test_availability_history_is_the_providers_own(
    gql: GraphQL, provider: Provider, provider_token: str, client_token: str, staff_token: str
) -> None:
    gql(WINDOWS_ADD, {"start": iso(at(12, 10)), "end": iso(at(12, 12))}, token=provider_token)
    subject = {"subjectId": gid("Provider", provider.pk)}

    as_provider = gql(AUDIT_LOG, subject, token=provider_token)
    as_staff = gql(AUDIT_LOG, subject, token=staff_token)
    as_client = gql(AUDIT_LOG, subject, token=client_token)

    history = log(
        entry(
            "availability.add",
            "TOKEN",
            "pat@example.com",
            {
                "added": [["2030-01-12T10:00:00Z", "2030-01-12T12:00:00Z"]],
                "merged_away": [],
                "merged_away_ids": [],
                "result": [["2030-01-12T10:00:00Z", "2030-01-12T12:00:00Z"]],
            },
        )
    )
    assert as_provider.json() == history
    assert as_staff.json() == history
    assert as_client.json() == log()


def test_an_accounts_history_is_its_own(gql: GraphQL, stranger_token: str) -> None:
    # Given someone who registered in a browser (and so is signed in there)
    registered = gql(REGISTER)
    user_id = registered.json()["data"]["accountRegister"]["id"]

    own = gql(AUDIT_LOG, {"subjectId": user_id})
    theirs = gql(AUDIT_LOG, {"subjectId": user_id}, token=stranger_token)

    assert own.json() == log(
        entry("account.register", "USER", "new@example.com", {"email": "new@example.com"})
    )
    assert theirs.json() == log()


def test_a_tokens_history_is_its_owners(
    gql: GraphQL, client_token: str, stranger_token: str
) -> None:
    token_id = gid("ApiToken", ApiToken.objects.get(prefix=client_token[:10]).pk)
    gql(REVOKE, {"id": token_id}, token=stranger_token)  # not theirs: changes nothing

    own = gql(AUDIT_LOG, {"subjectId": token_id}, token=client_token)
    theirs = gql(AUDIT_LOG, {"subjectId": token_id}, token=stranger_token)

    # (The fixture made the token with the service, as Cleo signed in: a USER action.)
    assert own.json() == log(
        entry(
            "api_token.create",
            "USER",
            "cleo@example.com",
            {"name": "test", "prefix": client_token[:10], "scope": "FULL"},
        )
    )
    assert theirs.json() == log()


@pytest.mark.parametrize("kind", ["not audited", "malformed"])
def test_an_id_of_nothing_audited_is_not_found(
    gql: GraphQL, client_profile: Client, client_token: str, kind: str
) -> None:
    subject_id = {"not audited": gid("Client", client_profile.pk), "malformed": "??"}[kind]

    response = gql(AUDIT_LOG, {"subjectId": subject_id}, token=client_token)

    assert response.json()["data"] is None
    assert errors(response) == [{"path": ["auditLog"], "code": "NOT_FOUND"}]


def test_anonymous_sees_no_history(gql: GraphQL, booked: Reservation) -> None:
    response = gql(AUDIT_LOG, {"subjectId": gid("Reservation", booked.pk)})

    assert errors(response) == [{"path": ["auditLog"], "code": "UNAUTHENTICATED"}]
