"""Webhook subscriptions: create, update, delete; emit a delivery for every audited change a
webhook subscribes to (in the transaction of that change: the delivery row and its job are
the outbox); deliver it, signed, through the reminders' guarded channel; log each attempt;
disable a webhook after a run of failures and mail its owner.

Emission hangs off the audit write (services.audit), which every service already makes in
the transaction of each change, so no service needs to know about webhooks. On the write path
it costs one indexed SELECT of the active webhooks subscribed to the change's type, and
nothing more while none is: no delivery row, no job.
"""

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from procrastinate import jobs

from reservation import channels
from reservation.actors import Actor, utcnow
from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import (
    AuditEntry,
    Event,
    Notification,
    Participant,
    Reservation,
    User,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEventType,
)

# Audit action -> webhook event type. Every change a webhook can hear about is audited.
ACTION_EVENTS: dict[str, str] = {
    "reservation.create": WebhookEventType.RESERVATION_CREATED,
    "reservation.confirm": WebhookEventType.RESERVATION_CONFIRMED,
    "reservation.cancel": WebhookEventType.RESERVATION_CANCELLED,
    "reservation.reschedule": WebhookEventType.RESERVATION_RESCHEDULED,
    "reservation.expire": WebhookEventType.RESERVATION_EXPIRED,
    "event.propose": WebhookEventType.EVENT_PROPOSED,
    "event.narrow": WebhookEventType.EVENT_NARROWED,
    "event.extend": WebhookEventType.EVENT_EXTENDED,
    "event.agree": WebhookEventType.EVENT_AGREED,
    "event.cancel": WebhookEventType.EVENT_CANCELLED,
    "event.respond": WebhookEventType.RSVP_ANSWERED,
}
ENVELOPE_VERSION = 1
MAX_WEBHOOKS_PER_USER = 20
MAX_SECRET_LENGTH = 200
MIN_SECRET_LENGTH = 16


def disable_after() -> int:
    """Consecutive failed attempts after which a webhook is switched off."""
    return int(getattr(settings, "WEBHOOK_DISABLE_AFTER_FAILURES", 15))


# --- managing webhooks ---------------------------------------------------------------------


def _validate(
    *, url: str | None, events: Sequence[str] | None, secret: str | None
) -> tuple[str | None, list[str] | None, str | None]:
    if url is not None:
        url = url.strip()
        try:
            channels.check_user_url(url)
        except channels.ChannelError as exc:
            raise DomainError(
                ErrorCode.INVALID_INPUT, f"Not a usable webhook URL: {exc}", field="url"
            ) from exc
    if events is not None:
        known = set(WebhookEventType.values)
        unknown = sorted(set(events) - known)
        if unknown or not events:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"Unknown event types: {', '.join(unknown)}." if unknown else "Pick an event.",
                field="events",
            )
        events = sorted(set(events))
    if secret is not None and not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"The secret must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters.",
            field="secret",
        )
    return url, events, secret


def webhook_create(
    *,
    actor: Actor,
    url: str,
    events: Sequence[str],
    secret: str | None = None,
    is_global: bool = False,
    now: datetime | None = None,
) -> Webhook:
    """A webhook of the acting user (a global one, hearing every change: staff only); without
    a secret one is generated (the caller shows it once)."""
    from reservation.services.audit import audit_record

    now = now or utcnow()
    user = actor.require_user()
    if is_global and not actor.is_staff:
        raise AccessDenied("Only staff create global webhooks.")
    url, clean_events, secret = _validate(url=url, events=events, secret=secret)
    with transaction.atomic(durable=True):
        User.objects.select_for_update().filter(pk=user.pk).first()  # count under a lock
        if Webhook.objects.filter(owner=user).count() >= MAX_WEBHOOKS_PER_USER:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"At most {MAX_WEBHOOKS_PER_USER} webhooks per user.",
                field="url",
            )
        webhook = Webhook.objects.create(
            owner=user,
            url=url,
            secret=secret or "whsec_" + secrets.token_urlsafe(32),
            events=clean_events,
            is_global=is_global,
            created_at=now,
            updated_at=now,
        )
        audit_record(
            actor=actor,
            action="webhook.create",
            subject=webhook,
            changes={"url": url, "events": clean_events, "is_global": is_global},
            at=now,
        )
    return webhook


def _own(user: User, webhook_id: int) -> Webhook:
    webhook = Webhook.objects.select_for_update().filter(pk=webhook_id, owner=user).first()
    if webhook is None:
        raise NotFound("No such webhook.")
    return webhook


