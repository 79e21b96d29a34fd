"""Reads for calendar feeds and event exports."""

from django.db.models import QuerySet

from reservation.models import CalendarFeed, Event, EventStatus, User


def calendar_feeds_of(*, user: User) -> QuerySet[CalendarFeed]:
    """The user's calendar feeds, newest first (revoked ones included)."""
    return CalendarFeed.objects.filter(user=user).order_by("-created_at", "-id")


def event_for_export(*, user: User, event_id: int) -> Event | None:
    """The event if `user` is on it and it has a time (scheduled, or cancelled after that);
    None otherwise, the same for an event that does not exist."""
    return (
        Event.objects.filter(
            pk=event_id,
            participants__user=user,
            status__in=[EventStatus.SCHEDULED, EventStatus.CANCELLED],
            start__isnull=False,
            end__isnull=False,
        )
        .select_related("organizer")
        .prefetch_related("occurrence_changes")
        .first()
    )
