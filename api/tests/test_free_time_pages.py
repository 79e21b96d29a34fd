"""freeTimePage: a whole year of common free time, page by page with endCursor, equals the
unpaged list; a cursor of another query or a made-up one answers INVALID_CURSOR."""

from datetime import UTC, datetime, time, timedelta

import pytest

from api.tests.conftest import GraphQL, errors, token_of
from reservation.models import OccurrenceChange, User, WorkingHours
from reservation.selectors import calendar as calendar_selectors
from reservation.services.calendar import event_create, recurrence_spec
from reservation.tests.factories import NOW, actor_for, make_user

PAGE = """
query Page($users: [String!]!, $start: DateTime!, $end: DateTime!, $minutes: Int!,
           $first: Int!, $after: String) {
  freeTimePage(users: $users, start: $start, end: $end, durationMinutes: $minutes,
               first: $first, after: $after) {
    hasMore endCursor
    items { start end local { user { email } timeZone start end } }
  }
}
"""

YEAR = {"start": "2030-01-01T00:00:00Z", "end": "2031-01-01T00:00:00Z"}


@pytest.fixture
def olga(db: None) -> User:
    return make_user(email="olga@example.com", time_zone="Europe/Berlin")


@pytest.fixture
def pia(db: None) -> User:
    return make_user(email="pia@example.com", time_zone="America/New_York")


def busy_year(olga: User, pia: User) -> None:
    """Working hours in two zones (DST on different dates), a daily standup with a cancelled
    and a moved day, a quarter-hour check-in (short gaps, so a page that started a little
    late would show), a weekly meeting, a monthly review."""
    for user, (begin, end) in ((olga, (time(8), time(18))), (pia, (time(7), time(16)))):
        WorkingHours.objects.bulk_create(
            WorkingHours(user=user, weekday=day, start=begin, end=end) for day in range(5)
        )

    def event(title: str, start: datetime, minutes: int, **rule: object) -> None:
        created = event_create(
            actor=actor_for(olga),
            title=title,
            start=start,
            end=start + timedelta(minutes=minutes),
            time_zone="Europe/Berlin",
            participants=[pia.email],
            recurrence_rule=recurrence_spec(**rule),  # type: ignore[arg-type]
            now=NOW,
        )
        if title == "Standup":
            first = created.start
            OccurrenceChange.objects.create(
                event=created, original_start=first + timedelta(days=7), cancelled=True
            )
            moved = first + timedelta(days=14)
            OccurrenceChange.objects.create(
                event=created,
                original_start=moved,
                start=moved + timedelta(hours=3),
                end=moved + timedelta(hours=4),
            )

    event("Standup", datetime(2030, 1, 2, 15, tzinfo=UTC), 60, kind="WORKDAYS")
    event("Check-in", datetime(2030, 1, 2, 14, 15, tzinfo=UTC), 15, kind="DAILY")
    event("Weekly", datetime(2030, 1, 3, 13, tzinfo=UTC), 120, kind="WEEKLY", weekdays=[3])
    event("Review", datetime(2030, 1, 15, 16, tzinfo=UTC), 60, kind="MONTHLY_BY_DAY", month_day=15)


def all_pages(gql: GraphQL, token: str, first: int) -> tuple[list[dict], int]:
    items: list[dict] = []
    after, pages = None, 0
    while True:
        variables = {
            "users": ["olga@example.com", "pia@example.com"],
            **YEAR,
            "minutes": 30,
            "first": first,
            "after": after,
        }
        page = gql(PAGE, variables, token=token).json()["data"]["freeTimePage"]
        pages += 1
        items += page["items"]
        assert len(page["items"]) <= first
        if not page["hasMore"]:
            return items, pages
        after = page["endCursor"]


def test_a_year_of_free_time_paged_equals_the_unpaged_list(
    gql: GraphQL, olga: User, pia: User
) -> None:
    busy_year(olga, pia)
    token = token_of(olga)

    items, pages = all_pages(gql, token, first=37)

    # the truth: the same computation in one piece, without a limit
    truth = calendar_selectors._free_intervals(
        users=[olga, pia],
        start=datetime(2030, 1, 1, tzinfo=UTC),
        end=datetime(2031, 1, 1, tzinfo=UTC),
        duration=timedelta(minutes=30),
        limit=10**6,
        now=NOW,
    )
    assert len(truth) > 3 * 100  # more than three pages of the largest size
    got = [(datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"])) for i in items]
    assert got == truth
    assert pages == -(-len(truth) // 37)
    assert {tuple(x["user"]["email"] for x in i["local"]) for i in items} == {
        ("olga@example.com", "pia@example.com")
    }
    # and the largest page size gives the same list
    assert all_pages(gql, token, first=100)[0] == items


def test_the_last_page_says_so_and_an_empty_range_has_no_cursor(
    gql: GraphQL, olga: User, pia: User
) -> None:
    token = token_of(olga)
    variables = {"users": ["olga@example.com"], "minutes": 30, "first": 2, "after": None}

    # Olga has no working hours and no events: the whole day is one free interval
    day = {"start": "2030-01-08T00:00:00Z", "end": "2030-01-09T00:00:00Z"}
    page = gql(PAGE, {**variables, **day}, token=token).json()["data"]["freeTimePage"]
    assert (page["hasMore"], [i["start"] for i in page["items"]]) == (
        False,
        ["2030-01-08T00:00:00+00:00"],
    )
    # asking again after the last one: nothing more, no cursor
    again = {**variables, **day, "after": page["endCursor"]}
    assert gql(PAGE, again, token=token).json()["data"]["freeTimePage"] == {
        "hasMore": False,
        "endCursor": None,
        "items": [],
    }


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        "ZnJlZTE6WyIyMDMwLTAxLTA4VDA5OjAwOjAwKzAwOjAwIiwgImFiYyJd",  # free1:[time, "abc"]
        "b2NjMTpbXQ==",  # an occurrences cursor
    ],
)
def test_a_made_up_cursor_is_invalid(gql: GraphQL, olga: User, cursor: str) -> None:
    variables = {
        "users": ["olga@example.com"],
        **YEAR,
        "minutes": 30,
        "first": 5,
        "after": cursor,
    }
    response = gql(PAGE, variables, token=token_of(olga))
    assert errors(response) == [{"path": ["freeTimePage"], "code": "INVALID_CURSOR"}]


@pytest.mark.parametrize(
    "change",
    [
        {"minutes": 45},  # another length
        {"start": "2030-01-02T00:00:00Z"},  # another range
        {"users": ["olga@example.com", "pia@example.com"]},  # other people
    ],
)
def test_a_cursor_of_another_query_is_invalid(
    gql: GraphQL, olga: User, pia: User, change: dict
) -> None:
    busy_year(olga, pia)  # (Pia shares an event with Olga: her free/busy is visible)
    token = token_of(olga)
    variables = {"users": ["olga@example.com"], **YEAR, "minutes": 30, "first": 5, "after": None}
    page = gql(PAGE, variables, token=token).json()["data"]["freeTimePage"]
    assert page["hasMore"]

    response = gql(PAGE, {**variables, **change, "after": page["endCursor"]}, token=token)

    assert errors(response) == [{"path": ["freeTimePage"], "code": "INVALID_CURSOR"}]