def webhook_update(
    *,
    actor: Actor,
    webhook_id: int,
    url: str | None = None,
    events: Sequence[str] | None = None,
    secret: str | None = None,
    active: bool | None = None,
    now: datetime | None = None,
) -> Webhook:
    """Change one of the acting user's webhooks; `active=True` switches a disabled one back on
    (and forgets its failures)."""
    from reservation.services.audit import audit_record

    now = now or utcnow()
    user = actor.require_user()
    url, clean_events, secret = _validate(url=url, events=events, secret=secret)
    with transaction.atomic(durable=True):
        webhook = _own(user, webhook_id)
        changes: dict[str, object] = {}
        if url is not None and url != webhook.url:
            changes["url"] = [webhook.url, url]
            webhook.url = url
        if clean_events is not None and clean_events != webhook.events:
            changes["events"] = [webhook.events, clean_events]
            webhook.events = clean_events
        if secret is not None:
            changes["secret"] = "changed"
            webhook.secret = secret
        if active is not None and active != webhook.is_active:
            changes["is_active"] = [webhook.is_active, active]
            webhook.is_active = active
            webhook.disabled_at = None if active else now
            webhook.consecutive_failures = 0
        if changes:
            webhook.updated_at = now
            webhook.save()
            audit_record(
                actor=actor, action="webhook.update", subject=webhook, changes=changes, at=now
            )
    return webhook


def webhook_delete(*, actor: Actor, webhook_id: int, now: datetime | None = None) -> int:
    """Delete one of the acting user's webhooks with its delivery log; returns its id.
    Deliveries still queued find nothing and are dropped."""
    from reservation.services.audit import audit_record

    now = now or utcnow()
    user = actor.require_user()
    with transaction.atomic(durable=True):
        webhook = _own(user, webhook_id)
        audit_record(
            actor=actor,
            action="webhook.delete",
            subject=webhook,
            changes={"url": webhook.url},
            at=now,
        )
        webhook.delete()
    return webhook_id


def webhook_redeliver(
    *, actor: Actor, delivery_id: int, now: datetime | None = None
) -> WebhookDelivery:
    """Queue one delivery of the acting user's webhooks again, with the same envelope (same
    event id, so a receiver that has it can tell); the webhook must be active."""
    now = now or utcnow()
    user = actor.require_user()
    with transaction.atomic(durable=True):
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("webhook")
            .filter(pk=delivery_id, webhook__owner=user)
            .first()
        )
        if delivery is None:
            raise NotFound("No such webhook delivery.")
        if not delivery.webhook.is_active:
            raise DomainError(
                ErrorCode.WEBHOOK_DISABLED,
                "The webhook is disabled; switch it on (webhookUpdate) first.",
                field="id",
            )
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.delivered_at = None
        delivery.save(update_fields=["status", "delivered_at"])
        _defer([delivery.pk])
    return delivery


# --- emitting ------------------------------------------------------------------------------


def _defer(delivery_ids: Sequence[int]) -> None:
    """One job per delivery, one statement, on the caller's connection (see notifications)."""
    from reservation.services.notifications import _outbox
    from reservation.tasks import deliver_webhook  # tasks import services: import late

    if delivery_ids:
        deferrer = jobs.JobDeferrer(job_manager=_outbox, job=deliver_webhook.configure().job)
        deferrer.batch_defer(*({"delivery_id": pk} for pk in delivery_ids))


def _audiences(entries: Sequence[AuditEntry]) -> dict[tuple[str, int], set[int]]:
    """Who may see each subject (user ids): a reservation's client and provider, an event's
    organizer and parties. Staff see everything, but only global webhooks say so."""
    by_type: dict[str, set[int]] = {}
    for entry in entries:
        by_type.setdefault(entry.subject_type, set()).add(entry.subject_id)
    seen: dict[tuple[str, int], set[int]] = {}
    ids = by_type.get("reservation")
    if ids:
        rows = Reservation.objects.filter(pk__in=ids).values_list(
            "pk", "client__user_id", "provider__user_id"
        )
        for pk, client, provider in rows:
            seen[("reservation", pk)] = {client, provider}
    ids = by_type.get("event")
    if ids:
        for pk, organizer in Event.objects.filter(pk__in=ids).values_list("pk", "organizer_id"):
            seen[("event", pk)] = {organizer}
        parties = Participant.objects.filter(event_id__in=ids).values_list("event_id", "user_id")
        for pk, user_id in parties:
            seen.setdefault(("event", pk), set()).add(user_id)
    return seen


def webhooks_emit(entries: Sequence[AuditEntry]) -> list[WebhookDelivery]:
    """Queue a delivery (row + job) for every active webhook subscribed to each audited change
    whose owner may see its subject; runs in the caller's transaction."""
    relevant = [e for e in entries if e.action in ACTION_EVENTS]
    if not relevant:
        return []
    types = sorted({ACTION_EVENTS[e.action] for e in relevant})
    hooks = list(
        Webhook.objects.filter(is_active=True, events__overlap=types)
        .order_by("pk")
        .values_list("pk", "owner_id", "is_global", "events")
    )
    if not hooks:
        return []
    audiences = _audiences(relevant) if any(not g for _, _, g, _ in hooks) else {}
    pending = []
    for entry in relevant:
        event_type = ACTION_EVENTS[entry.action]
        audience = audiences.get((entry.subject_type, entry.subject_id), set())
        for pk, owner_id, is_global, events in hooks:
            if event_type in events and (is_global or owner_id in audience):
                pending.append(
                    WebhookDelivery(
                        webhook_id=pk,
                        audit_entry_id=entry.pk,
                        event_type=event_type,
                        subject_type=entry.subject_type,
                        subject_id=entry.subject_id,
                        occurred_at=entry.at,
                        created_at=entry.at,
                    )
                )
    if not pending:
        return []
    created = WebhookDelivery.objects.bulk_create(pending)
    _defer([d.pk for d in created])
    return created


