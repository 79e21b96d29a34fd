from django.contrib.postgres.fields import ArrayField
from django.db import models


class WebhookEventType(models.TextChoices):
    """What a webhook can subscribe to; the value is the envelope's `type`."""

    RESERVATION_CREATED = "reservation.created", "Reservation created"
    RESERVATION_CONFIRMED = "reservation.confirmed", "Reservation confirmed"
    RESERVATION_CANCELLED = "reservation.cancelled", "Reservation cancelled"
    RESERVATION_RESCHEDULED = "reservation.rescheduled", "Reservation rescheduled"
    RESERVATION_EXPIRED = "reservation.expired", "Reservation expired"
    EVENT_PROPOSED = "event.proposed", "Event proposed"
    EVENT_NARROWED = "event.narrowed", "Event narrowed"
    EVENT_EXTENDED = "event.extended", "Event extended"
    EVENT_AGREED = "event.agreed", "Event agreed"
    EVENT_CANCELLED = "event.cancelled", "Event cancelled"
    RSVP_ANSWERED = "rsvp.answered", "RSVP answered"


class Webhook(models.Model):
    """A URL that hears about changes its owner may see (a staff member's global webhook hears
    about every change), signed with its secret. Disabled automatically after a run of
    failed deliveries; the owner is mailed then."""

    owner = models.ForeignKey("reservation.User", on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=1000)
    # Kept in clear: every delivery is signed with it (HMAC), like reminder webhooks.
    secret = models.CharField(max_length=200)
    events = ArrayField(models.CharField(max_length=40, choices=WebhookEventType.choices))
    is_global = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(events__len__gt=0), name="webhook_events_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(is_active=True, disabled_at__isnull=True)
                | models.Q(is_active=False),
                name="webhook_active_not_disabled",
            ),
        ]
        indexes = [
            models.Index(fields=["id"], condition=models.Q(is_active=True), name="webhook_active"),
        ]

    def __str__(self) -> str:
        return f"webhook {self.pk} of user {self.owner_id}: {self.url}"


class WebhookDelivery(models.Model):
    """One change to tell one webhook about: queued in the transaction of the change (with its
    job), its envelope frozen at the first attempt, so retries send the same body."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        DELIVERED = "DELIVERED", "Delivered"
        FAILED = "FAILED", "Failed"
        SKIPPED = "SKIPPED", "Skipped"  # the owner can no longer see the object

    # No index of its own: the unique (webhook, audit entry) and (webhook, -id) lead with it.
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # The audit entry recording the change: one change, one event id for every webhook.
    audit_entry_id = models.BigIntegerField()
    event_type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    subject_type = models.CharField(max_length=64)
    subject_id = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "audit_entry_id"], name="webhook_delivery_once_per_change"
            ),
        ]
        indexes = [models.Index(fields=["webhook", "-id"], name="webhook_delivery_latest")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} to webhook {self.webhook_id}: {self.status}"

    @property
    def event_id(self) -> str:
        return f"evt_{self.audit_entry_id}"


class WebhookAttempt(models.Model):
    """One POST of a delivery and how it went: the delivery log."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
