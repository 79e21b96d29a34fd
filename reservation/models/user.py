from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from reservation.timezones import validate_time_zone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)  # None -> unusable password
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class FreeBusySharing(models.TextChoices):
    """Who may ask for a person's free/busy time (freeTime) besides themselves."""

    CONTACTS = "CONTACTS", "People I share an event or a booking with"
    EVERYONE = "EVERYONE", "Every signed-in user"
    NOBODY = "NOBODY", "Nobody"


class User(AbstractBaseUser, PermissionsMixin):
    """A person, identified by e-mail address (stored lower-case, unique)."""

    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=200, blank=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA time zone, e.g. Europe/Berlin: used for working hours and display.",
    )
    free_busy_sharing = models.CharField(
        max_length=8,
        choices=FreeBusySharing.choices,
        default=FreeBusySharing.CONTACTS,
        help_text="Who may see when this person is free or busy (freeTime).",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="user_email_lowercase"
            ),
            models.CheckConstraint(
                condition=models.Q(free_busy_sharing__in=FreeBusySharing.values),
                name="user_free_busy_sharing_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.email
