"""The GraphQL schema: the root types, and the extensions every request goes through."""

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry_django.optimizer import DjangoOptimizerExtension

from api.accounts.mutations import AccountMutation
from api.accounts.queries import AccountQuery
from api.audit.queries import AuditQuery
from api.booking.mutations import BookingMutation
from api.booking.queries import BookingQuery
from api.errors import ErrorCodes


@strawberry.type(description="Read the calendar, slots, reservations and their history.")
class Query(AccountQuery, BookingQuery, AuditQuery):
    node: strawberry.relay.Node = strawberry.relay.node(description="Fetch an object by ID.")


@strawberry.type(
    description="Change things; every mutation returns its result or "
    "OperationInfo with a stable code."
)
class Mutation(AccountMutation, BookingMutation):
    pass


class Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Logging happens in api.errors.ErrorCodes, for unexpected errors only."""


schema = Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(relay_max_results=100),
    extensions=[
        ErrorCodes,
        QueryDepthLimiter(max_depth=12),
        MaxAliasesLimiter(max_alias_count=30),
        MaxTokensLimiter(max_token_count=2000),
        DjangoOptimizerExtension,
    ],
)
