from django.db import models


class TokenScope(models.TextChoices):
    """What a personal API token may do."""

    READ_ONLY = "READ_ONLY", "Read only"
    FULL = "FULL", "Full access"


class ApiToken(models.Model):
    """A personal API token: only its SHA-256 digest is stored; the secret is shown once."""

    user = models.ForeignKey(
        "reservation.User", on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(
        max_length=16,
        choices=TokenScope.choices,
        default=TokenScope.FULL,
        help_text="READ_ONLY tokens run queries only; FULL tokens act as their user.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=TokenScope.values), name="apitoken_scope_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
