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
from api.connections.mutations import ConnectionMutation
from api.connections.queries import ConnectionQuery
from api.errors import ErrorCodes
from api.events.mutations import EventMutation
from api.events.queries import EventQuery
from api.feeds.mutations import FeedMutation
from api.feeds.queries import FeedQuery
from api.limits import (
    CostBudget,
    HideSuggestions,
    InputCleaning,
    OperationNameRequired,
    aliases_limiter,
    depth_limiter,
    introspection_depth_limiter,
    introspection_guard,
    tokens_limiter,
)
from api.metrics import OperationMetrics
from api.nodes import NodeQuery
from api.reminders.mutations import ReminderMutation
from api.reminders.queries import ReminderQuery
from api.scalars import SCALARS
from api.scopes import guard_mutations
from api.sharing import SharingMutation, SharingQuery


@strawberry.type(description="Read the calendar, slots, reservations, events and their history.")
class Query(
    AccountQuery,
    BookingQuery,
    AuditQuery,
    EventQuery,
    FeedQuery,
    CalendarQuery,
    ReminderQuery,
    ConnectionQuery,
    NodeQuery,  # node/nodes: not strawberry's, which would skip every visibility check
    SharingQuery,
):
    pass


@guard_mutations  # a READ_ONLY API token runs none of them
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
    ConnectionMutation,
    SharingMutation,
):
    pass


class Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Logging happens in api.errors.ErrorCodes, for unexpected errors only."""


schema = Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(relay_max_results=100, scalar_map=SCALARS),
    # Classes or factories, never instances: an extension keeps per-request state, so each
    # request gets fresh ones (a shared instance leaks between threads).
    extensions=[
        OperationMetrics,  # first: the outermost, so it times all the others
        ErrorCodes,
        HideSuggestions,
        tokens_limiter,
        OperationNameRequired,
        depth_limiter,
        introspection_depth_limiter,
        aliases_limiter,
        introspection_guard,
        InputCleaning,
        CostBudget,
        DjangoOptimizerExtension,
    ],
)
