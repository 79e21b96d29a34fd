from .audit import AuditEntry
from .availability import AvailabilityWindow, TimeOff, WorkingHours
from .policy import BookingPolicy
from .profiles import Client, Provider
from .reservation import Reservation, ReservationStatus
from .token import ApiToken
from .user import User

__all__ = [
    "ApiToken",
    "AuditEntry",
    "AvailabilityWindow",
    "BookingPolicy",
    "Client",
    "Provider",
    "Reservation",
    "ReservationStatus",
    "TimeOff",
    "User",
    "WorkingHours",
]
