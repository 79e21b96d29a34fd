"""Private calendar feeds: a secret URL per feed (/calendar/<secret>.ics) that calendar apps
subscribe to. Only the SHA-256 digest of the secret is stored; the secret is shown once, at
creation. Creating and revoking are audited; reading a feed is not (apps poll it)."""

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.db import transaction

from reservation.actors import Actor, utcnow
from reservation.errors import NotFound
from reservation.models import CalendarFeed
from reservation.services.audit import audit_record

FEED_PREFIX = "rdvc_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def calendar_feed_url(*, secret: str) -> str:
    """The address a calendar app subscribes to."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/calendar/{secret}.ics"


def calendar_feed_create(*, actor: Actor, now: datetime | None = None) -> tuple[CalendarFeed, str]:
    """A new feed of the acting user's calendar; returns (feed, secret). The secret is not
    stored and cannot be shown again."""
    now = now or utcnow()
    user = actor.require_user()
    secret = FEED_PREFIX + secrets.token_urlsafe(32)  # 256 bits
    with transaction.atomic(durable=True):
        feed = CalendarFeed.objects.create(user=user, digest=_digest(secret), created_at=now)
        audit_record(
            actor=actor,
            action="calendar_feed.create",
            subject=feed,
            changes={"created_at": now},
            at=now,
        )
    return feed, secret


def calendar_feed_revoke(
    *, actor: Actor, feed_id: int, now: datetime | None = None
) -> CalendarFeed:
    """Revoke one of the acting user's feeds (idempotent): its URL answers 404 from now on."""
    now = now or utcnow()
    user = actor.require_user()
    with transaction.atomic(durable=True):
        feed = CalendarFeed.objects.select_for_update().filter(pk=feed_id, user=user).first()
        if feed is None:
            raise NotFound("No such calendar feed.")
        if feed.revoked_at is None:
            feed.revoked_at = now
            feed.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action="calendar_feed.revoke",
                subject=feed,
                changes={"revoked_at": now},
                at=now,
            )
    return feed


def calendar_feed_authenticate(*, secret: str) -> CalendarFeed | None:
    """The unrevoked feed of an active user for this secret, or None."""
    if not secret.startswith(FEED_PREFIX):
        return None
    return (
        CalendarFeed.objects.select_related("user")
        .filter(digest=_digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
