"""Reminders: `{offset, channel}` on an event, delivered to each participant who has not
declined, as a Procrastinate job scheduled for `occurrence start - offset`.

One ReminderDelivery row per (reminder, recipient, occurrence) is the outbox: it is written,
and its job deferred, in the caller's transaction, so a rolled-back change of the event
schedules nothing and a committed one always does. Only the next occurrence of each reminder
is scheduled; sending one (its first attempt) schedules the one after (a chain), so a rule
that repeats forever never needs more than one waiting job per reminder and person.

Moving or cancelling the event cancels the waiting deliveries (row CANCELLED and its job
cancelled in Procrastinate). The job also checks the row when it runs, so a job that could not
be cancelled (already picked up by a worker) sends nothing for a CANCELLED row.
"""

import json
import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from procrastinate import jobs, manager
from procrastinate.contrib.django.django_connector import DjangoConnector

from reservation import channels, recurrence
from reservation.actors import Actor
from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import (
    Channel,
    ChannelAddress,
    Event,
    EventStatus,
    Participant,
    Reminder,
    ReminderDelivery,
    User,
)

logger = logging.getLogger(__name__)

MAX_OFFSET_MINUTES = 50 * 24 * 60
MAX_REMINDERS_PER_EVENT = 10
# How far ahead the next occurrence is looked for, window by window: a yearly rule needs a
# year, a rule whose next occurrence is further out than this gets no reminder.
_HORIZONS = (timedelta(days=62), timedelta(days=400), timedelta(days=5 * 366))
_MAX_CHOICES = 50  # occurrences looked at per reminder (per window) for the next free one

Status = ReminderDelivery.Status
_WAITING = (Status.SCHEDULED, Status.FAILED)

# Jobs are written through Django's connection of the calling thread, in the web process and
# in the worker alike (see services.notifications._outbox): a delivery chained by the worker
# commits or rolls back with its row, and a cancel rolls back with the change that caused it.
_jobs = manager.JobManager(DjangoConnector())


# --- Scheduling (called inside the caller's transaction) ----------------------------------


# (offset minutes, channel) or (offset minutes, channel, offset days).
ReminderSpec = tuple[int, str] | tuple[int, str, int]
MAX_OFFSET_DAYS = 50


def due_at(*, occurrence_start: datetime, days: int, minutes: int, tz: ZoneInfo) -> datetime:
    """When a reminder for an occurrence is due, as TRIGGER:-PnDTnM means it (RFC 5545 3.3.6):
    `days` in calendar time in the event's zone (the same wall-clock time n days earlier; a
    time that does not exist then moves forward by the gap), then `minutes` of elapsed time."""
    if days:
        local = occurrence_start.astimezone(tz).replace(tzinfo=None) - timedelta(days=days)
        occurrence_start = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return occurrence_start - timedelta(minutes=minutes)


def _validated(reminders: Sequence[ReminderSpec]) -> list[tuple[int, str, int]]:
    """The (offset minutes, channel, offset days) triples, de-duplicated in order;
    INVALID_INPUT on `reminders`."""
    if len(reminders) > MAX_REMINDERS_PER_EVENT:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"At most {MAX_REMINDERS_PER_EVENT} reminders per event.",
            field="reminders",
        )
    seen: dict[tuple[int, str, int], None] = {}
    for reminder in reminders:
        offset, channel = reminder[0], reminder[1]
        days = reminder[2] if len(reminder) > 2 else 0
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_OFFSET_DAYS:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"offsetDays must be 0..{MAX_OFFSET_DAYS}, got {days!r}.",
                field="reminders",
            )
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise DomainError(
                ErrorCode.INVALID_INPUT, "offset must be whole minutes.", field="reminders"
            )
        if not 0 <= offset <= MAX_OFFSET_MINUTES:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"offset must be 0..{MAX_OFFSET_MINUTES} minutes (50 days), got {offset}.",
                field="reminders",
            )
        if channel not in Channel.values:
            raise DomainError(
                ErrorCode.INVALID_INPUT, f"Unknown channel {channel!r}.", field="reminders"
            )
        seen[(offset, str(channel), days)] = None
    return list(seen)


