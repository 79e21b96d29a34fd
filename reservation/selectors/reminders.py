"""Reads for reminders: a person's channel addresses, an event's reminders and deliveries
(the organizer's view of what was sent, what failed and why)."""

from django.db.models import QuerySet

from reservation.errors import AccessDenied, NotFound
from reservation.models import ChannelAddress, Event, Participant, Reminder, ReminderDelivery, User


def channel_addresses_of(*, user: User) -> QuerySet[ChannelAddress]:
    """The user's channel addresses, by channel (at most one per channel)."""
    return ChannelAddress.objects.filter(user=user).order_by("channel")


def organized_event(*, user: User, event_id: int) -> Event:
    """The event if `user` organizes it; NOT_FOUND if they are not on it (or it does not
    exist), PERMISSION_DENIED if they are a party."""
    role = (
        Participant.objects.filter(event_id=event_id, user=user)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise NotFound("No such event.")
    if role != Participant.Role.ORGANIZER:
        raise AccessDenied("Only the organizer can see the reminders.")
    return Event.objects.get(pk=event_id)


def event_reminders(*, user: User, event_id: int) -> QuerySet[Reminder]:
    """The event's reminders, by offset (organizer only, as `organized_event`)."""
    event = organized_event(user=user, event_id=event_id)
    return Reminder.objects.filter(event=event).order_by("offset_minutes", "channel")


def event_reminder_deliveries(*, user: User, event_id: int) -> QuerySet[ReminderDelivery]:
    """The event's deliveries, latest due first (organizer only, as `organized_event`)."""
    event = organized_event(user=user, event_id=event_id)
    return ReminderDelivery.objects.filter(reminder__event=event).order_by("-due_at", "-id")
