"""The GraphQL document limits, read from settings on every request (so a test or a
deploy changes them without rebuilding the schema). Their refusals carry stable codes,
set in api.errors or here: QUERY_TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_TOKENS,
INTROSPECTION_DISABLED, OPERATION_NAME_REQUIRED, INVALID_CHARACTERS, QUERY_TOO_COSTLY.
"""

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    StringValueNode,
    ValidationRule,
    visit,
)
from graphql.language import Visitor
from graphql.validation import MaxIntrospectionDepthRule
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from api import cost
from reservation.errors import ErrorCode
from reservation.validation import forbidden_character

OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"


# The rule classes are made once per limit value, not per request: the validation cache
# (api.schema) is keyed by the rules, so fresh classes on every request would never hit it.


@lru_cache(maxsize=8)
def _depth_rules(max_depth: int) -> tuple:
    return tuple(QueryDepthLimiter(max_depth=max_depth).validation_rules)


@lru_cache(maxsize=8)
def _alias_rules(max_alias_count: int) -> tuple:
    return tuple(MaxAliasesLimiter(max_alias_count=max_alias_count).validation_rules)


def depth_limiter() -> SchemaExtension:
    """GRAPHQL_MAX_DEPTH for the API's own fields (strawberry's limiter skips introspection,
    which introspection_depth_limiter covers)."""
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


# --- introspection is depth-limited too ------------------------------------------------------


def _introspection_depth(
    node: Node,
    fragments: Mapping[str, FragmentDefinitionNode],
    *,
    inside: bool,
    seen: frozenset[str] = frozenset(),
) -> int:
    """The depth (in fields from the root) of the deepest path through `__schema`/`__type`."""
    if isinstance(node, FieldNode):
        inside = inside or node.name.value in ("__schema", "__type")
        below = (
            max(
                (
                    _introspection_depth(s, fragments, inside=inside, seen=seen)
                    for s in node.selection_set.selections
                ),
                default=0,
            )
            if node.selection_set
            else 0
        )
        if below:
            return 1 + below
        return 1 if inside else 0
    if isinstance(node, FragmentSpreadNode):
        name = node.name.value
        if name in seen or name not in fragments:
            return 0
        return _introspection_depth(fragments[name], fragments, inside=inside, seen=seen | {name})
    if isinstance(node, (InlineFragmentNode, FragmentDefinitionNode, OperationDefinitionNode)):
        return max(
            (
                _introspection_depth(s, fragments, inside=inside, seen=seen)
                for s in node.selection_set.selections
            ),
            default=0,
        )
    return 0


class IntrospectionDepthRule(ValidationRule):
    """Refuses an operation whose introspection goes deeper than GRAPHQL_MAX_INTROSPECTION_DEPTH
    fields (the standard introspection queries of graphql-js and graphql-core are 15 deep)."""

    limit = 15

    def enter_document(self, document: Any, *_: Any) -> None:
        limit = self.limit
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            if _introspection_depth(definition, fragments, inside=False) > limit:
                name = definition.name.value if definition.name else "anonymous"
                self.report_error(
                    GraphQLError(
                        f"'{name}' exceeds maximum introspection depth of {limit}",
                        definition,
                        extensions={"code": QUERY_TOO_DEEP},
                    )
                )


def introspection_depth_limiter() -> SchemaExtension:
    """Both: a plain depth limit on introspection, and graphql-js's rule against nesting
    `fields`/`interfaces`/`possibleTypes`/`inputFields` (the fan-out a depth limit misses)."""
    rule = _introspection_depth_rule(settings.GRAPHQL_MAX_INTROSPECTION_DEPTH)
    return AddValidationRules([rule, MaxIntrospectionDepthRule])


@lru_cache(maxsize=8)
def _introspection_depth_rule(limit: int) -> type[ValidationRule]:
    """One rule class per limit: the validation cache is keyed by the rules, so a changed
    setting must make a different rule (and one per request would never hit the cache)."""
    return type(f"IntrospectionDepthRule{limit}", (IntrospectionDepthRule,), {"limit": limit})


# --- one operation at a time, by name ----------------------------------------------------------


class OperationNameRequired(SchemaExtension):
    """A document with several operations must say which one to run (the GraphQL spec:
    GetOperation); strawberry would otherwise run the first one."""

    def on_parse(self) -> Iterator[None]:
        yield
        document = self.execution_context.graphql_document
        if document is None:
            return
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        # strawberry keeps the name the request gave apart from the one it falls back to
        # (the first operation's); api/tests/test_input_cleaning.py pins this.
        provided = getattr(self.execution_context, "_provided_operation_name", None)
        if len(operations) > 1 and provided is None:
            raise GraphQLError(
                "The document has several operations: say which one to run in `operationName`.",
                extensions={"code": OPERATION_NAME_REQUIRED},
            )


