"""Reads of accounts and tokens."""

from django.db.models import QuerySet

from reservation.models import ApiToken, TimeOff, User, WorkingHours


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    """The user's API tokens, newest first (revoked ones included)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def working_hours_of(*, user: User) -> QuerySet[WorkingHours]:
    """The user's weekly shifts, Monday first."""
    return WorkingHours.objects.filter(user=user).order_by("weekday", "start")


def time_off_of(*, user: User) -> QuerySet[TimeOff]:
    """The user's time off, in order."""
    return TimeOff.objects.filter(user=user).order_by("start", "id")
