from datetime import timedelta

from django.db import models


class BookingPolicy(models.Model):
    """Business rules for booking, edited in the admin.

    The row without a provider is the global default; a row with a provider overrides it
    entirely for that provider. Durations are whole minutes.
    """

    provider = models.OneToOneField(
        "reservation.Provider",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="policy",
        help_text="Empty: the global default.",
    )
    slot_length_minutes = models.PositiveIntegerField(default=60)
    step_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Between slot starts; empty means the slot length."
    )
    min_notice_minutes = models.PositiveIntegerField(default=24 * 60)
    horizon_days = models.PositiveIntegerField(default=60)
    hold_minutes = models.PositiveIntegerField(default=30)
    buffer_before_minutes = models.PositiveIntegerField(default=0)
    buffer_after_minutes = models.PositiveIntegerField(default=0)
    max_active_holds = models.PositiveIntegerField(
        default=3, help_text="Unconfirmed holds one client may have at once."
    )
    restrict_to_assigned_clients = models.BooleanField(
        default=False, help_text="Only clients assigned to the provider may book them."
    )
    past_weeks_visible = models.PositiveIntegerField(
        default=8, help_text="How many weeks back a client may list their past appointments."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "booking policies"
        constraints = [
            models.UniqueConstraint(
                fields=["provider"], nulls_distinct=False, name="policy_one_per_provider"
            ),
            models.CheckConstraint(
                condition=models.Q(slot_length_minutes__gte=5, slot_length_minutes__lte=24 * 60),
                name="policy_slot_length_range",
            ),
            models.CheckConstraint(
                condition=models.Q(step_minutes__isnull=True)
                | models.Q(step_minutes__gte=5, step_minutes__lte=24 * 60),
                name="policy_step_range",
            ),
            models.CheckConstraint(
                condition=models.Q(horizon_days__gte=1, horizon_days__lte=366),
                name="policy_horizon_range",
            ),
            models.CheckConstraint(
                condition=models.Q(hold_minutes__gte=1, hold_minutes__lte=24 * 60),
                name="policy_hold_range",
            ),
            models.CheckConstraint(
                condition=models.Q(max_active_holds__gte=1), name="policy_max_holds_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(past_weeks_visible__lte=520), name="policy_past_weeks_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Policy for {self.provider}" if self.provider_id else "Default policy"

    @property
    def slot_length(self) -> timedelta:
        return timedelta(minutes=self.slot_length_minutes)

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=self.step_minutes or self.slot_length_minutes)

    @property
    def min_notice(self) -> timedelta:
        return timedelta(minutes=self.min_notice_minutes)

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=self.horizon_days)

    @property
    def hold_time(self) -> timedelta:
        return timedelta(minutes=self.hold_minutes)

    @property
    def buffer_before(self) -> timedelta:
        return timedelta(minutes=self.buffer_before_minutes)

    @property
    def past_visible(self) -> timedelta:
        return timedelta(weeks=self.past_weeks_visible)

    @property
    def buffer_after(self) -> timedelta:
        return timedelta(minutes=self.buffer_after_minutes)
