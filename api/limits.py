"""The GraphQL document limits, read from settings on every request (so a test or a
deploy changes them without rebuilding the schema). Their refusals carry stable codes,
set in api.errors: QUERY_TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_TOKENS, INTROSPECTION_DISABLED.
"""

from django.conf import settings
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)


def depth_limiter() -> SchemaExtension:
    return QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_DEPTH)


def aliases_limiter() -> SchemaExtension:
    return MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES)


def tokens_limiter() -> SchemaExtension:
    return MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS)


def introspection_guard() -> SchemaExtension:
    """Refuses `__schema` / `__type` when GRAPHQL_INTROSPECTION is off (`__typename` stays)."""
    if settings.GRAPHQL_INTROSPECTION:
        return SchemaExtension()
    return DisableIntrospection()