def reminders_replace(
    *, event: Event, reminders: Sequence[ReminderSpec], now: datetime
) -> list[Reminder]:
    """Replace the event's reminders with `reminders` ((offset minutes, channel[, offset
    days]), minutes 0..50 days, days 0..50; INVALID_INPUT otherwise) and reschedule their
    deliveries. Runs in the caller's transaction; a reminder kept unchanged keeps its
    delivery history."""
    wanted = _validated(reminders)
    existing = {
        (r.offset_minutes, r.channel, r.offset_days): r
        for r in Reminder.objects.filter(event=event)
    }
    gone = [r.pk for key, r in existing.items() if key not in wanted]
    if gone:
        _cancel(ReminderDelivery.objects.filter(reminder_id__in=gone))
        Reminder.objects.filter(pk__in=gone).delete()
    try:
        Reminder.objects.bulk_create(
            Reminder(event=event, offset_minutes=offset, channel=channel, offset_days=days)
            for offset, channel, days in wanted
            if (offset, channel, days) not in existing
        )
    except IntegrityError as exc:  # a concurrent replace of the same event without a lock
        raise DomainError(
            ErrorCode.INVALID_INPUT, "The reminders changed meanwhile; try again."
        ) from exc
    reminders_reschedule(event=event, now=now)
    return list(
        Reminder.objects.filter(event=event).order_by("offset_days", "offset_minutes", "channel")
    )


def reminders_reschedule(*, event: Event, now: datetime) -> int:
    """Cancel the event's waiting deliveries, then schedule, per reminder and per participant
    who has not declined, the delivery for the next occurrence whose due time (start -
    offset) is not past. Call after any change of the event's time, rule, occurrences,
    participants or status (caller's transaction). Returns how many deliveries it scheduled."""
    _cancel(ReminderDelivery.objects.filter(reminder__event=event))
    return _schedule(event=event, now=now)


def reminders_cancel(*, event: Event, now: datetime) -> int:
    """Cancel every waiting delivery of the event (it was cancelled or deleted); returns how
    many. Deliveries already sent, or failed for good, stay as they are (caller's
    transaction)."""
    return _cancel(ReminderDelivery.objects.filter(reminder__event=event))


def _cancel(deliveries: QuerySet[ReminderDelivery]) -> int:
    """Mark waiting deliveries CANCELLED and cancel their jobs. A FAILED delivery counts as
    waiting only while its job still waits for a retry; one whose retries are used up stays
    FAILED, visible to the organizer."""
    rows = list(
        deliveries.select_for_update(of=("self",))
        .filter(status__in=_WAITING)
        .order_by("pk")
        .only("pk", "status", "job_id")
    )
    cancelled = []
    for delivery in rows:
        job_cancelled = delivery.job_id is not None and _jobs.cancel_job_by_id(delivery.job_id)
        if delivery.status == Status.SCHEDULED or job_cancelled:
            cancelled.append(delivery.pk)
    if cancelled:
        ReminderDelivery.objects.filter(pk__in=cancelled).update(status=Status.CANCELLED)
    return len(cancelled)


def _recipients(event: Event, channel: str) -> list[User]:
    """Participants who have not declined, with an address on `channel` (e-mail: everyone)."""
    participants = Participant.objects.filter(event=event).exclude(rsvp=Participant.Rsvp.NO)
    users = User.objects.filter(pk__in=participants.values("user_id"), is_active=True)
    if channel != Channel.EMAIL:
        users = users.filter(channel_addresses__channel=channel)
    return list(users.order_by("pk"))


def _upcoming(event: Event, *, earliest: datetime) -> Iterable[datetime]:
    """Occurrence starts of the event at or after `earliest`, in order, window by window."""
    if event.status != EventStatus.SCHEDULED or event.start is None or event.end is None:
        return
    if not event.recurrence:
        if event.start >= earliest:
            yield event.start
        return
    changes = [
        recurrence.OccurrenceChange(
            original_start=change.original_start,
            cancelled=change.cancelled,
            new_start=change.start,
            new_end=change.end,
        )
        for change in event.occurrence_changes.all()
    ]
    low = earliest
    for horizon in _HORIZONS:
        high = earliest + horizon
        try:
            occurrences = recurrence.expand(
                rule=event.recurrence or None,
                start=event.start,
                end=event.end,
                tz=ZoneInfo(event.time_zone),
                window_start=low,
                window_end=high,
                changes=changes,
            )
        except ValueError:
            logger.exception("event %s: cannot expand its recurrence", event.pk)
            return
        for start, _end, _original in occurrences:
            if low <= start < high:
                yield start
        low = high


