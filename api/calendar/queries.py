from datetime import datetime, timedelta
from typing import Annotated

import strawberry

from api.context import Info, actor_of
from api.ids import decode_id
from reservation.errors import DomainError, ErrorCode
from reservation.models import User
from reservation.selectors import calendar as calendar_selectors
from reservation.selectors import sharing as sharing_selectors

from .types import FreeInterval, FreeTimePage, Occurrence, Occurrences, free_interval

MAX_OCCURRENCES = 1000

People = Annotated[
    list[str],
    strawberry.argument(description="People, each by user ID or e-mail address (1–50)."),
]


def people(refs: list[str]) -> list[User]:
    """Users by ID or e-mail (an @ means an address), in the order given; NOT_FOUND if unknown."""
    return calendar_selectors.users_by_reference(
        refs=[r if "@" in r else decode_id(r, "User") for r in refs]
    )


@strawberry.type
class CalendarQuery:
    @strawberry.field(
        description="Your calendar: occurrences of the scheduled events you are on that overlap "
        "[start, end) (at most 366 days), earliest first, recurring events expanded in their "
        "own zone and moved or cancelled occurrences applied. With `users`: only events one of "
        "them attends too. (The `events` list is the events themselves, one row per event.)"
    )
    def occurrences(
        self,
        info: Info,
        start: Annotated[datetime, strawberry.argument(description="Range start, with offset.")],
        end: Annotated[datetime, strawberry.argument(description="Range end, with offset.")],
        users: Annotated[
            list[str] | None,
            strawberry.argument(description="Only events these people (ID or e-mail) attend."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description=f"At most this many (1–{MAX_OCCURRENCES}).")
        ] = 500,
        include_declined: Annotated[
            bool,
            strawberry.argument(description="Whether events you declined (NO) are listed."),
        ] = True,
        after: Annotated[
            str | None,
            strawberry.argument(description="endCursor of the page before (null: the first)."),
        ] = None,
    ) -> Occurrences:
        actor = actor_of(info)
        actor.require_user()
        if not 1 <= first <= MAX_OCCURRENCES:
            raise DomainError(
                ErrorCode.INVALID_INPUT, f"first must be 1–{MAX_OCCURRENCES}.", field="first"
            )
        page, more = calendar_selectors.visible_occurrences_page(
            actor=actor,
            start=start,
            end=end,
            first=first,
            after=after,
            users=people(users) if users is not None else None,
            include_declined=include_declined,
        )
        return Occurrences(
            items=[Occurrence(occurrence=o) for o in page],
            has_more=more,
            end_cursor=calendar_selectors.occurrence_cursor(page[-1]) if page else None,
        )

    @strawberry.field(
        description="The earliest intervals of at least durationMinutes in [start, end) (at most "
        "366 days) when all these people are free: no event they organise or have not "
        "declined, no live booking as client or provider, no time off, and inside everyone's "
        "working hours (none set: any time). Each person must share their free/busy with you "
        "(freeBusySharing; by default people you share an event or a booking with): anyone "
        "else answers NOT_FOUND, exactly like an unknown address. More than `limit`: "
        "freeTimePage."
    )
    def free_time(
        self,
        info: Info,
        users: People,
        start: Annotated[datetime, strawberry.argument(description="Range start, with offset.")],
        end: Annotated[datetime, strawberry.argument(description="Range end, with offset.")],
        duration_minutes: Annotated[
            int, strawberry.argument(description="Shortest useful length (1–10080).")
        ],
        limit: Annotated[int, strawberry.argument(description="At most this many (1–100).")] = 10,
    ) -> list[FreeInterval]:
        viewer = actor_of(info).require_user()
        who = people(users)
        sharing_selectors.require_free_busy_shared(viewer=viewer, users=who)  # consent
        found = calendar_selectors.free_time(
            users=who,
            start=start,
            end=end,
            duration=timedelta(minutes=duration_minutes),
            limit=limit,
        )
        return [free_interval(s, e, who) for s, e in found]

    @strawberry.field(
        description="freeTime page by page: at most `first` common free intervals of "
        "[start, end) (at most 366 days), earliest first, after the `after` cursor; ask "
        "again with after: endCursor while hasMore to get all of them (a year of free time "
        "in a few requests). Same rules and consent as freeTime; INVALID_CURSOR for a cursor "
        "this list (same people, range and length) did not hand out."
    )
    def free_time_page(
        self,
        info: Info,
        users: People,
        start: Annotated[datetime, strawberry.argument(description="Range start, with offset.")],
        end: Annotated[datetime, strawberry.argument(description="Range end, with offset.")],
        duration_minutes: Annotated[
            int, strawberry.argument(description="Shortest useful length (1–10080).")
        ],
        first: Annotated[
            int, strawberry.argument(description="At most this many per page (1–100).")
        ] = 100,
        after: Annotated[
            str | None,
            strawberry.argument(description="endCursor of the page before (null: the first)."),
        ] = None,
    ) -> FreeTimePage:
        viewer = actor_of(info).require_user()
        who = people(users)
        sharing_selectors.require_free_busy_shared(viewer=viewer, users=who)  # consent
        duration = timedelta(minutes=duration_minutes)
        page, more = calendar_selectors.free_time_page(
            users=who, start=start, end=end, duration=duration, first=first, after=after
        )
        return FreeTimePage(
            items=[free_interval(s, e, who) for s, e in page],
            has_more=more,
            end_cursor=calendar_selectors.free_time_cursor(
                page[-1], users=who, start=start, end=end, duration=duration
            )
            if page
            else None,
        )
