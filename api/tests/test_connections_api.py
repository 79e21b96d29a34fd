"""Connected calendars through GraphQL, against a real Radicale server on loopback: connect,
see the calendars and the sync state, choose, sync, disconnect; the password never comes back
and a bad one is refused with a code."""

from typing import Any

import caldav
import pytest

from api.tests.conftest import GraphQL, gid
from reservation.models import CalendarConnection, Provider
from reservation.services.external_calendars import calendar_connection_sync
from reservation.tests.caldav_server import PASSWORD, USER, put, vevent
from reservation.tests.factories import NOW

pytestmark = pytest.mark.usefixtures("_loopback_allowed")

CONNECT = """
mutation Connect($url: String!, $password: String!) {
  calendarConnectionCreate(kind: CALDAV, url: $url, username: "coach", password: $password) {
    __typename
    ... on CalendarConnection { id kind state calendars { name busy writeBack } }
    ... on OperationInfo { messages { code message } }
  }
}
"""

CONNECTIONS = """
{ calendarConnections { edges { node {
    kind url username state lastSyncedAt lastError calendars { id name busy writeBack }
} } } }
"""


def data(response: Any) -> dict[str, Any]:
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_connect_sync_choose_and_disconnect(
    gql: GraphQL, provider: Provider, provider_token: str, radicale: str
) -> None:
    # Given a CalDAV account with one calendar holding an appointment
    client = caldav.DAVClient(url=radicale, username=USER, password=PASSWORD)
    calendar = client.principal().make_calendar(name="Dentist and such")
    put(calendar, "dentist", vevent("dentist", "20300108T100000Z", "20300108T110000Z"))

    # When the provider connects it and it syncs
    created = data(gql(CONNECT, {"url": radicale, "password": PASSWORD}, token=provider_token))
    connection = created["calendarConnectionCreate"]
    assert connection["__typename"] == "CalendarConnection"
    assert (connection["kind"], connection["state"]) == ("CALDAV", "PENDING")
    assert {"name": "Dentist and such", "busy": True, "writeBack": False} in connection["calendars"]
    pk = CalendarConnection.objects.get().pk
    assert calendar_connection_sync(connection_id=pk, now=NOW) == "OK"

    # Then it shows its calendars and state, and never the password
    listed = gql(CONNECTIONS, token=provider_token)
    assert PASSWORD not in listed.content.decode()
    node = data(listed)["calendarConnections"]["edges"][0]["node"]
    assert {k: node[k] for k in ("kind", "url", "username", "state", "lastError")} == {
        "kind": "CALDAV",
        "url": radicale,
        "username": USER,
        "state": "OK",
        "lastError": "",
    }
    assert node["lastSyncedAt"] == NOW.isoformat()

    # And the appointment blocks the provider's slot
    slots = data(
        gql(
            "query S($id: ID!) { availableSlots(providerId: $id, start: "
            '"2030-01-08T09:00:00Z", end: "2030-01-08T12:00:00Z") { start } }',
            {"id": gid("Provider", provider.pk)},
        )
    )["availableSlots"]
    assert [s["start"] for s in slots] == ["2030-01-08T09:00:00+00:00", "2030-01-08T11:00:00+00:00"]

    # When the provider makes it the write-back target, syncs, and disconnects
    chosen = next(c for c in node["calendars"] if c["name"] == "Dentist and such")
    updated = data(
        gql(
            "mutation U($id: ID!) { externalCalendarUpdate(id: $id, writeBack: true) {"
            " ... on ExternalCalendar { writeBack busy } } }",
            {"id": chosen["id"]},
            token=provider_token,
        )
    )
    assert updated == {"externalCalendarUpdate": {"writeBack": True, "busy": True}}
    connection_id = gid("CalendarConnection", pk)
    synced = data(
        gql(
            "mutation S($id: ID!) { calendarConnectionSync(id: $id) {"
            " ... on CalendarConnection { state } } }",
            {"id": connection_id},
            token=provider_token,
        )
    )
    assert synced == {"calendarConnectionSync": {"state": "OK"}}
    deleted = data(
        gql(
            "mutation D($id: ID!) { calendarConnectionDelete(id: $id) {"
            " ... on CalendarConnection { url } } }",
            {"id": connection_id},
            token=provider_token,
        )
    )
    assert deleted == {"calendarConnectionDelete": {"url": radicale}}
    assert not CalendarConnection.objects.exists()


def test_a_wrong_password_answers_calendar_unreachable(
    gql: GraphQL, provider_token: str, radicale: str
) -> None:
    answer = data(gql(CONNECT, {"url": radicale, "password": "nope"}, token=provider_token))

    assert answer["calendarConnectionCreate"] == {
        "__typename": "OperationInfo",
        "messages": [
            {
                "code": "CALENDAR_UNREACHABLE",
                "message": "Could not connect: discovering calendars: the server refused the "
                "user name or password",
            }
        ],
    }
    assert not CalendarConnection.objects.exists()
