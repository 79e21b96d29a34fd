"""The GraphQL schema: the root types, and the extensions every request goes through."""

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry_django.optimizer import DjangoOptimizerExtension

from api.accounts.mutations import AccountMutation
from api.accounts.queries import AccountQuery
from api.audit.queries import AuditQuery
from api.booking.mutations import BookingMutation
from api.booking.queries import BookingQuery
from api.calendar.mutations import CalendarMutation
from api.calendar.queries import CalendarQuery
from api.errors import ErrorCodes
from api.events.mutations import EventMutation
from api.events.queries import EventQuery
from api.feeds.mutations import FeedMutation
from api.feeds.queries import FeedQuery
from api.limits import aliases_limiter, depth_limiter, introspection_guard, tokens_limiter
from api.metrics import OperationMetrics
from api.reminders.mutations import ReminderMutation
from api.reminders.queries import ReminderQuery
from api.sync.queries import SyncQuery
from api.webhooks.mutations import WebhookMutation
from api.webhooks.queries import WebhookQuery


@strawberry.type(description="Read the calendar, slots, reservations, events and their history.")
class Query(
    AccountQuery,
    BookingQuery,
    AuditQuery,
    EventQuery,
    FeedQuery,
    CalendarQuery,
    ReminderQuery,
    WebhookQuery,
    SyncQuery,
):
    # No generic `node(id:)` field: strawberry's resolves any ID with no visibility check
    # (anyone could read any reservation or user). Each type has its own checked field.
    pass


@strawberry.type(
    description="Change things; every mutation returns its result or "
    "OperationInfo with a stable code."
)
class Mutation(
    AccountMutation,
    BookingMutation,
    EventMutation,
    FeedMutation,
    CalendarMutation,
    ReminderMutation,
    WebhookMutation,
):
    pass


class Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Logging happens in api.errors.ErrorCodes, for unexpected errors only."""


schema = Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(relay_max_results=100),
    # Classes or factories, never instances: an extension keeps per-request state, so each
    # request gets fresh ones (a shared instance leaks between threads).
    extensions=[
        OperationMetrics,  # first: the outermost, so it times all the others
        ErrorCodes,
        tokens_limiter,
        depth_limiter,
        aliases_limiter,
        introspection_guard,
        DjangoOptimizerExtension,
    ],
)
