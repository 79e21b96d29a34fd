"""Reads of registered (persisted) GraphQL operations."""

from reservation.models import PersistedQuery


def persisted_document(*, sha256: str) -> str | None:
    """The document registered under this SHA-256, or None."""
    return PersistedQuery.objects.filter(sha256=sha256).values_list("document", flat=True).first()