# --- one input-cleaning rule for every string argument -----------------------------------------


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key, path)
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


class _StringLiterals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[StringValueNode] = []

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        self.found.append(node)


class InputCleaning(SchemaExtension):
    """Every string that comes in (variables and string literals of the document, so every
    string argument) goes through reservation.validation's one rule before anything runs: a
    control character (NUL first of all) is refused with INVALID_CHARACTERS instead of
    reaching PostgreSQL. Names are held to more (no bidi or zero-width tricks) by the
    services' require_one_line."""

    def on_validate(self) -> Iterator[None]:
        yield
        context = self.execution_context
        if context.pre_execution_errors or context.graphql_document is None:
            return
        for path, text in _strings(context.variables or {}, "$"):
            char = forbidden_character(text)
            if char is not None:
                raise _invalid_characters(f"variable {path.replace('$.', '$', 1)}", char)
        found = _forbidden_literal(context.query or "", context.graphql_document)
        if found is not None:
            raise _invalid_characters("a string in the document", *found)


# Per document text, like the parse and validation caches (api.schema): the literals of a text
# never change, and walking the whole document for them on every request cost more than
# the check. Bounded: a stream of distinct documents only empties it.
_LITERALS_CACHE_SIZE = 512
_literal_checks: dict[str, tuple[str, StringValueNode] | None] = {}


def _forbidden_literal(query: str, document: Node) -> tuple[str, StringValueNode] | None:
    """The first forbidden character in a string literal of the document, with its node."""
    try:
        return _literal_checks[query]
    except KeyError:
        pass
    literals = _StringLiterals()
    visit(document, literals)
    found = None
    for node in literals.found:
        char = forbidden_character(node.value)
        if char is not None:
            found = (char, node)
            break
    if len(_literal_checks) >= _LITERALS_CACHE_SIZE:
        _literal_checks.clear()
    if query:
        _literal_checks[query] = found
    return found


def _invalid_characters(where: str, char: str, node: Node | None = None) -> GraphQLError:
    return GraphQLError(
        f"{where} contains a control character (U+{ord(char):04X}); it cannot be stored.",
        node,
        extensions={"code": ErrorCode.INVALID_CHARACTERS.value},
    )


# --- the cost budget -----------------------------------------------------------------------------


class CostBudget(SchemaExtension):
    """Estimates the operation's cost after validation, before execution (api.cost), refuses
    it over the caller's budget with QUERY_TOO_COSTLY, and reports it when asked."""

    estimated: int | None = None

    def _asked(self) -> bool:
        return bool((self.execution_context.operation_extensions or {}).get("cost"))

    def on_validate(self) -> Iterator[None]:
        yield
        context = self.execution_context
        if context.pre_execution_errors or context.graphql_document is None:
            return
        actor = getattr(context.context, "actor", None)
        limit = cost.budget(signed_in=bool(actor is not None and actor.is_authenticated))
        self.limit = limit
        self.estimated = cost.estimate(
            context.schema._schema,
            context.graphql_document.definitions,
            context.operation_name,
            context.variables,
        )
        if self.estimated > limit:
            raise GraphQLError(
                f"The operation would cost {self.estimated}, over this caller's budget of "
                f"{limit}: ask for shorter ranges, smaller pages or fewer aliases.",
                extensions={
                    "code": QUERY_TOO_COSTLY,
                    "cost": {"estimated": self.estimated, "limit": limit},
                },
            )

    def get_results(self) -> dict[str, Any]:
        if self.estimated is None or not self._asked():
            return {}
        return {"cost": {"estimated": self.estimated, "limit": self.limit}}


# --- no field suggestions while introspection is off ---------------------------------------------

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?", re.DOTALL)


class HideSuggestions(SchemaExtension):
    """With introspection off, "Did you mean 'email'?" would rebuild the schema a guess at a
    time: the suggestions are cut from every message."""

    def on_operation(self) -> Iterator[None]:
        yield
        if settings.GRAPHQL_INTROSPECTION:
            return
        result = self.execution_context.result
        for error in (result.errors if result else None) or ():
            error.message = _SUGGESTION.sub("", error.message)
