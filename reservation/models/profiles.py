from django.db import models


class Provider(models.Model):
    """Someone clients book time with (a coach, doctor, tutor). Created by staff."""

    user = models.OneToOneField(
        "reservation.User", on_delete=models.PROTECT, related_name="provider"
    )
    display_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.display_name or self.user.email

    @property
    def time_zone(self) -> str:
        """The provider's IANA zone is their user's zone: one place for it."""
        return self.user.time_zone


class Client(models.Model):
    """Someone who books providers' time."""

    user = models.OneToOneField("reservation.User", on_delete=models.PROTECT, related_name="client")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.user.email
