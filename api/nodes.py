"""The Relay root fields `node(id:)` and `nodes(ids:)`, with the permissions of each type.

strawberry's own `node` field fetches any ID with no visibility check (anyone could read any
reservation or user by guessing IDs). Here each Node type says who may see one of its objects,
through the very selector or service its own query uses; an object the asker may not see is
`null`, exactly like an ID that never existed (or a malformed one), so IDs cannot be probed.
"""

from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model
from strawberry import relay

from api.context import Info, actor_of
from api.ids import split_id
from reservation import models
from reservation.actors import Actor
from reservation.errors import DomainError, ErrorCode
from reservation.selectors import accounts as account_selectors
from reservation.selectors import booking as booking_selectors
from reservation.selectors import events as event_selectors
from reservation.selectors import external_calendars as connection_selectors
from reservation.selectors import feeds as feed_selectors
from reservation.selectors import reminders as reminder_selectors
from reservation.selectors import reservations as reservation_selectors
from reservation.selectors import webhooks as webhook_selectors
from reservation.services import events

MAX_NODES = 100

# GraphQL type name of an audited subject -> the audit log's subject type (as in auditLog)
_AUDITED = {"reservation", "provider", "user", "apitoken"}


def _user(actor: Actor, pk: int) -> Model | None:
    # Like `me`: a user is refetched by themself.
    user = actor.require_user()
    return user if user.pk == pk else None


def _api_token(actor: Actor, pk: int) -> Model | None:
    return account_selectors.api_tokens_of(user=actor.require_user()).filter(pk=pk).first()


def _provider(actor: Actor, pk: int) -> Model | None:
    return booking_selectors.provider_list().filter(pk=pk).first()


def _client(actor: Actor, pk: int) -> Model | None:
    # Seen as a reservation's client: by themself and whoever may see one of its reservations.
    user = actor.require_user()
    own = getattr(getattr(user, "client", None), "pk", None) == pk
    seen = reservation_selectors.reservations_visible_to(user).filter(client_id=pk).exists()
    return models.Client.objects.filter(pk=pk).first() if own or seen else None


def _reservation(actor: Actor, pk: int) -> Model | None:
    return reservation_selectors.reservation_for(user=actor.require_user(), reservation_id=pk)


def _window(actor: Actor, pk: int) -> Model | None:
    provider = actor.require_provider()
    return booking_selectors.provider_windows(provider=provider).filter(pk=pk).first()


def _time_off(actor: Actor, pk: int) -> Model | None:
    return account_selectors.time_off_of(user=actor.require_user()).filter(pk=pk).first()


def _event(actor: Actor, pk: int) -> Model | None:
    event = events.event_view(actor=actor, event_id=pk)
    return event_selectors.event_by_id(event_id=event.pk).first()


def _candidate(actor: Actor, pk: int) -> Model | None:
    # Seen on its event: by whoever may see the event.
    event_id = models.CandidateSlot.objects.filter(pk=pk).values_list("event_id", flat=True)
    if not event_id:
        return None
    events.event_view(actor=actor, event_id=event_id[0])
    return event_selectors.in_candidate_order(models.CandidateSlot.objects.filter(pk=pk)).first()


def _access_token(actor: Actor, pk: int) -> Model | None:
    tokens = models.EventAccessToken.objects.filter(pk=pk)
    return event_selectors.access_tokens_visible(tokens, actor=actor).first()


def _feed(actor: Actor, pk: int) -> Model | None:
    return feed_selectors.calendar_feeds_of(user=actor.require_user()).filter(pk=pk).first()


def _reminder(actor: Actor, pk: int) -> Model | None:
    event_id = models.Reminder.objects.filter(pk=pk).values_list("event_id", flat=True)
    if not event_id:
        return None
    user = actor.require_user()
    return reminder_selectors.event_reminders(user=user, event_id=event_id[0]).filter(pk=pk).first()


