"""Webhooks through GraphQL: create (secret shown once), list, update, delete, the delivery
log with its attempts, redeliver; bad input answered with codes; someone else's webhook is
NOT_FOUND; staff alone create global webhooks."""

from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from api.tests.conftest import GraphQL, gid
from api.webhooks.render import render_as_owner
from reservation.models import Provider, Webhook, WebhookDelivery
from reservation.services.webhooks import webhook_deliver
from reservation.tests.factories import NOW
from reservation.tests.http_receiver import Receiver

CREATE = """
mutation Create($url: String!, $events: [WebhookEventType!]!, $secret: String, $global: Boolean!) {
  webhookCreate(input: {url: $url, events: $events, secret: $secret, isGlobal: $global}) {
    ... on WebhookCreated { secret webhook { id url events isGlobal isActive } }
    ... on OperationInfo { messages { code field } }
  }
}
"""

LIST = "{ webhooks { totalCount edges { node { url events isActive consecutiveFailures } } } }"

UPDATE = """
mutation Update($id: ID!, $active: Boolean, $events: [WebhookEventType!]) {
  webhookUpdate(id: $id, input: {active: $active, events: $events}) {
    ... on Webhook { events isActive disabledAt }
    ... on OperationInfo { messages { code field } }
  }
}
"""

DELETE = """
mutation Delete($id: ID!) {
  webhookDelete(id: $id) {
    ... on WebhookDeleted { id }
    ... on OperationInfo { messages { code } }
  }
}
"""

DELIVERIES = """
query Deliveries($id: ID!) {
  webhookDeliveries(webhookId: $id) {
    totalCount
    edges { node { id eventId eventType status attempts deliveredAt
      attemptLog { number statusCode error } } }
  }
}
"""

REDELIVER = """
mutation Redeliver($id: ID!) {
  webhookRedeliver(id: $id) {
    ... on WebhookDelivery { status attempts }
    ... on OperationInfo { messages { code } }
  }
}
"""


@pytest.fixture
def receiver(settings: Settings) -> Iterator[Receiver]:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = True
    server = Receiver().start()
    yield server
    server.stop()


def create(gql: GraphQL, token: str, url: str, **variables: object) -> dict:
    variables = {"events": ["RESERVATION_CREATED"], "secret": None, "global": False} | variables
    return gql(CREATE, {"url": url, **variables}, token=token).json()["data"]["webhookCreate"]


def test_create_list_update_delete(gql: GraphQL, provider_token: str, client_token: str) -> None:
    created = create(gql, provider_token, "https://hooks.example.com/in")
    webhook_id = created["webhook"]["id"]

    assert created["secret"].startswith("whsec_")
    assert created["webhook"] == {
        "id": webhook_id,
        "url": "https://hooks.example.com/in",
        "events": ["RESERVATION_CREATED"],
        "isGlobal": False,
        "isActive": True,
    }
    assert gql(LIST, token=provider_token).json()["data"]["webhooks"] == {
        "totalCount": 1,
        "edges": [
            {
                "node": {
                    "url": "https://hooks.example.com/in",
                    "events": ["RESERVATION_CREATED"],
                    "isActive": True,
                    "consecutiveFailures": 0,
                }
            }
        ],
    }
    assert gql(LIST, token=client_token).json()["data"]["webhooks"]["totalCount"] == 0

    switched_off = gql(
        UPDATE,
        {"id": webhook_id, "active": False, "events": ["EVENT_AGREED", "RSVP_ANSWERED"]},
        token=provider_token,
    ).json()["data"]["webhookUpdate"]
    assert switched_off == {
        "events": ["EVENT_AGREED", "RSVP_ANSWERED"],
        "isActive": False,
        "disabledAt": NOW.isoformat(),
    }
    # Someone else's webhook is not found
    theirs = gql(DELETE, {"id": webhook_id}, token=client_token).json()["data"]["webhookDelete"]
    assert theirs == {"messages": [{"code": "NOT_FOUND"}]}
    deleted = gql(DELETE, {"id": webhook_id}, token=provider_token).json()["data"]
    assert deleted == {"webhookDelete": {"id": webhook_id}}
    assert Webhook.objects.count() == 0


def test_bad_input_is_refused_with_codes(gql: GraphQL, client_token: str, staff_token: str) -> None:
    unsafe = create(gql, client_token, "http://169.254.169.254/latest")
    short = create(gql, client_token, "https://hooks.example.com/in", secret="short")
    not_staff = create(gql, client_token, "https://hooks.example.com/in", **{"global": True})
    by_staff = create(gql, staff_token, "https://hooks.example.com/in", **{"global": True})

    assert unsafe == {"messages": [{"code": "INVALID_INPUT", "field": "url"}]}
    assert short == {"messages": [{"code": "INVALID_INPUT", "field": "secret"}]}
    assert not_staff == {"messages": [{"code": "PERMISSION_DENIED", "field": None}]}
    assert by_staff["webhook"]["isGlobal"] is True


def test_the_delivery_log_and_redelivery(
    gql: GraphQL,
    receiver: Receiver,
    provider: Provider,
    provider_token: str,
    client_token: str,
) -> None:
    # Given Pat's webhook, then a booking; the receiver is down for the first attempt
    webhook_id = create(gql, provider_token, receiver.url)["webhook"]["id"]
    booked = gql(
        "mutation($p: ID!, $s: DateTime!) { reservationCreate(input: {providerId: $p, start: $s})"
        " { ... on Reservation { id } } }",
        {"p": gid("Provider", provider.pk), "s": "2030-01-08T11:00:00+00:00"},
        token=client_token,
    ).json()["data"]["reservationCreate"]
    assert booked["id"]
    [delivery] = WebhookDelivery.objects.all()
    receiver.stop()
    webhook_deliver(delivery_id=delivery.pk, render=render_as_owner, now=NOW)
    receiver.start()
    webhook_deliver(delivery_id=delivery.pk, render=render_as_owner, now=NOW)

    log = gql(DELIVERIES, {"id": webhook_id}, token=provider_token).json()["data"]
    [edge] = log["webhookDeliveries"]["edges"]
    [failed, succeeded] = edge["node"].pop("attemptLog")
    assert edge["node"] == {
        "id": gid("WebhookDelivery", delivery.pk),
        "eventId": delivery.event_id,
        "eventType": "RESERVATION_CREATED",
        "status": "DELIVERED",
        "attempts": 2,
        "deliveredAt": NOW.isoformat(),
    }
    assert (failed["number"], failed["statusCode"]) == (1, None)
    assert failed["error"].startswith("unreachable:")
    assert succeeded == {"number": 2, "statusCode": 200, "error": ""}
    # The client may not read Pat's log, nor redeliver
    refused = gql(DELIVERIES, {"id": webhook_id}, token=client_token).json()
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    theirs = gql(REDELIVER, {"id": gid("WebhookDelivery", delivery.pk)}, token=client_token)
    assert theirs.json()["data"]["webhookRedeliver"] == {"messages": [{"code": "NOT_FOUND"}]}

    again = gql(REDELIVER, {"id": gid("WebhookDelivery", delivery.pk)}, token=provider_token)

    assert again.json()["data"]["webhookRedeliver"] == {"status": "PENDING", "attempts": 2}
