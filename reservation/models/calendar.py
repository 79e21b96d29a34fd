from django.db import models


class Channel(models.TextChoices):
    """How a reminder reaches a person."""

    EMAIL = "EMAIL", "E-mail"
    WEBHOOK = "WEBHOOK", "Webhook"
    SLACK = "SLACK", "Slack"
    TELEGRAM = "TELEGRAM", "Telegram"
    SMS = "SMS", "SMS"


class OccurrenceChange(models.Model):
    """One occurrence of a recurring event, cancelled or moved. `original_start` is the start
    the rule generates (UTC); a moved occurrence has its own start and end."""

    event = models.ForeignKey(
        "reservation.Event", on_delete=models.CASCADE, related_name="occurrence_changes"
    )
    original_start = models.DateTimeField()
    cancelled = models.BooleanField(default=False)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event", "original_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "original_start"], name="occurrence_change_once"
            ),
            models.CheckConstraint(
                condition=models.Q(cancelled=True, start__isnull=True, end__isnull=True)
                | models.Q(
                    cancelled=False,
                    start__isnull=False,
                    end__isnull=False,
                    end__gt=models.F("start"),
                ),
                name="occurrence_change_cancelled_or_moved",
            ),
        ]

    def __str__(self) -> str:
        what = "cancelled" if self.cancelled else f"moved to {self.start}"
        return f"event {self.event_id} @ {self.original_start}: {what}"


class Reminder(models.Model):
    """Remind every participant `offset_days` and `offset_minutes` before each occurrence, over
    `channel`, as iCalendar's TRIGGER:-PnDTnM means it: days in calendar time (the same
    wall-clock time n days earlier in the event's zone), then minutes of elapsed time."""

    event = models.ForeignKey(
        "reservation.Event", on_delete=models.CASCADE, related_name="reminders"
    )
    offset_days = models.PositiveIntegerField(default=0)
    offset_minutes = models.PositiveIntegerField()
    channel = models.CharField(max_length=16, choices=Channel.choices)

    class Meta:
        ordering = ["event", "offset_days", "offset_minutes", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "offset_days", "offset_minutes", "channel"], name="reminder_once"
            ),
            models.CheckConstraint(
                condition=models.Q(offset_minutes__lte=50 * 24 * 60),
                name="reminder_offset_at_most_50_days",
            ),
            models.CheckConstraint(
                condition=models.Q(offset_days__lte=50), name="reminder_days_at_most_50"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.channel} {self.offset_days} d {self.offset_minutes} min before event "
            f"{self.event_id}"
        )


class ChannelAddress(models.Model):
    """Where a person receives reminders on a channel: a webhook URL (with its signing
    secret), a Slack incoming-webhook URL, a Telegram chat id, or a phone number. E-mail
    uses the account's address."""

    user = models.ForeignKey(
        "reservation.User", on_delete=models.CASCADE, related_name="channel_addresses"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    address = models.CharField(max_length=1000)
    secret = models.CharField(
        max_length=200, blank=True, help_text="Webhooks: the HMAC-SHA256 signing key."
    )

    class Meta:
        ordering = ["user", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["user", "channel"], name="channel_address_once"),
            models.CheckConstraint(
                condition=~models.Q(channel="EMAIL"), name="channel_address_not_email"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.channel}"


class ReminderDelivery(models.Model):
    """One reminder for one occurrence to one person: scheduled as a job for `due_at`,
    then sent or failed (attempts and last error visible to the organizer)."""

    class Status(models.TextChoices):
        SCHEDULED = "SCHEDULED", "Scheduled"
        SENT = "SENT", "Sent"
        FAILED = "FAILED", "Failed"
        CANCELLED = "CANCELLED", "Cancelled"

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(
        "reservation.User", on_delete=models.CASCADE, related_name="reminder_deliveries"
    )
    occurrence_start = models.DateTimeField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    job_id = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"], name="reminder_delivery_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["reminder", "recipient", "occurrence_start"],
                condition=~models.Q(status="CANCELLED"),
                name="reminder_delivery_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reminder} to {self.recipient} for {self.occurrence_start} [{self.status}]"


class CalendarFeed(models.Model):
    """A private, revocable iCalendar feed URL of one person (/calendar/<secret>.ics): only
    the SHA-256 digest of the secret is stored."""

    user = models.ForeignKey(
        "reservation.User", on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"calendar feed {self.pk} of {self.user}"
