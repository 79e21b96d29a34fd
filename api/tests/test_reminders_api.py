"""Reminders in GraphQL: your channel addresses; an event's reminders and deliveries, which
only its organizer sees and sets."""

from datetime import timedelta

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob
from pytest_django.fixtures import Settings

from api.tests.conftest import GraphQL, errors, gid, iso, token_of
from reservation.models import (
    Channel,
    ChannelAddress,
    Event,
    EventStatus,
    Participant,
    ReminderDelivery,
    User,
)
from reservation.tests.factories import NOW, make_user

pytestmark = pytest.mark.django_db

START = NOW + timedelta(days=1)
MESSAGES = "... on OperationInfo { messages { code field } }"

ADDRESS_SET = f"""
mutation ($channel: ReminderChannel!, $address: String!, $secret: String) {{
  channelAddressSet(channel: $channel, address: $address, secret: $secret) {{
    ... on ChannelAddress {{ channel address secret }}
    {MESSAGES}
  }}
}}"""
ADDRESS_SET_WHY = """
mutation ($channel: ReminderChannel!, $address: String!) {
  channelAddressSet(channel: $channel, address: $address) {
    ... on ChannelAddress { address }
    ... on OperationInfo { messages { code field message } }
  }
}"""
ADDRESS_DELETE = f"""
mutation ($channel: ReminderChannel!) {{
  channelAddressDelete(channel: $channel) {{
    ... on ChannelAddressDeleted {{ deleted }}
    {MESSAGES}
  }}
}}"""
ADDRESSES = "{ channelAddresses { channel address secret } }"
REMINDERS_SET = f"""
mutation ($eventId: ID!, $reminders: [ReminderInput!]!) {{
  eventRemindersSet(eventId: $eventId, reminders: $reminders) {{
    ... on EventReminders {{ reminders {{ offsetMinutes channel }} }}
    {MESSAGES}
  }}
}}"""
REMINDERS = "query ($eventId: ID!) { eventReminders(eventId: $eventId) { offsetMinutes } }"
DELIVERIES = """
query ($eventId: ID!) {
  eventReminders(eventId: $eventId) { offsetMinutes channel }
  eventReminderDeliveries(eventId: $eventId, first: 10) {
    edges { node {
      status attempts lastError dueAt occurrenceStart sentAt
      recipient { email } reminder { offsetMinutes channel }
    } }
  }
}"""


def scheduled_event(organizer: User, *parties: User) -> Event:
    event = Event.objects.create(
        organizer=organizer,
        title="Planning",
        status=EventStatus.SCHEDULED,
        start=START,
        end=START + timedelta(hours=1),
        created_at=NOW,
        updated_at=NOW,
    )
    Participant.objects.create(event=event, user=organizer, role=Participant.Role.ORGANIZER)
    for party in parties:
        Participant.objects.create(event=event, user=party)
    return event


@pytest.fixture
def ann() -> User:
    return make_user(email="ann@example.com")


@pytest.fixture
def bob() -> User:
    return make_user(email="bob@example.com")


def test_set_list_and_delete_your_addresses(gql: GraphQL, ann: User, bob: User) -> None:
    token = token_of(ann)
    ChannelAddress.objects.create(user=bob, channel=Channel.SMS, address="+4915100000000")

    set_hook = gql(
        ADDRESS_SET,
        {"channel": "WEBHOOK", "address": "https://hooks.example/ann", "secret": "k1"},
        token=token,
    )
    set_sms = gql(ADDRESS_SET, {"channel": "SMS", "address": "+4915112345678"}, token=token)

    assert set_hook.json() == {
        "data": {
            "channelAddressSet": {
                "channel": "WEBHOOK",
                "address": "https://hooks.example/ann",
                "secret": "k1",
            }
        }
    }
    assert set_sms.json()["data"]["channelAddressSet"]["secret"] == ""
    assert gql(ADDRESSES, token=token).json() == {
        "data": {
            "channelAddresses": [
                {"channel": "SMS", "address": "+4915112345678", "secret": ""},
                {"channel": "WEBHOOK", "address": "https://hooks.example/ann", "secret": "k1"},
            ]
        }
    }
    deleted = gql(ADDRESS_DELETE, {"channel": "SMS"}, token=token)
    again = gql(ADDRESS_DELETE, {"channel": "SMS"}, token=token)
    assert deleted.json() == {"data": {"channelAddressDelete": {"deleted": True}}}
    assert again.json() == {"data": {"channelAddressDelete": {"deleted": False}}}
    assert ChannelAddress.objects.filter(channel="SMS").count() == 1  # bob's stays