def _schedule(*, event: Event, now: datetime, after: ReminderDelivery | None = None) -> int:
    """Schedule each reminder's next delivery per recipient: the first occurrence whose due
    time is not past and that has no live delivery yet. With `after` (a delivery being sent),
    only that reminder's and recipient's next one, for an occurrence after it."""
    if event.status != EventStatus.SCHEDULED:
        return 0
    pending: list[ReminderDelivery] = []
    reminders = Reminder.objects.filter(event=event).order_by("pk")
    if after is not None:
        reminders = reminders.filter(pk=after.reminder_id)
    for reminder in reminders:
        recipients = _recipients(event, reminder.channel)
        if after is not None:
            recipients = [user for user in recipients if user.pk == after.recipient_id]
        if not recipients:
            continue
        tz = ZoneInfo(event.time_zone)

        def due(start: datetime, reminder: Reminder = reminder, tz: ZoneInfo = tz) -> datetime:
            return due_at(
                occurrence_start=start,
                days=reminder.offset_days,
                minutes=reminder.offset_minutes,
                tz=tz,
            )

        # Calendar days are at most a few hours off elapsed days: look a day early, then skip
        # the occurrences whose reminder is already due.
        offset = timedelta(days=max(reminder.offset_days - 1, 0), minutes=reminder.offset_minutes)
        live = set(
            ReminderDelivery.objects.filter(reminder=reminder)
            .exclude(status=Status.CANCELLED)
            .values_list("recipient_id", "occurrence_start")
        )
        todo = {user.pk: user for user in recipients}
        for looked, start in enumerate(_upcoming(event, earliest=now + offset)):
            if not todo or looked >= _MAX_CHOICES:
                break
            if after is not None and start <= after.occurrence_start:
                continue
            if due(start) < now:
                continue
            for user_id in list(todo):
                if (user_id, start) in live:
                    continue
                pending.append(
                    ReminderDelivery(
                        reminder=reminder,
                        recipient=todo.pop(user_id),
                        occurrence_start=start,
                        due_at=due(start),
                        created_at=now,
                    )
                )
    if not pending:
        return 0
    created = ReminderDelivery.objects.bulk_create(pending)
    for delivery in created:
        delivery.job_id = _defer(delivery)
    ReminderDelivery.objects.bulk_update(created, ["job_id"])
    return len(created)


def _defer(delivery: ReminderDelivery) -> int:
    """The delivery's job, due at its due time, on the caller's connection."""
    from reservation.tasks import send_reminder  # tasks import services: import late

    job = send_reminder.configure(schedule_at=delivery.due_at).job
    return jobs.JobDeferrer(job_manager=_jobs, job=job).defer(delivery_id=delivery.pk)


# --- Sending (the job) ----------------------------------------------------------------------


def _text(delivery: ReminderDelivery) -> str:
    event = delivery.reminder.event
    zone = ZoneInfo(delivery.recipient.time_zone or event.time_zone)
    local = delivery.occurrence_start.astimezone(zone)
    return (
        f"Reminder: {event.title} starts {local:%Y-%m-%d %H:%M} ({zone.key}).\n"
        f"{settings.PUBLIC_BASE_URL}/e/{event.pk}/"
    )


def _payload(delivery: ReminderDelivery) -> dict[str, object]:
    """The webhook's JSON body."""
    event = delivery.reminder.event
    duration = event.end - event.start if event.start and event.end else timedelta(0)
    return {
        "type": "event.reminder",
        "delivery_id": delivery.pk,
        "event": {"id": event.pk, "title": event.title, "time_zone": event.time_zone},
        "occurrence": {
            "start": delivery.occurrence_start.isoformat(),
            "end": (delivery.occurrence_start + duration).isoformat(),
        },
        "offset_minutes": delivery.reminder.offset_minutes,
        "offset_days": delivery.reminder.offset_days,
        "text": _text(delivery),
    }


def _deliver(delivery: ReminderDelivery, *, now: datetime) -> None:
    """Send over the reminder's channel; raises on any failure."""
    channel = delivery.reminder.channel
    recipient = delivery.recipient
    if channel == Channel.EMAIL:
        channels.send_email(
            to=recipient.email,
            subject=f"Reminder: {delivery.reminder.event.title}",
            body=_text(delivery),
            message_id=f"<reminder-{delivery.pk}@{settings.MAIL_DOMAIN}>",
        )
        return
    address = ChannelAddress.objects.filter(user=recipient, channel=channel).first()
    if address is None:
        raise channels.ChannelError(f"{recipient} has no {channel} address.")
    if channel == Channel.WEBHOOK:
        body = json.dumps(_payload(delivery), separators=(",", ":")).encode()
        channels.send_webhook(url=address.address, secret=address.secret, body=body, now=now)
    elif channel == Channel.SLACK:
        channels.send_slack(url=address.address, text=_text(delivery))
    elif channel == Channel.TELEGRAM:
        channels.send_telegram(chat_id=address.address, text=_text(delivery))
    elif channel == Channel.SMS:
        channels.send_sms(to=address.address, text=_text(delivery))
    else:  # pragma: no cover - the choices are closed
        raise channels.ChannelError(f"Unknown channel {channel}.")


