"""The worked example of the issue ("Finding a time together"), replayed through GraphQL.

The original (calndro's README, "Scenario") in this API's terms:

    You:  propose to you@here.net, they@thar.net and them@whar.net, three slots of 10, 20
          and 30 minutes written with three different UTC offsets; notify the two others.
    They: open the link from the e-mail (`Bearer rdve_...`), view the event, narrow it to
          the first two slots, and notify the others.
    You:  agree on the first slot.
    Then: the log shows every step in order, who took it and how, and the candidate list
          at each step.

Two changes from the original: its dates are in 2022 (past for this clock, so 2030 here),
and its first slot has no UTC offset (this API refuses naive times: it is UTC here, `Z`).
Narrowing names the candidates to keep by ID and the version seen, instead of re-sending
the remaining slots in yet another notation.
"""

import re
from typing import Any

from django.test import Client as HttpClient

from api.tests.conftest import GraphQL, latest_link
from reservation.models import Event, EventAccessToken, Notification
from reservation.tests.factories import make_user

PROPOSE = """
mutation Propose($input: EventProposeInput!) {
  eventPropose(input: $input) {
    ... on Event { id title status version participants { user { email } role } }
    ... on OperationInfo { messages { code field } }
  }
}
"""

NOTIFY = """
mutation Notify($id: ID!, $parties: [String!]!, $version: Int!) {
  eventNotify(id: $id, parties: $parties, expectedVersion: $version) {
    ... on EventNotifications { notifications { recipient { email } kind status } }
    ... on OperationInfo { messages { code field } }
  }
}
"""

EVENT = """
query Event($id: ID!) {
  event(id: $id) {
    title status version start end
    organizer { email }
    participants { user { email } role rsvp }
    candidates { id start end durationMinutes }
  }
}
"""

NARROW = """
mutation Narrow($id: ID!, $keep: [ID!]!, $version: Int!) {
  eventNarrow(id: $id, keepSlotIds: $keep, expectedVersion: $version) {
    ... on Event { version candidates { start durationMinutes } }
    ... on OperationInfo { messages { code field } }
  }
}
"""

AGREE = """
mutation Agree($id: ID!, $slotId: ID!, $version: Int!) {
  eventAgree(id: $id, slotId: $slotId, expectedVersion: $version) {
    ... on Event { status version start end participants { user { email } role rsvp } }
    ... on OperationInfo { messages { code field } }
  }
}
"""

EVENT_LOG = """
query EventLog($id: ID!) {
  eventLog(id: $id, first: 100) {
    totalCount
    edges { node { at action actorKind actorUser { email } changes } }
  }
}
"""

YOU, THEY, THEM = "you@here.net", "they@thar.net", "them@whar.net"

# The three slots as the issue writes them, and what they are in UTC
SLOTS = [
    {"start": "2030-11-01T01:11:22.02Z", "durationMinutes": 10},
    {"start": "2030-11-01T01:11:22+02:00", "durationMinutes": 20},
    {"start": "2030-11-01T01:11:22-02:00", "durationMinutes": 30},
]
# Earliest first: the +02:00 one is the evening before in UTC
TWENTY = ("2030-10-31T23:11:22+00:00", "2030-10-31T23:31:22+00:00")
TEN = ("2030-11-01T01:11:22.020000+00:00", "2030-11-01T01:21:22.020000+00:00")
THIRTY = ("2030-11-01T03:11:22+00:00", "2030-11-01T03:41:22+00:00")
# ...and as the log writes them (UTC as Z, milliseconds)
ALL_THREE = [
    ["2030-10-31T23:11:22Z", "2030-10-31T23:31:22Z"],
    ["2030-11-01T01:11:22.020Z", "2030-11-01T01:21:22.020Z"],
    ["2030-11-01T03:11:22Z", "2030-11-01T03:41:22Z"],
]
FIRST_TWO = ALL_THREE[:2]


