"""Test data builders: plain functions with sensible defaults, overridable by keyword."""

import itertools
from datetime import UTC, datetime, time, timedelta

from reservation.actors import Actor
from reservation.models import (
    AvailabilityWindow,
    BookingPolicy,
    Client,
    Provider,
    Reservation,
    ReservationStatus,
    User,
    WorkingHours,
)

# A Monday, far enough ahead that real clocks never interfere with injected ones.
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"

_seq = itertools.count(1)


def make_user(*, email: str | None = None, time_zone: str = "UTC", **extra: object) -> User:
    email = email or f"user{next(_seq)}@example.com"
    return User.objects.create_user(email, PASSWORD, time_zone=time_zone, **extra)


def make_client(*, email: str | None = None, **extra: object) -> Client:
    return Client.objects.create(user=make_user(email=email, **extra))


def make_provider(
    *,
    email: str | None = None,
    time_zone: str = "UTC",
    hours: tuple[time, time] | None = (time(9), time(17)),
    weekdays: range = range(5),
    **extra: object,
) -> Provider:
    """A provider working `hours` on `weekdays` (Mon–Fri 09–17 by default) in `time_zone`."""
    user = make_user(email=email, time_zone=time_zone, **extra)
    provider = Provider.objects.create(user=user, display_name=f"Provider {user.pk}")
    if hours is not None:
        WorkingHours.objects.bulk_create(
            WorkingHours(user=user, weekday=day, start=hours[0], end=hours[1]) for day in weekdays
        )
    return provider


def make_policy(*, provider: Provider | None = None, **fields: object) -> BookingPolicy:
    policy, _ = BookingPolicy.objects.update_or_create(provider=provider, defaults=fields)
    return policy


def make_window(*, provider: Provider, start: datetime, end: datetime) -> AvailabilityWindow:
    return AvailabilityWindow.objects.create(provider=provider, start=start, end=end)


def make_reservation(
    *,
    provider: Provider,
    client: Client,
    start: datetime,
    length: timedelta = timedelta(hours=1),
    status: str = ReservationStatus.CONFIRMED,
    expires_at: datetime | None = None,
) -> Reservation:
    if status == ReservationStatus.HELD and expires_at is None:
        expires_at = NOW + timedelta(minutes=30)
    return Reservation.objects.create(
        provider=provider,
        client=client,
        start=start,
        end=start + length,
        status=status,
        expires_at=expires_at,
    )


def actor_for(user_or_profile: User | Client | Provider) -> Actor:
    user = getattr(user_or_profile, "user", user_or_profile)
    return Actor(user=user)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC instant in January 2030 (the 7th is a Monday)."""
    return datetime(2030, 1, day, hour, minute, tzinfo=UTC)
