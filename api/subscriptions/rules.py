"""Which transport runs which operation: subscriptions over the WebSocket only, queries and
mutations over HTTP only (validation rules, so a refusal costs no execution)."""

from graphql import GraphQLError, OperationType
from graphql.validation import ValidationRule

SUBSCRIPTIONS_ONLY = "SUBSCRIPTIONS_ONLY"
WEBSOCKET_REQUIRED = "WEBSOCKET_REQUIRED"


class SubscriptionsOnlyRule(ValidationRule):
    """The WebSocket runs subscriptions only: queries and mutations go over HTTP."""

    def enter_operation_definition(self, node, *_args):
        if node.operation != OperationType.SUBSCRIPTION:
            self.report_error(
                GraphQLError(
                    "Only subscriptions are served over the WebSocket: send queries and "
                    "mutations over HTTP (POST /graphql).",
                    node,
                    extensions={"code": SUBSCRIPTIONS_ONLY},
                )
            )


class NoSubscriptionsOverHttpRule(ValidationRule):
    """HTTP runs queries and mutations: a subscription needs the WebSocket."""

    def enter_operation_definition(self, node, *_args):
        if node.operation == OperationType.SUBSCRIPTION:
            self.report_error(
                GraphQLError(
                    "Subscriptions are served over a WebSocket (graphql-transport-ws) on "
                    "/graphql, not over HTTP.",
                    node,
                    extensions={"code": WEBSOCKET_REQUIRED},
                )
            )