# --- delivering ----------------------------------------------------------------------------

# (subject_type, subject_id, owner) -> the object as the API shows it to the owner, or None
# when the owner may not see it (any more). The API layer provides it (api.webhooks.render).
Renderer = Callable[[str, int, User], dict[str, object] | None]


@dataclass(frozen=True)
class Outcome:
    """What a delivery run did: DELIVERED, FAILED (will retry), GAVE_UP, SKIPPED, or GONE."""

    result: str
    error: str = ""


def _envelope(delivery: WebhookDelivery, data: dict[str, object]) -> str:
    return json.dumps(
        {
            "id": delivery.event_id,
            "type": delivery.event_type,
            "occurredAt": delivery.occurred_at.isoformat().replace("+00:00", "Z"),
            "version": ENVELOPE_VERSION,
            "webhookId": delivery.webhook_id,
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _count_failure(webhook: Webhook, now: datetime) -> bool:
    """Add one to the webhook's run of failures (one atomic UPDATE: deliveries to the same
    webhook run in parallel and do not lock it); switch it off when the run is long enough,
    mailing its owner once. True if it is off now."""
    from reservation.services.notifications import notification_enqueue

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE reservation_webhook SET consecutive_failures = consecutive_failures + 1 "
            "WHERE id = %s RETURNING consecutive_failures",
            [webhook.pk],
        )
        row = cursor.fetchone()
    failures = row[0] if row else 0
    if failures < disable_after():
        return False
    switched_off = Webhook.objects.filter(pk=webhook.pk, is_active=True).update(
        is_active=False, disabled_at=now, updated_at=now
    )
    if switched_off:  # this run did it: the owner hears once
        notification_enqueue(
            kind=Notification.Kind.WEBHOOK_DISABLED,
            recipient=webhook.owner,
            subject=f"Webhook disabled: {webhook.url}",
            body=(
                f"Your webhook {webhook.url} failed {failures} deliveries in a row and has "
                "been switched off; nothing more is sent to it.\n\n"
                "Fix the receiver, then switch the webhook back on (webhookUpdate with "
                "active: true) and redeliver what it missed (webhookDeliveries, "
                "webhookRedeliver).\n"
            ),
            now=now,
        )
    return True


def webhook_deliver(*, delivery_id: int, render: Renderer, now: datetime | None = None) -> Outcome:
    """Send one delivery (idempotent: one already DELIVERED or SKIPPED is not sent again),
    logging the attempt. The delivery's row stays locked while it is sent, so a stalled job's
    retry waits instead of sending twice; its webhook is not locked, so deliveries to one
    webhook go out in parallel. A failure counts against the webhook (switched off after
    `disable_after()` in a row, owner mailed); the caller raises for a retry on FAILED."""
    now = now or utcnow()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("webhook__owner")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return Outcome("GONE")  # its webhook was deleted
        if delivery.status in (WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.SKIPPED):
            return Outcome(delivery.status)
        webhook = delivery.webhook
        if not webhook.is_active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.save(update_fields=["status"])
            return Outcome("GAVE_UP", "webhook disabled")
        if not delivery.body:
            data = render(delivery.subject_type, delivery.subject_id, webhook.owner)
            if data is None:
                delivery.status = WebhookDelivery.Status.SKIPPED
                delivery.save(update_fields=["status"])
                return Outcome("SKIPPED")
            delivery.body = _envelope(delivery, data)
        delivery.attempts += 1
        started = time.perf_counter()
        status_code: int | None = None
        error = ""
        try:
            status_code = channels.send_webhook(
                url=webhook.url, secret=webhook.secret, body=delivery.body.encode(), now=now
            )
        except channels.ChannelError as exc:
            error = str(exc)[:1000]
            status_code = _status_of(error)
        duration_ms = round((time.perf_counter() - started) * 1000)
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            at=now,
            status_code=status_code,
            duration_ms=duration_ms,
            error=error,
        )
        if not error:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.save(update_fields=["status", "delivered_at", "attempts", "body"])
            if webhook.consecutive_failures:  # as read: a cheap no-op while all goes well
                Webhook.objects.filter(pk=webhook.pk).update(consecutive_failures=0)
            return Outcome("DELIVERED")
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.save(update_fields=["status", "attempts", "body"])
        if _count_failure(webhook, now):
            return Outcome("GAVE_UP", error)
        return Outcome("FAILED", error)


def _status_of(error: str) -> int | None:
    """The HTTP status in a ChannelError's message ("HTTP 503 ..."), if the server answered."""
    if error.startswith("HTTP "):
        code = error[5:8]
        if code.isdigit():
            return int(code)
    return None
