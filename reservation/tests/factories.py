"""Test data builders: plain functions with sensible defaults, overridable by keyword."""

import functools
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth.hashers import make_password

from reservation.actors import Actor
from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import (
    ApiToken,
    AuditEntry,
    AvailabilityWindow,
    BookingPolicy,
    Client,
    Provider,
    Reservation,
    ReservationStatus,
    TimeOff,
    User,
    WorkingHours,
)

# A Monday, far enough ahead that real clocks never interfere with injected ones.
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"

_seq = itertools.count(1)


@functools.cache
def _password_hash() -> str:
    """PASSWORD hashed once: hashing is slow on purpose, and nearly every test makes users."""
    return make_password(PASSWORD, hasher="pbkdf2_sha256")


def make_user(*, email: str | None = None, time_zone: str = "UTC", **extra: object) -> User:
    """An active user whose password is PASSWORD (e-mail lower-cased, as the manager does)."""
    email = User.objects.normalize_email(email or f"user{next(_seq)}@example.com").lower()
    return User.objects.create(email=email, password=_password_hash(), time_zone=time_zone, **extra)


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


# --- Added for the service tests -------------------------------------------------------------


def make_staff(*, email: str | None = None, **extra: object) -> User:
    return make_user(email=email, is_staff=True, **extra)


def make_time_off(*, user: User, start: datetime, end: datetime, reason: str = "") -> TimeOff:
    return TimeOff.objects.create(user=user, start=start, end=end, reason=reason)


def row_counts() -> dict[str, int]:
    """How many rows each table of the domain holds: compare before and after a rejected
    write to prove it wrote nothing."""
    models = (
        User,
        Client,
        Provider,
        ApiToken,
        AvailabilityWindow,
        WorkingHours,
        TimeOff,
        BookingPolicy,
        Reservation,
        AuditEntry,
    )
    return {model.__name__: model.objects.count() for model in models}


def audit_trail() -> list[tuple[str, str, int, str]]:
    """Every audit entry as (action, subject type, subject id, actor kind), oldest first."""
    return list(
        AuditEntry.objects.order_by("at", "id").values_list(
            "action", "subject_type", "subject_id", "actor_kind"
        )
    )


@contextmanager
def rejected(code: ErrorCode) -> Iterator[pytest.ExceptionInfo]:
    """Expect the block to fail with `code` and to leave every table's row count unchanged.
    Yields the ExceptionInfo, to look at the error after the block."""
    before = row_counts()
    with pytest.raises((DomainError, AccessDenied, NotFound)) as info:
        yield info
    assert info.value.error_code == code, info.value
    assert row_counts() == before


def slot(start: datetime, minutes: int = 60) -> tuple[datetime, datetime]:
    """One slot (start, end) of `minutes`."""
    return (start, start + timedelta(minutes=minutes))


def hourly(day: int, *hours: int) -> list[tuple[datetime, datetime]]:
    """One-hour slots on 2030-01-`day` starting at each of `hours` (UTC)."""
    return [slot(at(day, hour)) for hour in hours]


def json_time(value: datetime) -> str:
    """A UTC datetime as audit entries store it (DjangoJSONEncoder writes UTC as Z)."""
    return value.isoformat().replace("+00:00", "Z")
