from django.db import models


class Notification(models.Model):
    """One e-mail to one person, recorded before it is sent and updated by the job that sends
    it: the outbox row that makes every send visible and every retry idempotent."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SENT = "SENT", "Sent"
        # An attempt failed and the job will try again (tasks.MAIL_RETRY).
        RETRYING = "RETRYING", "Retrying"
        # Given up: the retries are used up, or the mail can no longer be sent (its link).
        FAILED = "FAILED", "Failed"

    class Kind(models.TextChoices):
        EVENT_INVITATION = "EVENT_INVITATION", "Event invitation"
        EVENT_SCHEDULED = "EVENT_SCHEDULED", "Event scheduled"
        EVENT_CANCELLED = "EVENT_CANCELLED", "Event cancelled"
        RESERVATION_CONFIRMED = "RESERVATION_CONFIRMED", "Reservation confirmed"
        RESERVATION_CANCELLED = "RESERVATION_CANCELLED", "Reservation cancelled"
        RESERVATION_RESCHEDULED = "RESERVATION_RESCHEDULED", "Reservation rescheduled"
        RESERVATION_EXPIRED = "RESERVATION_EXPIRED", "Reservation expired"
        WEBHOOK_DISABLED = "WEBHOOK_DISABLED", "Webhook disabled"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    recipient = models.ForeignKey(
        "reservation.User", on_delete=models.CASCADE, related_name="notifications"
    )
    # Event and access token: indexed only where set (Meta.indexes); reservation mails (all
    # of the expiry sweep's) have neither.
    event = models.ForeignKey(
        "reservation.Event",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        db_index=False,
    )
    reservation = models.ForeignKey(
        "reservation.Reservation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    access_token = models.ForeignKey(
        "reservation.EventAccessToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        db_index=False,
    )
    occurrence_start = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Event mails about one occurrence: its original start (the RECURRENCE-ID).",
    )
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="notification_status"),
            models.Index(
                fields=["event"],
                condition=models.Q(event__isnull=False),
                name="notification_event",
            ),
            models.Index(
                fields=["access_token"],
                condition=models.Q(access_token__isnull=False),
                name="notification_access_token",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="SENT") | models.Q(sent_at__isnull=False),
                name="notification_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} [{self.status}]"
