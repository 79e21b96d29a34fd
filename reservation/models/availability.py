from django.contrib.postgres.constraints import ExclusionConstraint
from django.db import models

from ._fields import OVERLAPS, SAME, Int8Equality, TsTzRange


class AvailabilityWindow(models.Model):
    """An explicit period a provider offers for booking. Windows of one provider never overlap:
    the service merges overlapping and touching ones, the constraint backs it."""

    provider = models.ForeignKey(
        "reservation.Provider", on_delete=models.CASCADE, related_name="windows"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["provider", "end"], name="window_provider_end")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="window_end_after_start"
            ),
            ExclusionConstraint(
                name="window_no_overlap",
                expressions=[
                    (Int8Equality("provider_id"), SAME),
                    (TsTzRange("start", "end"), OVERLAPS),
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.start.isoformat()} – {self.end.isoformat()}"


class WorkingHours(models.Model):
    """A weekly recurring shift of a person, in their own time zone (User.time_zone).

    `end <= start` means the shift ends on the next day. Serves providers' availability and,
    for everyone, working hours.
    """

    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    user = models.ForeignKey(
        "reservation.User", on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start", "id"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="working_hours_weekday"
            ),
            models.CheckConstraint(
                condition=~models.Q(start=models.F("end")), name="working_hours_not_empty"
            ),
            models.UniqueConstraint(
                fields=["user", "weekday", "start"], name="working_hours_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class TimeOff(models.Model):
    """A period a person is not available, whatever their windows and working hours say."""

    user = models.ForeignKey("reservation.User", on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "id"]
        verbose_name_plural = "time off"
        indexes = [models.Index(fields=["user", "end"], name="time_off_user_end")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="time_off_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.start.isoformat()} – {self.end.isoformat()}"
