from django.db import models


class PersistedQuery(models.Model):
    """A GraphQL document registered by the SHA-256 (hex) of its exact text; with
    GRAPHQL_PERSISTED_ONLY on, only these are executed. Loaded by
    `manage.py persisted_queries_load`, which verifies every hash."""

    sha256 = models.CharField(primary_key=True, max_length=64)
    document = models.TextField()
    name = models.CharField(max_length=200, blank=True, help_text="The operation's name.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "sha256"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"),
                name="persisted_query_sha256_hex",
                violation_error_code="INVALID_INPUT",
            ),
            models.CheckConstraint(
                condition=~models.Q(document=""),
                name="persisted_query_document_not_empty",
                violation_error_code="INVALID_INPUT",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'anonymous'} ({self.sha256[:12]}…)"
