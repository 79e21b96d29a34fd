from .audit import AuditEntry
from .availability import AvailabilityWindow, TimeOff, WorkingHours
from .calendar import (
    CalendarFeed,
    Channel,
    ChannelAddress,
    OccurrenceChange,
    Reminder,
    ReminderDelivery,
)
from .coaching import CoachAssignment, ProviderSlug, ReservationSeries, SeriesMember
from .event import CandidateSlot, Event, EventAccessToken, EventStatus, Participant, Vote
from .notification import Notification
from .persisted_query import PersistedQuery
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
    "CalendarFeed",
    "CandidateSlot",
    "Channel",
    "ChannelAddress",
    "Client",
    "CoachAssignment",
    "Event",
    "EventAccessToken",
    "EventStatus",
    "Notification",
    "OccurrenceChange",
    "Participant",
    "PersistedQuery",
    "Provider",
    "ProviderSlug",
    "Reminder",
    "ReminderDelivery",
    "Reservation",
    "ReservationSeries",
    "ReservationStatus",
    "SeriesMember",
    "TimeOff",
    "User",
    "Vote",
    "WorkingHours",
]