def test_a_webhook_without_a_secret_gets_one(gql: GraphQL, ann: User) -> None:
    response = gql(
        ADDRESS_SET, {"channel": "WEBHOOK", "address": "https://h.example/"}, token=token_of(ann)
    )

    secret = response.json()["data"]["channelAddressSet"]["secret"]
    assert len(secret) >= 40
    assert ChannelAddress.objects.get(user=ann).secret == secret


@pytest.mark.parametrize(
    ("channel", "address", "field"),
    [
        ("EMAIL", "ann@example.com", "channel"),
        ("WEBHOOK", "ftp://h.example/", "address"),
        ("SMS", "015112345678", "address"),
        ("TELEGRAM", "not a chat", "address"),
    ],
)
def test_bad_addresses_are_refused(
    gql: GraphQL, ann: User, channel: str, address: str, field: str
) -> None:
    response = gql(ADDRESS_SET, {"channel": channel, "address": address}, token=token_of(ann))

    assert response.json() == {
        "data": {"channelAddressSet": {"messages": [{"code": "INVALID_INPUT", "field": field}]}}
    }
    assert not ChannelAddress.objects.exists()


PUBLIC_ONLY = "; reminders go to public addresses only."


@pytest.mark.parametrize(
    ("channel", "address", "why"),
    [
        (
            "WEBHOOK",
            "https://127.0.0.1/h",
            "refused: 127.0.0.1 is a loopback address" + PUBLIC_ONLY,
        ),
        ("WEBHOOK", "https://10.0.0.5/h", "refused: 10.0.0.5 is a private address" + PUBLIC_ONLY),
        (
            "WEBHOOK",
            "https://169.254.169.254/latest/meta-data/",
            "refused: 169.254.169.254 is a link-local address" + PUBLIC_ONLY,
        ),
        ("SLACK", "https://[::1]:8443/h", "refused: ::1 is a loopback address" + PUBLIC_ONLY),
        (
            "SLACK",
            "https://localhost/h",
            "refused: localhost (127.0.0.1) is a loopback address" + PUBLIC_ONLY,
        ),
        ("WEBHOOK", "http://hooks.example/h", "The URL must start with https://."),
        (
            "WEBHOOK",
            "https://ann:pw@hooks.example/h",
            "The URL must not contain a user name or password (user@host).",
        ),
    ],
)
def test_a_url_to_a_non_public_address_is_refused(
    gql: GraphQL, ann: User, settings: Settings, channel: str, address: str, why: str
) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = False

    response = gql(ADDRESS_SET_WHY, {"channel": channel, "address": address}, token=token_of(ann))

    message = f"Not a usable {channel} URL: {why}"
    assert response.json() == {
        "data": {
            "channelAddressSet": {
                "messages": [{"code": "INVALID_INPUT", "field": "address", "message": message}]
            }
        }
    }
    assert not ChannelAddress.objects.exists()


def test_with_private_networks_allowed_a_local_http_url_is_accepted(
    gql: GraphQL, ann: User, settings: Settings
) -> None:
    settings.REMINDER_ALLOW_PRIVATE_NETWORKS = True
    address = "http://127.0.0.1:8080/h"

    response = gql(ADDRESS_SET_WHY, {"channel": "WEBHOOK", "address": address}, token=token_of(ann))

    assert response.json() == {"data": {"channelAddressSet": {"address": address}}}


@pytest.mark.parametrize(
    ("channel", "address", "accepted"),
    [
        ("TELEGRAM", "123456789", True),
        ("TELEGRAM", "-1001234567890", True),
        ("TELEGRAM", "@rdv_team", True),
        ("TELEGRAM", "@abcd", False),  # usernames have at least 5 characters
        ("TELEGRAM", "@rdv team", False),
        ("TELEGRAM", "12a4", False),
        ("SMS", "+12345678", True),  # 8 digits
        ("SMS", "+123456789012345", True),  # 15 digits
        ("SMS", "+1234567", False),  # 7
        ("SMS", "+1234567890123456", False),  # 16
        ("SMS", "+04915112345678", False),  # no country code starts with 0
        ("SMS", "+49 151 12345678", False),
    ],
)
def test_telegram_chat_ids_and_e164_numbers(
    gql: GraphQL, ann: User, channel: str, address: str, accepted: bool
) -> None:
    response = gql(ADDRESS_SET, {"channel": channel, "address": address}, token=token_of(ann))

    result = response.json()["data"]["channelAddressSet"]
    if accepted:
        assert result == {"channel": channel, "address": address, "secret": ""}
    else:
        assert result == {"messages": [{"code": "INVALID_INPUT", "field": "address"}]}
        assert not ChannelAddress.objects.exists()


