"""An invited address (no account yet) becomes a client account through its event link."""

from typing import Any

import pytest

from api.tests.conftest import GraphQL, token_of
from reservation.models import AuditEntry, Client, Event, User

ACTIVATE = """
mutation Activate($password: String!, $name: String!, $tz: String!) {
  accountActivate(password: $password, name: $name, timeZone: $tz) {
    __typename
    ... on User { email name timeZone isClient }
    ... on OperationInfo { messages { code field } }
  }
}
"""
REGISTER = """
mutation Register($email: String!) {
  accountRegister(email: $email, password: "a long enough password") {
    ... on OperationInfo { messages { code field message } }
  }
}
"""
ME = "query { me { email } }"
GOOD = {"password": "a long enough password", "name": "Quinn", "tz": "Asia/Kolkata"}


@pytest.fixture
def quinn_link(proposed: Event, link_for: Any) -> str:
    """The link Olga e-mailed to quinn@example.com, who has no account yet."""
    return link_for(proposed, "quinn@example.com")


def messages(code: str, field: str | None = None) -> dict[str, Any]:
    return {
        "data": {
            "accountActivate": {
                "__typename": "OperationInfo",
                "messages": [{"code": code, "field": field}],
            }
        }
    }


def test_registering_an_invited_address_points_to_the_link(gql: GraphQL, proposed: Event) -> None:
    response = gql(REGISTER, {"email": "quinn@example.com"})

    assert response.json() == {
        "data": {
            "accountRegister": {
                "messages": [
                    {
                        "code": "EMAIL_TAKEN",
                        "field": "email",
                        "message": "This address was invited to an event: open the link in the "
                        "invitation e-mail and activate the account with it (accountActivate).",
                    }
                ]
            }
        }
    }


def test_the_link_activates_the_invited_address(
    gql: GraphQL, proposed: Event, quinn_link: str
) -> None:
    response = gql(ACTIVATE, GOOD, token=quinn_link)

    assert response.json() == {
        "data": {
            "accountActivate": {
                "__typename": "User",
                "email": "quinn@example.com",
                "name": "Quinn",
                "timeZone": "Asia/Kolkata",
                "isClient": True,
            }
        }
    }
    quinn = User.objects.get(email="quinn@example.com")
    assert (quinn.is_active, quinn.check_password(GOOD["password"])) == (True, True)
    assert Client.objects.filter(user=quinn).count() == 1
    entry = AuditEntry.objects.get(action="account.activate")
    assert (entry.actor_kind, entry.actor_user, entry.subject_id) == ("TOKEN", quinn, quinn.pk)
    # And from now on Quinn signs in like anyone
    assert gql(ME, token=token_of(quinn)).json() == {"data": {"me": {"email": "quinn@example.com"}}}


def test_activation_twice_or_for_a_registered_user_is_refused(
    gql: GraphQL, proposed: Event, quinn_link: str, link_for: Any
) -> None:
    gql(ACTIVATE, GOOD, token=quinn_link)
    entries = AuditEntry.objects.count()

    again = gql(ACTIVATE, {**GOOD, "password": "another long password"}, token=quinn_link)
    pias = gql(ACTIVATE, GOOD, token=link_for(proposed, "pia@example.com"))

    assert again.json() == messages("PERMISSION_DENIED")
    assert pias.json() == messages("PERMISSION_DENIED")
    quinn = User.objects.get(email="quinn@example.com")
    assert quinn.check_password(GOOD["password"])
    assert AuditEntry.objects.count() == entries + 1  # the notify for Pia's link, nothing else


def test_activation_needs_a_link_and_a_good_password(
    gql: GraphQL, proposed: Event, quinn_link: str, organizer_token: str
) -> None:
    without_link = gql(ACTIVATE, GOOD, token=organizer_token)
    weak = gql(ACTIVATE, {**GOOD, "password": "12345678"}, token=quinn_link)
    bad_zone = gql(ACTIVATE, {**GOOD, "tz": "Mars/Olympus"}, token=quinn_link)

    assert without_link.json() == messages("PERMISSION_DENIED")
    assert weak.json() == messages("WEAK_PASSWORD", "password")
    assert bad_zone.json() == messages("INVALID_TIME_ZONE", "timeZone")
    quinn = User.objects.get(email="quinn@example.com")
    assert (quinn.is_active, quinn.has_usable_password()) == (False, False)
    assert not AuditEntry.objects.filter(action="account.activate").exists()
