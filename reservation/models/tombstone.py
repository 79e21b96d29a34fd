from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class Tombstone(models.Model):
    """A hard-deleted object, kept as (type, id, when, who could see it) so that a client
    syncing with `updatedSince` learns that its copy must go. Written by the audit hook in
    the transaction of the deletion; cancellations are not tombstones (the row stays, with
    its status)."""

    subject_type = models.CharField(max_length=64)  # the API's type name: Event, TimeOff
    subject_id = models.BigIntegerField()
    deleted_at = models.DateTimeField()
    visible_to = ArrayField(models.BigIntegerField())

    class Meta:
        ordering = ["deleted_at", "id"]
        indexes = [
            GinIndex(fields=["visible_to"], name="tombstone_visible_to"),
            models.Index(fields=["deleted_at"], name="tombstone_deleted_at"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id} deleted {self.deleted_at.isoformat()}"
