"""Reads of connected calendars: a user's connections, and the busy time copied from them."""

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from reservation.models import (
    CalendarConnection,
    CalendarWriteback,
    ExternalBusy,
    ExternalCalendar,
    User,
)


def calendar_connections_of(*, user: User) -> QuerySet[CalendarConnection]:
    """The user's connections, oldest first, with their calendars."""
    return (
        CalendarConnection.objects.filter(user=user)
        .prefetch_related(Prefetch("calendars", ExternalCalendar.objects.order_by("id")))
        .order_by("id")
    )


def external_busy_rows(*, user_ids: Sequence[int], start: datetime, end: datetime) -> QuerySet:
    """(user id, start, end) of copied busy time overlapping [start, end)."""
    return ExternalBusy.objects.filter(
        user_id__in=user_ids, start__lt=end, end__gt=start
    ).values_list("user_id", "start", "end")


def writebacks_needing_attention(*, user: User) -> QuerySet[CalendarWriteback]:
    """Bookings of the provider whose calendar copy was edited, deleted or not written."""
    return (
        CalendarWriteback.objects.filter(calendar__user=user)
        .exclude(state="OK")
        .select_related("reservation")
        .order_by("reservation__start", "id")
    )
