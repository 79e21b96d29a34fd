"""Calendar feeds through GraphQL (create, list, revoke) and over plain HTTP (the feed URL and
one event's .ics)."""

import icalendar
import pytest
from django.test import Client as HttpClient

from api.tests.conftest import GraphQL, gid, iso
from reservation.ical import event_uid
from reservation.models import CalendarFeed, Event, EventStatus, Participant, User
from reservation.services.events import access_token_issue, access_token_mint
from reservation.services.feeds import calendar_feed_create
from reservation.tests.factories import NOW, PASSWORD, actor_for, at

FEED_CREATE = """
mutation FeedCreate {
  calendarFeedCreate {
    ... on CalendarFeedCreated { url feed { createdAt revokedAt } }
    ... on OperationInfo { messages { code field } }
  }
}
"""

FEED_REVOKE = """
mutation FeedRevoke($id: ID!) {
  calendarFeedRevoke(id: $id) {
    ... on CalendarFeed { createdAt revokedAt }
    ... on OperationInfo { messages { code field } }
  }
}
"""

FEEDS = """
query Feeds {
  calendarFeeds { totalCount edges { node { id createdAt revokedAt } } }
}
"""

ICS = "text/calendar; charset=utf-8"


def path_of(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000")


def assert_private(response) -> None:
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache_control
    assert response["Referrer-Policy"] == "no-referrer"


def scheduled(organizer: User, party: User, **fields: object) -> Event:
    """Olga's scheduled weekly event with Pia on it."""
    event = Event.objects.create(
        organizer=organizer,
        title="Weekly",
        status=EventStatus.SCHEDULED,
        start=at(8, 9),
        end=at(8, 10),
        time_zone="Europe/Berlin",
        recurrence="FREQ=WEEKLY;BYDAY=TU",
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )
    Participant.objects.create(event=event, user=organizer, role=Participant.Role.ORGANIZER)
    Participant.objects.create(event=event, user=party)
    return event


def test_a_feed_is_created_listed_fetched_and_revoked(
    gql: GraphQL, http: HttpClient, organizer: User, organizer_token: str, party: User
) -> None:
    # Given Olga is on a scheduled event
    event = scheduled(organizer, party)

    # When she creates a feed
    created = gql(FEED_CREATE, token=organizer_token).json()["data"]["calendarFeedCreate"]

    # Then she gets its URL once, with the feed
    assert created["feed"] == {"createdAt": iso(NOW), "revokedAt": None}
    assert created["url"].startswith("http://127.0.0.1:8000/calendar/rdvc_")
    assert created["url"].endswith(".ics")
    feed = CalendarFeed.objects.get()
    assert gql(FEEDS, token=organizer_token).json() == {
        "data": {
            "calendarFeeds": {
                "totalCount": 1,
                "edges": [
                    {
                        "node": {
                            "id": gid("CalendarFeed", feed.pk),
                            "createdAt": iso(NOW),
                            "revokedAt": None,
                        }
                    }
                ],
            }
        }
    }
    # And a calendar app fetching the URL (no cookie, no header) gets her calendar
    response = http.get(path_of(created["url"]))
    assert response.status_code == 200
    assert response["Content-Type"] == ICS
    assert_private(response)
    calendar = icalendar.Calendar.from_ical(response.content)
    assert [str(v["UID"]) for v in calendar.walk("VEVENT")] == [event_uid(event.pk)]
    assert str(calendar.walk("VEVENT")[0]["RRULE"].to_ical().decode()) == "FREQ=WEEKLY;BYDAY=TU"

    # When she revokes it
    revoked = gql(FEED_REVOKE, {"id": gid("CalendarFeed", feed.pk)}, token=organizer_token)

    # Then it says so, and the URL is a bare 404 from now on
    assert revoked.json() == {
        "data": {"calendarFeedRevoke": {"createdAt": iso(NOW), "revokedAt": iso(NOW)}}
    }
    gone = http.get(path_of(created["url"]))
    assert gone.status_code == 404
    assert gone.content == b""
    assert_private(gone)


@pytest.mark.parametrize("secret", ["rdvc_unknown", "nothing", "rdve_" + "a" * 43])
def test_an_unknown_feed_is_a_bare_404(http: HttpClient, secret: str) -> None:
    response = http.get(f"/calendar/{secret}.ics")

    assert response.status_code == 404
    assert response.content == b""


def test_a_feed_is_read_only(http: HttpClient, party: User) -> None:
    _, secret = calendar_feed_create(actor=actor_for(party))

    assert HttpClient().post(f"/calendar/{secret}.ics").status_code == 405  # past CSRF
    assert http.head(f"/calendar/{secret}.ics").status_code == 200


def test_signed_out_people_cannot_create_or_list_feeds(gql: GraphQL) -> None:
    assert gql(FEED_CREATE).json() == {
        "data": {"calendarFeedCreate": {"messages": [{"code": "UNAUTHENTICATED", "field": None}]}}
    }
    assert gql(FEEDS).json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert not CalendarFeed.objects.exists()


@pytest.mark.parametrize("feed_id", ["theirs", "unknown", "wrong type", "malformed"])
def test_revoking_someone_elses_or_no_feed_is_not_found(
    gql: GraphQL, organizer: User, party_token: str, feed_id: str
) -> None:
    feed, _ = calendar_feed_create(actor=actor_for(organizer))
    ids = {
        "theirs": gid("CalendarFeed", feed.pk),
        "unknown": gid("CalendarFeed", feed.pk + 1000),
        "wrong type": gid("Event", feed.pk),
        "malformed": "not-an-id",
    }

    response = gql(FEED_REVOKE, {"id": ids[feed_id]}, token=party_token)

    assert response.json() == {
        "data": {"calendarFeedRevoke": {"messages": [{"code": "NOT_FOUND", "field": None}]}}
    }
    feed.refresh_from_db()
    assert feed.revoked_at is None


# --- one event's .ics --------------------------------------------------------------------------


def test_people_on_an_event_download_it(
    http: HttpClient, organizer: User, organizer_token: str, party: User
) -> None:
    event = scheduled(organizer, party)

    # By Bearer token
    by_token = http.get(f"/events/{event.pk}.ics", HTTP_AUTHORIZATION=f"Bearer {organizer_token}")
    # And by session
    assert http.login(username=party.email, password=PASSWORD)
    by_session = http.get(f"/events/{event.pk}.ics")

    for response in (by_token, by_session):
        assert response.status_code == 200
        assert response["Content-Type"] == ICS
        assert response["Content-Disposition"] == f'inline; filename="event-{event.pk}.ics"'
        assert_private(response)
        [vevent] = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
        assert str(vevent["UID"]) == event_uid(event.pk)
    assert by_token.content == by_session.content


@pytest.mark.parametrize("who", ["stranger", "nobody", "bad token", "link", "staff"])
def test_anyone_else_gets_a_bare_404(
    http: HttpClient,
    organizer: User,
    party: User,
    stranger_token: str,
    staff_token: str,
    who: str,
) -> None:
    event = scheduled(organizer, party)
    link = access_token_mint(token=access_token_issue(event=event, user=party, now=NOW))
    headers = {
        "stranger": {"HTTP_AUTHORIZATION": f"Bearer {stranger_token}"},
        "nobody": {},
        "bad token": {"HTTP_AUTHORIZATION": "Bearer rdv_nope"},
        "link": {"HTTP_AUTHORIZATION": f"Bearer {link}"},  # a link is no sign-in
        "staff": {"HTTP_AUTHORIZATION": f"Bearer {staff_token}"},
    }[who]

    response = http.get(f"/events/{event.pk}.ics", **headers)

    assert response.status_code == 404
    assert response.content == b""


@pytest.mark.parametrize("case", ["unknown", "proposed"])
def test_an_event_without_a_file_is_a_bare_404(
    http: HttpClient, organizer: User, organizer_token: str, party: User, case: str
) -> None:
    event = scheduled(organizer, party)
    if case == "proposed":
        Event.objects.filter(pk=event.pk).update(status=EventStatus.PROPOSED, start=None, end=None)
    event_id = event.pk + 1000 if case == "unknown" else event.pk

    response = http.get(f"/events/{event_id}.ics", HTTP_AUTHORIZATION=f"Bearer {organizer_token}")

    assert response.status_code == 404
    assert response.content == b""
