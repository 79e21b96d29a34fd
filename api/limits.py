"""The GraphQL document limits, read from settings on every request (so a test or a
deploy changes them without rebuilding the schema). Their refusals carry stable codes,
set in api.errors: QUERY_TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_TOKENS, INTROSPECTION_DISABLED.
"""

from functools import lru_cache

from django.conf import settings
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

# The rule classes are made once per limit value, not per request: the validation cache
# (api.schema) is keyed by the rules, so fresh classes on every request would never hit it.


@lru_cache(maxsize=8)
def _depth_rules(max_depth: int) -> tuple:
    return tuple(QueryDepthLimiter(max_depth=max_depth).validation_rules)


@lru_cache(maxsize=8)
def _alias_rules(max_alias_count: int) -> tuple:
    return tuple(MaxAliasesLimiter(max_alias_count=max_alias_count).validation_rules)


def depth_limiter() -> SchemaExtension:
    return AddValidationRules(list(_depth_rules(settings.GRAPHQL_MAX_DEPTH)))


def aliases_limiter() -> SchemaExtension:
    return AddValidationRules(list(_alias_rules(settings.GRAPHQL_MAX_ALIASES)))


def tokens_limiter() -> SchemaExtension:
    return MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS)


def introspection_guard() -> SchemaExtension:
    """Refuses `__schema` / `__type` when GRAPHQL_INTROSPECTION is off (`__typename` stays)."""
    if settings.GRAPHQL_INTROSPECTION:
        return SchemaExtension()
    return DisableIntrospection()