def reminder_send(*, delivery_id: int, now: datetime) -> str:
    """Send one delivery unless it was sent or cancelled, and record the attempt: SENT with
    `sent_at`, or FAILED with `last_error`; `attempts` counts both. The first attempt also
    schedules the same reminder's next occurrence (recurring events). Returns the new status,
    or "skipped". A failure is recorded, then re-raised so that the job is retried with
    backoff (tasks.REMINDER_RETRY); once the retries are used up the row stays FAILED.

    The row is locked for the send, so a move of the event waits for it and then sees SENT;
    and a job whose row was CANCELLED meanwhile sends nothing.
    """
    with transaction.atomic():
        delivery = (
            ReminderDelivery.objects.select_for_update(of=("self",))
            .select_related("reminder__event", "recipient")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status not in _WAITING:
            return "skipped"
        event = delivery.reminder.event
        if event.status != EventStatus.SCHEDULED:
            delivery.status = Status.CANCELLED
            delivery.save(update_fields=["status"])
            return "skipped"
        if delivery.attempts == 0:  # the chain: the next occurrence's delivery
            _schedule(event=event, now=now, after=delivery)
        delivery.attempts += 1
        try:
            _deliver(delivery, now=now)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, then retried
            delivery.status = Status.FAILED
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            delivery.save(update_fields=["status", "attempts", "last_error"])
            failure = exc
        else:
            delivery.status = Status.SENT
            delivery.sent_at = now
            delivery.last_error = ""
            delivery.save(update_fields=["status", "attempts", "sent_at", "last_error"])
            return delivery.status
    raise failure


# --- Actions (own transaction) --------------------------------------------------------------


def event_reminders_set(
    *, actor: Actor, event_id: int, reminders: Sequence[ReminderSpec], now: datetime
) -> list[Reminder]:
    """Replace an event's reminders (its organizer only) and reschedule them."""
    user = actor.require_user()
    with transaction.atomic(durable=True):
        event = Event.objects.select_for_update(of=("self",)).filter(pk=event_id).first()
        if event is None:
            raise NotFound("No such event.")
        _require_event_organizer(user=user, event=event)
        return reminders_replace(event=event, reminders=reminders, now=now)


def _require_event_organizer(*, user: User, event: Event) -> None:
    is_organizer = Participant.objects.filter(
        event=event, user=user, role=Participant.Role.ORGANIZER
    ).exists()
    if not is_organizer:
        if not Participant.objects.filter(event=event, user=user).exists():
            raise NotFound("No such event.")
        raise AccessDenied("Only the organizer can do this.")


# Telegram: a numeric chat id (negative for groups) or a public @username (5-32 characters).
_TELEGRAM_CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31}")
# SMS: E.164, "+" then 8 to 15 digits, the first not 0.
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def _validate_address(channel: str, address: str) -> str:
    """The address, stripped, or INVALID_INPUT on `address` (`channel` for e-mail). A
    webhook/Slack URL must pass channels.check_user_url (https, a host, no userinfo, no
    private address), the same checks its sends make again."""
    address = address.strip()
    if channel in (Channel.WEBHOOK, Channel.SLACK):
        try:
            channels.check_user_url(address)
        except channels.ChannelError as exc:
            raise DomainError(
                ErrorCode.INVALID_INPUT, f"Not a usable {channel} URL: {exc}", field="address"
            ) from exc
        return address
    if channel == Channel.TELEGRAM:
        ok, expected = _TELEGRAM_CHAT.fullmatch(address), "a chat id (digits) or @username"
    elif channel == Channel.SMS:
        ok, expected = _E164.fullmatch(address), "a phone number as +<8 to 15 digits>"
    else:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "E-mail reminders go to the account's address.",
            field="channel",
        )
    if not ok:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"Not a valid {channel} address: expected {expected}.",
            field="address",
        )
    return address


def channel_address_set(
    *, actor: Actor, channel: str, address: str, secret: str = ""
) -> ChannelAddress:
    """Set the signed-in person's address on a channel (replacing any). A webhook without a
    secret gets a random one, returned on the row."""
    user = actor.require_user()
    if channel not in Channel.values:
        raise DomainError(ErrorCode.INVALID_INPUT, "Unknown channel.", field="channel")
    address = _validate_address(channel, address)
    secret = secret.strip()
    if len(secret) > 200:
        raise DomainError(ErrorCode.INVALID_INPUT, "secret is too long.", field="secret")
    if channel == Channel.WEBHOOK and not secret:
        secret = secrets.token_urlsafe(32)
    if channel != Channel.WEBHOOK:
        secret = ""
    with transaction.atomic(durable=True):
        row, _ = ChannelAddress.objects.update_or_create(
            user=user, channel=channel, defaults={"address": address, "secret": secret}
        )
    return row


def channel_address_delete(*, actor: Actor, channel: str) -> int:
    """Remove the signed-in person's address on a channel; returns how many (0 or 1).
    Deliveries already scheduled to it fail when due (no address), visible to the organizer."""
    user = actor.require_user()
    deleted, _ = ChannelAddress.objects.filter(user=user, channel=channel).delete()
    return deleted
