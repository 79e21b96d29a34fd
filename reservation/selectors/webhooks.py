"""Reading webhooks and their delivery logs: each user sees their own only."""

from django.db.models import Prefetch, QuerySet

from reservation.errors import NotFound
from reservation.models import User, Webhook, WebhookAttempt, WebhookDelivery


def webhooks_of(*, user: User) -> QuerySet[Webhook]:
    """The user's webhooks, newest first (disabled ones included)."""
    return Webhook.objects.filter(owner=user).order_by("-id")


def webhook_deliveries_of(*, user: User, webhook_id: int) -> QuerySet[WebhookDelivery]:
    """The delivery log of one of the user's webhooks, newest first, each with its attempts;
    NOT_FOUND for someone else's webhook, as for one that does not exist."""
    if not Webhook.objects.filter(pk=webhook_id, owner=user).exists():
        raise NotFound("No such webhook.")
    return (
        WebhookDelivery.objects.filter(webhook_id=webhook_id)
        .order_by("-id")
        .prefetch_related(
            Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))
        )
    )
