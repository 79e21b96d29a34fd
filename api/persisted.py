"""Persisted operations: documents registered by the SHA-256 of their text.

A request names one by Apollo's `extensions.persistedQuery.sha256Hash` (or a top-level
`documentId`, optionally `sha256:`-prefixed), with or without the document itself:

- hash only: the registered document runs; an unknown hash is PERSISTED_QUERY_NOT_FOUND
  (Apollo clients then retry with the document, which runs unless in allowlist mode —
  nothing is ever registered by a request);
- hash and document: the hash must be the document's (else PERSISTED_QUERY_HASH_MISMATCH);
- document only: runs, unless GRAPHQL_PERSISTED_ONLY is on and its hash is not registered:
  PERSISTED_QUERY_NOT_ALLOWED.

Registration is `manage.py persisted_queries_load <file.json>` only.
"""

import hashlib
import re
from collections import OrderedDict
from threading import Lock
from typing import Any

from django.conf import settings
from strawberry.http import GraphQLRequestData

from reservation.selectors.persisted import persisted_document

HASH = re.compile(r"[0-9a-f]{64}")
_CACHE_SIZE = 1000
_cache: OrderedDict[str, str] = OrderedDict()  # hash -> document: immutable, safe to keep
_lock = Lock()


class PersistedQueryError(Exception):
    """The request's operation is refused; answered as a GraphQL error with `code`."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def document_hash(document: str) -> str:
    """The registration key of a document: SHA-256 of its exact UTF-8 text, in hex."""
    return hashlib.sha256(document.encode()).hexdigest()


def registered_document(sha256: str) -> str | None:
    """The document registered under `sha256`, or None (found ones are cached per process)."""
    with _lock:
        if sha256 in _cache:
            _cache.move_to_end(sha256)
            return _cache[sha256]
    document = persisted_document(sha256=sha256)
    if document is not None:
        with _lock:
            _cache[sha256] = document
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return document


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _requested_hash(data: GraphQLRequestData, raw: dict[str, Any] | None) -> str | None:
    extensions = data.extensions or {}
    persisted = extensions.get("persistedQuery")
    if isinstance(persisted, dict) and persisted.get("sha256Hash") is not None:
        value = persisted["sha256Hash"]
    elif raw is not None and raw.get("documentId") is not None:
        value = raw["documentId"]
    else:
        return None
    value = str(value).removeprefix("sha256:").lower()
    if not HASH.fullmatch(value):
        raise PersistedQueryError(
            "PERSISTED_QUERY_NOT_FOUND", "No operation is registered under that hash.", 200
        )
    return value


def resolve(data: GraphQLRequestData, raw: dict[str, Any] | None = None) -> GraphQLRequestData:
    """The request with its document filled in from the registry, or PersistedQueryError."""
    sha256 = _requested_hash(data, raw)
    if sha256 is not None:
        if data.query:
            if document_hash(data.query) != sha256:
                raise PersistedQueryError(
                    "PERSISTED_QUERY_HASH_MISMATCH",
                    "The hash is not the SHA-256 of the document sent.",
                    400,
                )
        else:
            document = registered_document(sha256)
            if document is None:
                raise PersistedQueryError(
                    "PERSISTED_QUERY_NOT_FOUND", "No operation is registered under that hash.", 200
                )
            data.query = document
            return data
    if (
        settings.GRAPHQL_PERSISTED_ONLY
        and data.query is not None
        and registered_document(sha256 or document_hash(data.query)) is None
    ):
        raise PersistedQueryError(
            "PERSISTED_QUERY_NOT_ALLOWED", "This server only runs registered operations.", 400
        )
    return data
