"""IANA time-zone names: validation and lookup (zoneinfo does the work)."""

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    return name in _known_zones()


def validate_time_zone(name: str) -> None:
    if not is_time_zone(name):
        raise ValidationError(
            "%(name)s is not an IANA time zone.", params={"name": name}, code="INVALID_TIME_ZONE"
        )


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
