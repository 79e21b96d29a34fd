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
from .external_calendar import (
    CalendarConnection,
    CalendarWriteback,
    ConnectionKind,
    ExternalBusy,
    ExternalCalendar,
    ExternalObject,
    SyncState,
    WritebackState,
)
from .notification import Notification
from .persisted_query import PersistedQuery
from .policy import BookingPolicy
from .profiles import Client, Provider
from .reservation import Reservation, ReservationStatus
from .token import ApiToken, TokenScope
from .tombstone import Tombstone
from .user import FreeBusySharing, User
from .webhook import Webhook, WebhookAttempt, WebhookDelivery, WebhookEventType

__all__ = [
    "ApiToken",
    "AuditEntry",
    "AvailabilityWindow",
    "BookingPolicy",
    "CalendarConnection",
    "CalendarFeed",
    "CalendarWriteback",
    "CandidateSlot",
    "Channel",
    "ChannelAddress",
    "Client",
    "CoachAssignment",
    "ConnectionKind",
    "Event",
    "EventAccessToken",
    "EventStatus",
    "ExternalBusy",
    "ExternalCalendar",
    "ExternalObject",
    "FreeBusySharing",
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
    "SyncState",
    "TimeOff",
    "TokenScope",
    "Tombstone",
    "User",
    "Vote",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEventType",
    "WorkingHours",
    "WritebackState",
]
