"""Seed 002's relationships and public names: which clients a provider coaches, the
providers' public slugs (with their history, so old links keep working), and recurring
series of reservations."""

from django.db import models


class ProviderSlug(models.Model):
    """A provider's public name in URLs (/book/c/<slug>/). Slugs are never reused: a renamed
    provider keeps the old rows (is_current false), so old links redirect to the new one."""

    provider = models.ForeignKey(
        "reservation.Provider", on_delete=models.CASCADE, related_name="slugs"
    )
    slug = models.SlugField(max_length=60, unique=True)
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider"],
                condition=models.Q(is_current=True),
                name="provider_slug_one_current",
            ),
            models.CheckConstraint(
                condition=models.Q(slug__regex=r"^[a-z0-9]+(-[a-z0-9]+)*$"),
                name="provider_slug_format",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class CoachAssignment(models.Model):
    """Seed 002's Staff_client_relationship: this client is coached by this provider.

    A trigger (migration 0007) keeps it valid: the provider and the client's user are active,
    and nobody coaches themselves."""

    provider = models.ForeignKey(
        "reservation.Provider", on_delete=models.CASCADE, related_name="assignments"
    )
    client = models.ForeignKey(
        "reservation.Client", on_delete=models.CASCADE, related_name="assignments"
    )
    assigned_by = models.ForeignKey(
        "reservation.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "client"], name="assignment_unique"),
        ]
        indexes = [models.Index(fields=["client"], name="assignment_client")]

    def __str__(self) -> str:
        return f"{self.provider} coaches {self.client}"


class ReservationSeries(models.Model):
    """ "This slot every N weeks, M times", booked as one action; its reservations are rows of
    SeriesMember."""

    provider = models.ForeignKey(
        "reservation.Provider", on_delete=models.PROTECT, related_name="series"
    )
    client = models.ForeignKey(
        "reservation.Client", on_delete=models.PROTECT, related_name="series"
    )
    every_weeks = models.PositiveSmallIntegerField()
    count = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "reservation series"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(every_weeks__gte=1, every_weeks__lte=12),
                name="series_every_weeks_range",
            ),
            models.CheckConstraint(
                condition=models.Q(count__gte=2, count__lte=52), name="series_count_range"
            ),
        ]

    def __str__(self) -> str:
        return f"series {self.pk}: every {self.every_weeks} weeks × {self.count}"


class SeriesMember(models.Model):
    """One occurrence of a series that was booked (occurrences not booked have no row)."""

    series = models.ForeignKey(ReservationSeries, on_delete=models.CASCADE, related_name="members")
    reservation = models.OneToOneField(
        "reservation.Reservation", on_delete=models.CASCADE, related_name="series_member"
    )
    index = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["series", "index"]
        constraints = [
            models.UniqueConstraint(fields=["series", "index"], name="series_member_index"),
        ]

    def __str__(self) -> str:
        return f"{self.series_id}#{self.index}"