def people(you: str, others: str) -> list[dict[str, Any]]:
    return [
        {"user": {"email": YOU}, "role": "ORGANIZER", "rsvp": you},
        {"user": {"email": THEM}, "role": "PARTY", "rsvp": others},
        {"user": {"email": THEY}, "role": "PARTY", "rsvp": others},
    ]


def entry(action: str, kind: str, email: str | None, changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "node": {
            "at": "2030-01-07T08:00:00+00:00",
            "action": action,
            "actorKind": kind,
            "actorUser": {"email": email} if email else None,
            "changes": changes,
        }
    }


def sent_to(event: Event, email: str, index: int) -> dict[str, int]:
    """The ids of the `index`th e-mail to `email` about `event` (and of its link's token)."""
    notification = Notification.objects.filter(event=event, recipient__email=email).order_by("id")[
        index
    ]
    ids = {"notification": notification.pk}
    if notification.access_token_id is not None:
        ids["token"] = notification.access_token_id
    return ids


def test_finding_a_time_together(gql: GraphQL, http: HttpClient) -> None:
    # --- You: signed in (a browser session), propose ------------------------------------------
    http.force_login(make_user(email=YOU))
    proposed = gql(PROPOSE, {"input": {"parties": [YOU, THEY, THEM], "slots": SLOTS}})

    created = proposed.json()["data"]["eventPropose"]
    title = created["title"]
    assert re.fullmatch(r"[A-Z][a-z]{3} [A-Z][a-z]{5}", title), "no title: one is generated"
    event_id = created["id"]
    assert created == {
        "id": event_id,
        "title": title,
        "status": "PROPOSED",
        "version": 1,
        # You are the organizer, not a party to your own event
        "participants": [
            {"user": {"email": YOU}, "role": "ORGANIZER"},
            {"user": {"email": THEM}, "role": "PARTY"},
            {"user": {"email": THEY}, "role": "PARTY"},
        ],
    }
    event = Event.objects.get()

    # --- You: notify the other parties --------------------------------------------------------
    notified = gql(NOTIFY, {"id": event_id, "parties": [THEY, THEM], "version": 1})

    assert notified.json() == {
        "data": {
            "eventNotify": {
                "notifications": [
                    {"recipient": {"email": email}, "kind": "EVENT_INVITATION", "status": "PENDING"}
                    for email in (THEM, THEY)
                ]
            }
        }
    }
    http.logout()

    # --- They: open the link in the e-mail, and view the proposed times ------------------------
    they_link = latest_link(event, THEY)
    them_first_link = latest_link(event, THEM)
    viewed = gql(EVENT, {"id": event_id}, token=they_link)

    shown = viewed.json()["data"]["event"]
    assert shown == {
        "title": title,
        "status": "PROPOSED",
        "version": 1,
        "start": None,
        "end": None,
        "organizer": {"email": YOU},
        "participants": people(you="YES", others="UNDECIDED"),
        "candidates": [
            {"id": shown["candidates"][i]["id"], "start": s, "end": e, "durationMinutes": m}
            for i, ((s, e), m) in enumerate([(TWENTY, 20), (TEN, 10), (THIRTY, 30)])
        ],
    }
    twenty_id, ten_id, _ = (c["id"] for c in shown["candidates"])

    # --- They: narrow to the first two slots (of the list) ----------------------------
    narrowed = gql(
        NARROW, {"id": event_id, "keep": [ten_id, twenty_id], "version": 1}, token=they_link
    )

    assert narrowed.json() == {
        "data": {
            "eventNarrow": {
                "version": 2,
                "candidates": [
                    {"start": TWENTY[0], "durationMinutes": 20},
                    {"start": TEN[0], "durationMinutes": 10},
                ],
            }
        }
    }

    # --- They: notify the other parties, you included -----------------------------------------
    passed_on = gql(NOTIFY, {"id": event_id, "parties": [YOU, THEM], "version": 2}, token=they_link)

    assert [
        n["recipient"]["email"] for n in passed_on.json()["data"]["eventNotify"]["notifications"]
    ] == [THEM, YOU]
    # Them got a fresh link; the first one they were sent no longer works
    assert gql(EVENT, {"id": event_id}, token=them_first_link).status_code == 401

    # --- You: agree on the first slot ---------------------------------------------------------
    http.force_login(event.organizer)
    agreed = gql(AGREE, {"id": event_id, "slotId": ten_id, "version": 2})

    assert agreed.json() == {
        "data": {
            "eventAgree": {
                "status": "SCHEDULED",
                "version": 3,
                "start": TEN[0],
                "end": TEN[1],
                "participants": people(you="YES", others="UNDECIDED"),
            }
        }
    }

    # --- Later: the log, for everyone on the event ---------------------------------------------
    log = gql(EVENT_LOG, {"id": event_id})

    assert log.json() == {
        "data": {
            "eventLog": {
                "totalCount": 10,
                "edges": [
                    entry(
                        "event.propose",
                        "USER",
                        YOU,
                        {
                            "title": title,
                            "parties": [THEM, THEY],
                            "auto_agree": False,
                            "version": 1,
                            "slots": ALL_THREE,
                        },
                    ),
                    *(
                        entry(
                            "event.notify",
                            "USER",
                            YOU,
                            {
                                "recipient": email,
                                **sent_to(event, email, 0),
                                "version": 1,
                                "slots": ALL_THREE,
                            },
                        )
                        for email in (THEM, THEY)
                    ),
                    entry("event.view", "TOKEN", THEY, {"version": 1, "slots": ALL_THREE}),
                    entry(
                        "event.narrow",
                        "TOKEN",
                        THEY,
                        {"version": 2, "before": ALL_THREE, "slots": FIRST_TWO},
                    ),
                    *(
                        entry(
                            "event.notify",
                            "TOKEN",
                            THEY,
                            {
                                "recipient": email,
                                **sent_to(event, email, index),
                                "version": 2,
                                "slots": FIRST_TWO,
                            },
                        )
                        for email, index in ((THEM, 1), (YOU, 0))
                    ),
                    entry(
                        "event.agree",
                        "USER",
                        YOU,
                        {
                            "version": 3,
                            "start": ALL_THREE[1][0],
                            "end": ALL_THREE[1][1],
                            "slots": FIRST_TWO,
                        },
                    ),
                    *(
                        entry(
                            "event.notify",
                            "SYSTEM",
                            None,
                            {
                                "recipient": email,
                                **sent_to(event, email, index),
                                "kind": "EVENT_SCHEDULED",
                                "version": 3,
                                "slots": FIRST_TWO,
                            },
                        )
                        for email, index in ((THEM, 2), (THEY, 1))
                    ),
                ],
            }
        }
    }
    # Each party reads the same log through their link (reading it is not logged)
    http.logout()
    assert gql(EVENT_LOG, {"id": event_id}, token=they_link).json() == log.json()
    assert gql(EVENT_LOG, {"id": event_id}, token=latest_link(event, THEM)).json() == log.json()

    # And what was sent: two invitations from you, two from them, two announcements
    assert list(Notification.objects.order_by("id").values_list("recipient__email", "kind")) == [
        (THEM, "EVENT_INVITATION"),
        (THEY, "EVENT_INVITATION"),
        (THEM, "EVENT_INVITATION"),
        (YOU, "EVENT_INVITATION"),
        (THEM, "EVENT_SCHEDULED"),
        (THEY, "EVENT_SCHEDULED"),
    ]
    # With the live links: one per person, the newest
    live = EventAccessToken.objects.filter(revoked_at__isnull=True).order_by("user__email")
    assert [(t.user.email, t.pk) for t in live] == [
        (THEM, sent_to(event, THEM, 1)["token"]),
        (THEY, sent_to(event, THEY, 0)["token"]),
        (YOU, sent_to(event, YOU, 0)["token"]),
    ]