def test_the_organizer_sets_reminders_and_sees_every_delivery(
    gql: GraphQL, ann: User, bob: User
) -> None:
    event = scheduled_event(ann, bob)
    token = token_of(ann)

    response = gql(
        REMINDERS_SET,
        {
            "eventId": gid("Event", event.pk),
            "reminders": [{"offsetMinutes": 15, "channel": "EMAIL"}],
        },
        token=token,
    )

    assert response.json() == {
        "data": {"eventRemindersSet": {"reminders": [{"offsetMinutes": 15, "channel": "EMAIL"}]}}
    }
    assert ProcrastinateJob.objects.filter(task_name="reservation.send_reminder").count() == 2
    ReminderDelivery.objects.filter(recipient=bob).update(
        status=ReminderDelivery.Status.FAILED, attempts=2, last_error="ChannelError: HTTP 500"
    )
    due = iso(START - timedelta(minutes=15))
    node = {
        "dueAt": due,
        "occurrenceStart": iso(START),
        "sentAt": None,
        "reminder": {"offsetMinutes": 15, "channel": "EMAIL"},
    }
    assert gql(DELIVERIES, {"eventId": gid("Event", event.pk)}, token=token).json() == {
        "data": {
            "eventReminders": [{"offsetMinutes": 15, "channel": "EMAIL"}],
            "eventReminderDeliveries": {
                "edges": [
                    {
                        "node": {
                            **node,
                            "status": "FAILED",
                            "attempts": 2,
                            "lastError": "ChannelError: HTTP 500",
                            "recipient": {"email": "bob@example.com"},
                        }
                    },
                    {
                        "node": {
                            **node,
                            "status": "SCHEDULED",
                            "attempts": 0,
                            "lastError": "",
                            "recipient": {"email": "ann@example.com"},
                        }
                    },
                ]
            },
        }
    }


def test_a_party_neither_sees_nor_sets_reminders(gql: GraphQL, ann: User, bob: User) -> None:
    event = scheduled_event(ann, bob)
    token = token_of(bob)
    variables = {"eventId": gid("Event", event.pk)}

    reminders = gql(REMINDERS, variables, token=token)
    read = gql(DELIVERIES, variables, token=token)
    write = gql(
        REMINDERS_SET,
        {**variables, "reminders": [{"offsetMinutes": 5, "channel": "EMAIL"}]},
        token=token,
    )

    assert read.json()["data"] is None
    assert errors(read) == [{"path": ["eventReminders"], "code": "PERMISSION_DENIED"}]
    assert errors(reminders) == [{"path": ["eventReminders"], "code": "PERMISSION_DENIED"}]
    deliveries_only = DELIVERIES.replace(
        "eventReminders(eventId: $eventId) { offsetMinutes channel }", ""
    )
    assert errors(gql(deliveries_only, variables, token=token)) == [
        {"path": ["eventReminderDeliveries"], "code": "PERMISSION_DENIED"}
    ]
    assert write.json() == {
        "data": {"eventRemindersSet": {"messages": [{"code": "PERMISSION_DENIED", "field": None}]}}
    }
    assert not ReminderDelivery.objects.exists()


def test_a_stranger_is_told_the_event_does_not_exist(gql: GraphQL, ann: User) -> None:
    event = scheduled_event(ann)
    stranger = make_user()

    read = gql(DELIVERIES, {"eventId": gid("Event", event.pk)}, token=token_of(stranger))

    assert errors(read) == [{"path": ["eventReminders"], "code": "NOT_FOUND"}]


def test_bad_reminders_are_refused(gql: GraphQL, ann: User) -> None:
    event = scheduled_event(ann)

    response = gql(
        REMINDERS_SET,
        {
            "eventId": gid("Event", event.pk),
            "reminders": [{"offsetMinutes": 50 * 24 * 60 + 1, "channel": "EMAIL"}],
        },
        token=token_of(ann),
    )

    assert response.json() == {
        "data": {
            "eventRemindersSet": {"messages": [{"code": "INVALID_INPUT", "field": "reminders"}]}
        }
    }
    assert not ReminderDelivery.objects.exists()
