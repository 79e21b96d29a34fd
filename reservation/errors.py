"""Stable error codes of the domain and the exceptions that carry them.

Every rejection a service makes is one of these codes; the API hands the code to clients
unchanged, so clients can branch on it. Messages are for humans and may change.
"""

from enum import StrEnum

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_CHARACTERS = "INVALID_CHARACTERS"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    NAIVE_DATETIME = "NAIVE_DATETIME"
    INVALID_TIME_RANGE = "INVALID_TIME_RANGE"
    INVALID_TIME_ZONE = "INVALID_TIME_ZONE"
    RANGE_TOO_LONG = "RANGE_TOO_LONG"
    IN_THE_PAST = "IN_THE_PAST"
    TOO_MANY_WINDOWS = "TOO_MANY_WINDOWS"
    SLOT_UNAVAILABLE = "SLOT_UNAVAILABLE"
    NOTICE_TOO_SHORT = "NOTICE_TOO_SHORT"
    BEYOND_HORIZON = "BEYOND_HORIZON"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    HOLD_LIMIT_REACHED = "HOLD_LIMIT_REACHED"
    RESERVATION_NOT_ACTIVE = "RESERVATION_NOT_ACTIVE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    STALE_VERSION = "STALE_VERSION"
    EVENT_NOT_PROPOSED = "EVENT_NOT_PROPOSED"
    EVENT_CANCELLED = "EVENT_CANCELLED"
    NOT_A_PARTY = "NOT_A_PARTY"
    NOT_A_CANDIDATE = "NOT_A_CANDIDATE"
    EVENT_NOT_SCHEDULED = "EVENT_NOT_SCHEDULED"
    NOT_RECURRING = "NOT_RECURRING"
    NOT_AN_OCCURRENCE = "NOT_AN_OCCURRENCE"
    OCCURRENCE_CANCELLED = "OCCURRENCE_CANCELLED"
    CALENDAR_UNREACHABLE = "CALENDAR_UNREACHABLE"
    START_NOT_IN_RULE = "START_NOT_IN_RULE"
    # Booking pages, coaches and series (issue 11)
    CLIENT_NOT_ASSIGNED = "CLIENT_NOT_ASSIGNED"
    SLUG_TAKEN = "SLUG_TAKEN"
    SERIES_INCOMPLETE = "SERIES_INCOMPLETE"
    WEBHOOK_DISABLED = "WEBHOOK_DISABLED"


class DomainError(ValidationError):
    """A rejected request: nothing was written. Carries a stable `code`."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        if field is None:
            super().__init__(message, code=code.value)
        else:
            super().__init__({field: [ValidationError(message, code=code.value)]})
            self.code = code.value
        self.error_code = code


class AccessDenied(PermissionDenied):
    """The actor may not do this (PERMISSION_DENIED) or is not signed in (UNAUTHENTICATED)."""

    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.PERMISSION_DENIED) -> None:
        super().__init__(message)
        self.code = code.value
        self.error_code = code


class NotFound(ObjectDoesNotExist):
    """Unknown ID, or one the actor may not see: both answer NOT_FOUND so IDs can't be probed."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)
        self.code = ErrorCode.NOT_FOUND.value
        self.error_code = ErrorCode.NOT_FOUND