def _delivery(actor: Actor, pk: int) -> Model | None:
    event_id = models.ReminderDelivery.objects.filter(pk=pk).values_list(
        "reminder__event_id", flat=True
    )
    if not event_id:
        return None
    deliveries = reminder_selectors.event_reminder_deliveries(
        user=actor.require_user(), event_id=event_id[0]
    )
    return deliveries.filter(pk=pk).first()


def _audit_entry(actor: Actor, pk: int) -> Model | None:
    # Seen in the log it belongs to: by whoever may read that log (auditLog or eventLog).
    entry = models.AuditEntry.objects.filter(pk=pk).only("subject_type", "subject_id").first()
    if entry is None:
        return None
    if entry.subject_type == "event":
        log = event_selectors.event_log(actor=actor, event_id=entry.subject_id)
    elif entry.subject_type in _AUDITED:
        log = reservation_selectors.audit_entries_for(
            user=actor.require_user(),
            subject_type=entry.subject_type,
            subject_id=entry.subject_id,
        )
    else:
        return None
    return log.filter(pk=pk).first()


def _connection(actor: Actor, pk: int) -> Model | None:
    user = actor.require_user()
    return connection_selectors.calendar_connections_of(user=user).filter(pk=pk).first()


def _external_calendar(actor: Actor, pk: int) -> Model | None:
    user = actor.require_user()
    return models.ExternalCalendar.objects.filter(pk=pk, connection__user=user).first()


def _webhook(actor: Actor, pk: int) -> Model | None:
    return webhook_selectors.webhooks_of(user=actor.require_user()).filter(pk=pk).first()


def _webhook_delivery(actor: Actor, pk: int) -> Model | None:
    user = actor.require_user()
    return models.WebhookDelivery.objects.filter(pk=pk, webhook__owner=user).first()


def _tombstone(actor: Actor, pk: int) -> Model | None:
    user = actor.require_user()
    return models.Tombstone.objects.filter(pk=pk, visible_to__contains=[user.pk]).first()


# Every Node type of the schema (api/tests/test_relay.py fails when one is missing).
RESOLVERS: dict[str, Callable[[Actor, int], Model | None]] = {
    "ApiToken": _api_token,
    "AuditEntry": _audit_entry,
    "AvailabilityWindow": _window,
    "CalendarConnection": _connection,
    "CalendarFeed": _feed,
    "CandidateSlot": _candidate,
    "Client": _client,
    "Event": _event,
    "EventAccessToken": _access_token,
    "ExternalCalendar": _external_calendar,
    "Provider": _provider,
    "Reminder": _reminder,
    "ReminderDelivery": _delivery,
    "Reservation": _reservation,
    "TimeOff": _time_off,
    "Tombstone": _tombstone,
    "User": _user,
    "Webhook": _webhook,
    "WebhookDelivery": _webhook_delivery,
}


def visible_node(actor: Actor, global_id: str) -> Any:
    """The object behind `global_id` if the actor may see it through its type's own query;
    None for a malformed, unknown or hidden ID alike."""
    try:
        type_name, pk = split_id(global_id)
        resolver = RESOLVERS.get(type_name)
        return resolver(actor, pk) if resolver is not None else None
    except (ObjectDoesNotExist, PermissionDenied):
        return None


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object by its global ID (Relay refetching), if you may see it "
        "through its type's own query; null for an unknown, hidden or malformed ID alike."
    )
    def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global ID.")],
    ) -> relay.Node | None:
        return visible_node(actor_of(info), id)

    @strawberry.field(
        description=f"Several objects by global ID, in the order given (1–{MAX_NODES}); each "
        "null where `node` would be null."
    )
    def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description=f"1–{MAX_NODES} global IDs.")
        ],
    ) -> list[relay.Node | None]:
        if not 1 <= len(ids) <= MAX_NODES:
            raise DomainError(ErrorCode.INVALID_INPUT, f"Give 1–{MAX_NODES} IDs.", field="ids")
        actor = actor_of(info)
        return [visible_node(actor, gid) for gid in ids]
