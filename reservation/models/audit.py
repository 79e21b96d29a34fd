from django.db import models


class AuditEntry(models.Model):
    """One state change or access, written in the transaction of the action it records.

    Entries outlive their subjects (no foreign key to the subject) and their actors
    (SET_NULL), so deleting something never erases its history.
    """

    class ActorKind(models.TextChoices):
        USER = "USER"
        TOKEN = "TOKEN"
        SYSTEM = "SYSTEM"

    at = models.DateTimeField(db_index=True)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    # The actors are indexed only where set (Meta.indexes): the system's entries (a million
    # at once from the expiry sweep) have none, and need no entry in three indexes each.
    actor_user = models.ForeignKey(
        "reservation.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    actor_token = models.ForeignKey(
        "reservation.ApiToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    actor_access_token = models.ForeignKey(
        "reservation.EventAccessToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    action = models.CharField(max_length=64)
    subject_type = models.CharField(max_length=64)
    subject_id = models.BigIntegerField()
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "at"], name="audit_subject_at"),
            models.Index(
                fields=["actor_user"],
                condition=models.Q(actor_user__isnull=False),
                name="audit_actor_user",
            ),
            models.Index(
                fields=["actor_token"],
                condition=models.Q(actor_token__isnull=False),
                name="audit_actor_token",
            ),
            models.Index(
                fields=["actor_access_token"],
                condition=models.Q(actor_access_token__isnull=False),
                name="audit_actor_access_token",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at.isoformat()} {self.action} {self.subject_type}:{self.subject_id}"
