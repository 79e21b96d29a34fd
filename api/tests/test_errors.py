"""What the API answers when something goes wrong: codes, never internals."""

import logging
import re

import pytest
from django.test import Client as HttpClient

from api.tests.conftest import GraphQL, errors, gid, iso
from reservation.models import Provider
from reservation.selectors import coaching as coaching_selectors
from reservation.services import reservations as reservation_services
from reservation.tests.factories import at

SLOTS = """
query Slots($providerId: ID!, $start: DateTime!, $end: DateTime!) {
  availableSlots(providerId: $providerId, start: $start, end: $end) { start }
}
"""

CREATE = """
mutation Create($providerId: ID!, $start: DateTime!) {
  reservationCreate(input: {providerId: $providerId, start: $start}) {
    ... on Reservation { id }
    ... on OperationInfo { messages { code } }
  }
}
"""

SECRET_DETAIL = 'relation "reservation_secret" does not exist; password=hunter2'


def explode(**kwargs: object) -> None:
    raise RuntimeError(SECRET_DETAIL)


def assert_masked(response: object, path: str, caplog: pytest.LogCaptureFixture) -> None:
    body = response.json()  # type: ignore[attr-defined]
    assert body["data"] is None
    [error] = body["errors"]
    assert error == {
        "message": "Internal server error.",
        "locations": error["locations"],
        "path": [path],
        "extensions": {"code": "INTERNAL_ERROR", "errorId": error["extensions"]["errorId"]},
    }
    assert re.fullmatch(r"[0-9a-f]{32}", error["extensions"]["errorId"])
    # Nothing of the exception reaches the client...
    content = response.content.decode()  # type: ignore[attr-defined]
    for leak in ("hunter2", "reservation_secret", "RuntimeError", "Traceback", ".py"):
        assert leak not in content
    # ...but the server log has it under the same id, with the traceback
    [record] = [r for r in caplog.records if r.name == "api.errors"]
    assert record.levelno == logging.ERROR
    assert error["extensions"]["errorId"] in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == SECRET_DETAIL


def test_an_unexpected_error_in_a_query_is_masked(
    gql: GraphQL,
    provider: Provider,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a selector that fails unexpectedly
    monkeypatch.setattr(coaching_selectors, "provider_slots_for", explode)  # availableSlots

    # When a client asks for slots
    response = gql(
        SLOTS,
        {"providerId": gid("Provider", provider.pk), "start": iso(at(8, 0)), "end": iso(at(9, 0))},
    )

    # Then it gets an error id to quote, and nothing else
    assert response.status_code == 200
    assert_masked(response, "availableSlots", caplog)


def test_an_unexpected_error_in_a_mutation_is_masked(
    gql: GraphQL,
    provider: Provider,
    client_token: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a service that fails unexpectedly (strawberry-django turns only Django's
    # validation, permission and not-found errors into OperationInfo)
    monkeypatch.setattr(reservation_services, "reservation_create", explode)

    response = gql(
        CREATE,
        {"providerId": gid("Provider", provider.pk), "start": iso(at(8, 9))},
        token=client_token,
    )

    assert_masked(response, "reservationCreate", caplog)


def test_expected_errors_are_not_logged_as_failures(
    gql: GraphQL, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    response = gql(
        SLOTS,
        {"providerId": gid("Provider", provider.pk), "start": iso(at(9, 0)), "end": iso(at(8, 0))},
    )

    assert errors(response) == [{"path": ["availableSlots"], "code": "INVALID_TIME_RANGE"}]
    assert [r for r in caplog.records if r.name == "api.errors"] == []


@pytest.mark.parametrize(
    "document",
    [
        "query { me { email ",  # syntax
        "query { me { password } }",  # unknown field
        'query { reservations(first: "ten") { totalCount } }',  # wrong argument type
    ],
    ids=["syntax", "unknown field", "argument type"],
)
def test_a_malformed_document_is_a_validation_failure(
    gql: GraphQL, client_token: str, document: str
) -> None:
    response = gql(document, token=client_token)

    assert response.json()["data"] is None
    assert {e["code"] for e in errors(response)} == {"GRAPHQL_VALIDATION_FAILED"}


def test_variables_of_the_wrong_type_are_a_validation_failure(
    gql: GraphQL, provider: Provider
) -> None:
    response = gql(
        SLOTS, {"providerId": gid("Provider", provider.pk), "start": "tomorrow", "end": "later"}
    )

    assert response.json()["data"] is None
    assert {e["code"] for e in errors(response)} == {"GRAPHQL_VALIDATION_FAILED"}


def test_too_many_aliases_are_refused(gql: GraphQL, client_token: str) -> None:
    # 31 aliases (the limit is 30): each could be an expensive field
    many = " ".join(f"a{i}: me {{ email }}" for i in range(31))
    thirty = " ".join(f"a{i}: me {{ email }}" for i in range(30))

    refused = gql(f"query {{ {many} }}", token=client_token)
    allowed = gql(f"query {{ {thirty} }}", token=client_token)

    assert refused.json()["data"] is None
    assert {e["code"] for e in errors(refused)} == {"TOO_MANY_ALIASES"}
    assert len(allowed.json()["data"]) == 30


def test_an_overlong_document_is_refused(gql: GraphQL, client_token: str) -> None:
    # More than 2000 tokens, without aliases or depth
    document = "query { me { " + "email " * 2100 + "} }"

    response = gql(document, token=client_token)

    assert response.json()["data"] is None
    assert {e["code"] for e in errors(response)} == {"TOO_MANY_TOKENS"}


def test_a_body_that_is_not_json_is_a_bad_request(http: HttpClient, client_token: str) -> None:
    response = http.post(
        "/graphql",
        data="{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {client_token}",
    )

    assert response.status_code == 400
