from django.contrib.postgres.constraints import ExclusionConstraint
from django.db import models

from ._fields import OVERLAPS, SAME, Int8Equality, TsTzRange


class ReservationStatus(models.TextChoices):
    HELD = "HELD", "Held"
    CONFIRMED = "CONFIRMED", "Confirmed"
    CANCELLED = "CANCELLED", "Cancelled"
    EXPIRED = "EXPIRED", "Expired"


ACTIVE_STATUSES = (ReservationStatus.HELD, ReservationStatus.CONFIRMED)


class Reservation(models.Model):
    """A client's booking of a provider's time: held, then confirmed (or cancelled/expired).

    A HELD row blocks its time only until `expires_at`; services turn late holds into EXPIRED
    under the provider's lock before checking, so the exclusion constraint below (which cannot
    see the clock) only ever meets live rows.
    """

    # No index of their own: (provider, start) and (client, start) below lead with them. Every
    # index is written again for each new row version (an expiry, a confirmation: status is in
    # the partial indexes' predicates, so no update is HOT), so none is kept that adds nothing.
    provider = models.ForeignKey(
        "reservation.Provider",
        on_delete=models.PROTECT,
        related_name="reservations",
        db_index=False,
    )
    client = models.ForeignKey(
        "reservation.Client", on_delete=models.PROTECT, related_name="reservations", db_index=False
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.HELD
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(  # indexed where set (Meta.indexes)
        "reservation.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    cancel_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["provider", "start"], name="reservation_provider_start"),
            models.Index(fields=["client", "start"], name="reservation_client_start"),
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="HELD"),
                name="reservation_held_expiry",
            ),
            # The expiry sweep walks the HELD rows in id order, resuming after its last batch.
            models.Index(
                fields=["id"],
                include=["expires_at"],
                condition=models.Q(status="HELD"),
                name="reservation_held_sweep",
            ),
            # For deleting a user (SET_NULL): only the rows that have one.
            models.Index(
                fields=["cancelled_by"],
                condition=models.Q(cancelled_by__isnull=False),
                name="reservation_cancelled_by",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="reservation_end_after_start"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="HELD") | models.Q(expires_at__isnull=False),
                name="reservation_hold_expires",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ReservationStatus.values),
                name="reservation_status_valid",
            ),
            models.UniqueConstraint(
                fields=["client", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="reservation_idempotency_key",
            ),
            ExclusionConstraint(
                name="reservation_no_overlap",
                expressions=[
                    (Int8Equality("provider_id"), SAME),
                    (TsTzRange("start", "end"), OVERLAPS),
                ],
                condition=models.Q(status__in=["HELD", "CONFIRMED"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} ← {self.client} {self.start.isoformat()} [{self.status}]"
