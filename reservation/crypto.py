"""Secrets that must be read back (a CalDAV password), encrypted at rest with Fernet
(AES-128-CBC + HMAC-SHA256, from `cryptography`). MultiFernet encrypts with the first key of
CALENDAR_CREDENTIAL_KEYS and decrypts with any, which is how a key is rotated."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class UnreadableSecret(Exception):
    """A stored secret that none of the configured keys opens (a key was removed)."""


def _keys() -> list[Fernet]:
    configured = settings.CALENDAR_CREDENTIAL_KEYS
    if not configured:
        # A stable default derived from SECRET_KEY, so a developer needs no extra setting.
        digest = hashlib.sha256(b"rendezvous-calendar-credentials:" + settings.SECRET_KEY.encode())
        return [Fernet(base64.urlsafe_b64encode(digest.digest()))]
    try:
        return [Fernet(key) for key in configured]
    except ValueError as exc:
        raise ImproperlyConfigured(
            "CALENDAR_CREDENTIAL_KEYS must be Fernet keys (32 url-safe base64-encoded bytes: "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')"
        ) from exc


def encrypt(plain: str) -> str:
    return MultiFernet(_keys()).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return MultiFernet(_keys()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecret("no configured key opens this secret") from exc


def rotate(token: str) -> str:
    """The same secret, encrypted with the current (first) key."""
    try:
        return MultiFernet(_keys()).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecret("no configured key opens this secret") from exc
