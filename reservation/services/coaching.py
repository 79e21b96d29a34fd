"""Writes for seed 002's relationships: assigning clients to their coach, a provider's public
slug, and a person's display time zone. Each is one transaction with its audit entry."""

import re
from datetime import datetime

from django.db import IntegrityError, transaction

from reservation.actors import Actor, utcnow
from reservation.errors import DomainError, ErrorCode, NotFound
from reservation.models import Client, CoachAssignment, Provider, ProviderSlug, User
from reservation.services.audit import audit_record
from reservation.timezones import is_time_zone

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
SLUG_MAX = 60


def _managed_provider(actor: Actor, provider_id: int) -> Provider:
    """The provider themselves, or staff, may manage a provider's clients and slug."""
    user = actor.require_user()
    provider = Provider.objects.select_related("user").filter(pk=provider_id).first()
    if provider is None or not (user.is_staff or provider.user_id == user.pk):
        raise NotFound("No such provider.")
    if not provider.is_active:
        raise NotFound("No such provider.")
    return provider


def _parties_inactive(exc: IntegrityError) -> DomainError:
    if "assignment_parties_active" in str(exc):
        return DomainError(
            ErrorCode.INVALID_INPUT,
            "Only an active client who is not the coach themselves can be assigned.",
            field="clientId",
        )
    raise exc


def client_assign(
    *, actor: Actor, provider_id: int, client_id: int, now: datetime | None = None
) -> CoachAssignment:
    """Make `provider` the client's coach (by the provider or staff). Assigning twice is
    harmless. The database refuses inactive parties (trigger `assignment_parties_active`)."""
    now = now or utcnow()
    provider = _managed_provider(actor, provider_id)
    client = Client.objects.select_related("user").filter(pk=client_id).first()
    if client is None or not client.user.is_active:
        raise NotFound("No such client.")
    existing = CoachAssignment.objects.filter(provider=provider, client=client).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic(durable=True):
            assignment = CoachAssignment.objects.create(
                provider=provider, client=client, assigned_by=actor.user, created_at=now
            )
            audit_record(
                actor=actor,
                action="assignment.create",
                subject=provider,
                changes={"client": client.pk},
                at=now,
            )
    except IntegrityError as exc:
        if "assignment_unique" in str(exc):  # assigned concurrently: the same outcome
            return CoachAssignment.objects.get(provider=provider, client=client)
        raise _parties_inactive(exc) from exc
    return assignment


def client_unassign(
    *, actor: Actor, provider_id: int, client_id: int, now: datetime | None = None
) -> bool:
    """End the coaching relationship (by the provider or staff); False when there was none.
    Existing bookings stay."""
    now = now or utcnow()
    provider = _managed_provider(actor, provider_id)
    with transaction.atomic(durable=True):
        deleted, _ = CoachAssignment.objects.filter(provider=provider, client_id=client_id).delete()
        if deleted:
            audit_record(
                actor=actor,
                action="assignment.delete",
                subject=provider,
                changes={"client": client_id},
                at=now,
            )
    return bool(deleted)


def provider_slug_set(
    *, actor: Actor, provider_id: int, slug: str, now: datetime | None = None
) -> ProviderSlug:
    """Give the provider a new public slug (by the provider or staff). Old slugs stay theirs
    and redirect; taking back an old one of their own makes it current again; another
    provider's slug, current or old, is SLUG_TAKEN."""
    now = now or utcnow()
    provider = _managed_provider(actor, provider_id)
    slug = slug.strip().lower()
    if not (2 <= len(slug) <= SLUG_MAX and SLUG_RE.match(slug)):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"A slug is 2–{SLUG_MAX} lower-case letters, digits and single hyphens, e.g. "
            "anna-berg.",
            field="slug",
        )
    try:
        with transaction.atomic(durable=True):
            Provider.objects.select_for_update(of=("self",)).filter(pk=provider.pk).first()
            rows = list(ProviderSlug.objects.select_for_update().filter(provider=provider))
            current = next((row for row in rows if row.is_current), None)
            if current is not None and current.slug == slug:
                return current
            mine = next((row for row in rows if row.slug == slug), None)
            if mine is None and ProviderSlug.objects.filter(slug=slug).exists():
                raise DomainError(ErrorCode.SLUG_TAKEN, "That address is taken.", field="slug")
            ProviderSlug.objects.filter(provider=provider, is_current=True).update(is_current=False)
            if mine is None:
                mine = ProviderSlug.objects.create(
                    provider=provider, slug=slug, is_current=True, created_at=now
                )
            else:
                mine.is_current = True
                mine.save(update_fields=["is_current"])
            audit_record(
                actor=actor,
                action="provider.slug",
                subject=provider,
                changes={"slug": [current.slug if current else None, slug]},
                at=now,
            )
    except IntegrityError as exc:
        if "providerslug_slug" in str(exc) or "slug_key" in str(exc):
            raise DomainError(ErrorCode.SLUG_TAKEN, "That address is taken.", field="slug") from exc
        raise
    return mine


def user_time_zone_set(*, actor: Actor, time_zone: str, now: datetime | None = None) -> User:
    """Change the acting person's IANA zone (how times are shown to them, and their working
    hours' zone if they are a provider)."""
    now = now or utcnow()
    user = actor.require_user()
    if not is_time_zone(time_zone):
        raise DomainError(
            ErrorCode.INVALID_TIME_ZONE,
            f"{time_zone!r} is not a time zone name such as Europe/Berlin.",
            field="timeZone",
        )
    if user.time_zone == time_zone:
        return user
    with transaction.atomic(durable=True):
        before = user.time_zone
        User.objects.filter(pk=user.pk).update(time_zone=time_zone)
        user.time_zone = time_zone
        audit_record(
            actor=actor,
            action="user.time_zone",
            subject=user,
            changes={"time_zone": [before, time_zone]},
            at=now,
        )
    return user
