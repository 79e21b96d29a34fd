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
from .event import CandidateSlot, Event, EventAccessToken, EventStatus, Participant, Vote
from .notification import Notification
from .persisted_query import PersistedQuery
from .policy import BookingPolicy
from .profiles import Client, Provider
from .reservation import Reservation, ReservationStatus
from .token import ApiToken
from .tombstone import Tombstone
from .user import User
from .webhook import Webhook, WebhookAttempt, WebhookDelivery, WebhookEventType

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
    "Event",
    "EventAccessToken",
    "EventStatus",
    "Notification",
    "OccurrenceChange",
    "Participant",
    "PersistedQuery",
    "Provider",
    "Reminder",
    "ReminderDelivery",
    "Reservation",
    "ReservationStatus",
    "TimeOff",
    "Tombstone",
    "User",
    "Vote",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEventType",
    "WorkingHours",
]
