"""The Subscription root type: live slots, reservations and events over WebSocket
(graphql-transport-ws on /graphql, served by api.subscriptions.app)."""

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Q
from graphql import GraphQLError

from api.booking.queries import ProviderId, signed_in_user
from api.booking.types import ReservationType, Slot
from api.context import Info, actor_of
from api.events.queries import EventId
from api.events.types import EventType
from api.ids import decode_id
from api.subscriptions.hub import hub, run_db
from reservation.errors import ErrorCode
from reservation.models import Event, Reservation
from reservation.selectors.coaching import require_may_list_slots
from reservation.selectors.live import slot_range
from reservation.services import events as event_services

SUBSCRIPTION_LIMIT_REACHED = "SUBSCRIPTION_LIMIT_REACHED"


def refusal(exc: BaseException) -> GraphQLError:
    """A domain refusal as a GraphQL error with its stable code (as on HTTP)."""
    code = getattr(exc, "error_code", None) or getattr(exc, "code", None)
    if isinstance(exc, ValidationError):
        message = " ".join(exc.messages)
        code = code or ErrorCode.INVALID_INPUT
    elif isinstance(exc, PermissionDenied):
        message, code = str(exc), code or ErrorCode.PERMISSION_DENIED
    elif isinstance(exc, ObjectDoesNotExist):
        message, code = str(exc) or "Not found.", ErrorCode.NOT_FOUND
    elif isinstance(exc, ValueError):  # a malformed global ID
        message, code = str(exc), ErrorCode.INVALID_INPUT
    else:
        raise exc
    return GraphQLError(message, extensions={"code": str(code)})


def _domain(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (ValidationError, PermissionDenied, ObjectDoesNotExist, ValueError) as exc:
        raise refusal(exc) from None


async def _domain_db(fn):
    try:
        return await run_db(fn)
    except (ValidationError, PermissionDenied, ObjectDoesNotExist) as exc:
        raise refusal(exc) from None


def _connection(info: Info):
    return info.context.connection  # type: ignore[attr-defined]


@strawberry.type(
    description="Hear about changes as they happen: over WebSocket (graphql-transport-ws) on "
    "/graphql; each subscription sends the current state first."
)
class Subscription:
    @strawberry.subscription(
        description="A provider's bookable slots in [start, end) (as availableSlots), sent when "
        "subscribing and again whenever the list changes: a hold taken, confirmed, cancelled "
        "or lapsed, availability, working hours, time off or the policy edited, or a slot "
        "passing inside the minimum notice."
    )
    async def available_slots_changed(
        self,
        info: Info,
        provider_id: ProviderId,
        start: Annotated[datetime, strawberry.argument(description="From (with a UTC offset).")],
        end: Annotated[datetime, strawberry.argument(description="Until, exclusive.")],
        first: Annotated[
            int, strawberry.argument(description="How many slots at most (1–1000).")
        ] = 1000,
    ) -> AsyncGenerator[list[Slot], None]:
        user = signed_in_user(info)
        start, end = _domain(slot_range, start=start, end=end, first=first)
        provider_pk = _domain(decode_id, provider_id, "Provider")
        async with (
            _connection(info).subscription(),
            hub().watch_slots(provider_id=provider_pk, start=start, end=end) as watcher,
        ):
            sent: tuple | None = None
            while True:
                await watcher.wake.wait()
                watcher.wake.clear()
                feed = watcher.feed
                if feed.error is not None:
                    raise refusal(feed.error)
                state = feed.state
                assert state is not None
                if state.policy.restrict_to_assigned_clients:
                    await _domain_db(
                        lambda state=state: require_may_list_slots(
                            user=user, provider=state.provider, policy=state.policy
                        )
                    )
                visible = state.slots[:first]
                if visible != sent:
                    sent = visible
                    yield feed.payload(  # type: ignore[misc]
                        state,
                        first,
                        lambda visible=visible: [Slot(start=s, end=e) for s, e in visible],
                    )

    @strawberry.subscription(
        description="Each reservation you are the client or the provider of, in its new state, "
        "every time it changes (booked, confirmed, cancelled, rescheduled, expired)."
    )
    async def reservation_changed(self, info: Info) -> AsyncGenerator[ReservationType, None]:
        user = _domain(actor_of(info).require_user)
        keys = []
        if getattr(user, "client", None) is not None:
            keys.append(("c", user.client.pk))
        if getattr(user, "provider", None) is not None:
            keys.append(("p", user.provider.pk))
        mine = Q(client__user_id=user.pk) | Q(provider__user_id=user.pk)
        async with _connection(info).subscription():
            await hub().start()
            with hub().watch_reservations(keys=keys) as watcher:
                while True:
                    await watcher.wake.wait()
                    since, watcher.resync_since = watcher.resync_since, None
                    ids = watcher.take()

                    def load(ids=ids, since=since) -> list[Reservation]:
                        rows = Reservation.objects.select_related(
                            "provider__user", "client__user"
                        ).filter(mine)
                        found = {r.pk: r for r in rows.filter(pk__in=ids)}
                        ordered = [found[i] for i in ids if i in found]
                        if since is not None:  # notifications were lost: what changed since
                            ordered += (
                                rows.filter(updated_at__gte=since)
                                .exclude(pk__in=ids)
                                .order_by("updated_at", "id")
                            )
                        return ordered

                    for reservation in await run_db(load):
                        yield reservation  # type: ignore[misc]

    @strawberry.subscription(
        description="An event you are a party of (a link opens its own event only), sent when "
        "subscribing and again with every new version."
    )
    async def event_changed(self, info: Info, id: EventId) -> AsyncGenerator[EventType, None]:
        actor = actor_of(info)
        event_pk = _domain(decode_id, id, "Event")
        async with _connection(info).subscription():
            await hub().start()
            with hub().watch_event(event_id=event_pk) as watcher:
                watcher.offer(event_pk)  # the current version first
                sent: tuple | None = None
                while True:
                    await watcher.wake.wait()
                    watcher.resync_since = None
                    watcher.take()

                    def load() -> Event:
                        event_services.event_view(actor=actor, event_id=event_pk)
                        return Event.objects.select_related("organizer").get(pk=event_pk)

                    event = await _domain_db(load)
                    seen = (event.version, event.status, event.updated_at)
                    if seen != sent:
                        sent = seen
                        yield event  # type: ignore[misc]
