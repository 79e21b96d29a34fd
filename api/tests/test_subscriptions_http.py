"""A subscription sent over HTTP is refused with a code (it needs the WebSocket), before
anything runs; the schema lists the Subscription type for clients and code generators."""

import json

import pytest
from django.test import Client

from api.schema import schema

SUBSCRIPTION = "subscription Mine { reservationChanged { id } }"


@pytest.mark.django_db
def test_a_subscription_over_http_is_refused_with_websocket_required() -> None:
    response = Client().post(
        "/graphql", json.dumps({"query": SUBSCRIPTION}), content_type="application/json"
    )
    body = response.json()
    assert response.status_code == 200
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["WEBSOCKET_REQUIRED"]


def test_the_schema_has_the_three_subscriptions() -> None:
    fields = schema._schema.subscription_type.fields
    assert set(fields) == {"availableSlotsChanged", "reservationChanged", "eventChanged"}
    assert list(fields["availableSlotsChanged"].args) == ["providerId", "start", "end", "first"]
    assert list(fields["eventChanged"].args) == ["id"]
