"""occurrences pages with an opaque cursor: a whole year by looping, never by splitting."""

from datetime import UTC, datetime
from typing import Any

from api.tests.conftest import GraphQL, token_of
from reservation.models import User
from reservation.services.calendar import event_create, recurrence_spec
from reservation.tests.factories import NOW, actor_for, make_user

PAGE = """
query Page($start: DateTime!, $end: DateTime!, $after: String) {
  occurrences(start: $start, end: $end, first: 100, after: $after) {
    hasMore
    endCursor
    items { title start originalStart }
  }
}
"""

START = datetime(2030, 1, 1, tzinfo=UTC)
END = datetime(2031, 1, 1, tzinfo=UTC)


def daily(organizer: User, title: str, hour: int) -> None:
    event_create(
        actor=actor_for(organizer),
        title=title,
        start=datetime(2030, 1, 1, hour, tzinfo=UTC),
        end=datetime(2030, 1, 1, hour, 30, tzinfo=UTC),
        time_zone="UTC",
        participants=[],
        recurrence_rule=recurrence_spec(kind="DAILY"),
        now=NOW,
    )


def test_a_year_of_occurrences_comes_whole_in_pages(gql: GraphQL) -> None:
    # Given two daily events at the same hour (ties broken the same way on every page)
    olga = make_user(email="olga@example.com")
    daily(olga, "Standup", 9)
    daily(olga, "Also at nine", 9)
    token = token_of(olga)

    # When Olga loops over pages of 100 until hasMore is false
    seen: list[tuple[str, str]] = []
    after: str | None = None
    pages = 0
    while True:
        variables: dict[str, Any] = {"start": START.isoformat(), "end": END.isoformat()}
        variables["after"] = after
        page = gql(PAGE, variables, token=token).json()["data"]["occurrences"]
        pages += 1
        seen += [(item["start"], item["title"]) for item in page["items"]]
        if not page["hasMore"]:
            break
        after = page["endCursor"]

    # Then she saw every occurrence of the year once, in order
    assert pages == 8  # 730 occurrences, 100 a page
    assert len(seen) == len(set(seen)) == 730
    assert [start for start, _ in seen] == sorted(start for start, _ in seen)
    assert seen[0][0] == "2030-01-01T09:00:00+00:00"
    assert seen[-1][0] == "2030-12-31T09:00:00+00:00"


def test_a_cursor_that_was_not_given_is_invalid_cursor(gql: GraphQL) -> None:
    token = token_of(make_user(email="olga@example.com"))

    for bad in ["nonsense", "b2NjMTpbXQ==", "eyJ4IjoxfQ=="]:
        variables = {"start": START.isoformat(), "end": END.isoformat(), "after": bad}
        response = gql(PAGE, variables, token=token).json()

        assert response["data"] is None or response["data"]["occurrences"] is None, response
        assert [e["extensions"]["code"] for e in response["errors"]] == ["INVALID_CURSOR"]
