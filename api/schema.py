"""The GraphQL schema: the root types, and the extensions every request goes through."""

import contextlib

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry_django.optimizer import DjangoOptimizerExtension

from api.accounts.mutations import AccountMutation
from api.accounts.queries import AccountQuery
from api.audit.queries import AuditQuery
from api.booking.coaching import CoachingMutation
from api.booking.mutations import BookingMutation
from api.booking.queries import BookingQuery
from api.calendar.mutations import CalendarMutation
from api.calendar.queries import CalendarQuery
from api.connections.mutations import ConnectionMutation
from api.connections.queries import ConnectionQuery
from api.errors import ErrorCodes
from api.events.mutations import EventMutation
from api.events.queries import EventQuery
from api.execution import PlainObjectsExecutionContext
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
from api.subscriptions.resolvers import Subscription
from api.subscriptions.rules import NoSubscriptionsOverHttpRule
from api.sync.queries import SyncQuery
from api.webhooks.mutations import WebhookMutation
from api.webhooks.queries import WebhookQuery

__all__ = ["Mutation", "Query", "Schema", "Subscription", "schema"]


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
    WebhookQuery,
    SyncQuery,
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
    CoachingMutation,
    EventMutation,
    FeedMutation,
    CalendarMutation,
    ReminderMutation,
    ConnectionMutation,
    SharingMutation,
    WebhookMutation,
):
    pass


GRAPHQL_DOCUMENT_CACHE_SIZE = 512


class DocumentCache(ParserCache):
    """ParserCache that leaves a document it cannot parse to strawberry's own parsing, so a
    syntax error (or the token limit) is reported as usual, with its code; lru_cache keeps
    no failures, so a bad document costs two parses and takes no room."""

    def on_parse(self):
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


class Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Logging happens in api.errors.ErrorCodes, for unexpected errors only."""


schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # Objects of plain scalar attributes (a slot) completed in one step: api/execution.py.
    execution_context_class=PlainObjectsExecutionContext,
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
        lambda: AddValidationRules([NoSubscriptionsOverHttpRule]),
        CostBudget,
        # Per operation text, bounded (an attacker's stream of distinct documents only
        # evicts): a client's repeated operation is parsed and validated once per process.
        lambda: DocumentCache(maxsize=GRAPHQL_DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=GRAPHQL_DOCUMENT_CACHE_SIZE),
        DjangoOptimizerExtension,
    ],
)
