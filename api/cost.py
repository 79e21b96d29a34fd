"""A cost budget per operation, estimated from the document and its variables before any
resolver runs, so a request that would cost too much is refused (QUERY_TOO_COSTLY) instead of
being found out by the statement timeout.

The estimate, in abstract units (calibrated in devops/bench/cost.py):
- every field that returns an object costs 1 (a row, a lookup); scalars cost nothing;
- a list multiplies what its items cost by the page asked for (`first`, `last` or `limit`,
  else the argument's default, else the API's maximum page; lists without such an argument
  count GRAPHQL_COST_LIST_SIZE items);
- the date-range fields add a cost per day of their range: `availableSlots` (2 per day),
  `freeTime` and `freeTimePage` (500 a call, 4 per day and person), `occurrences` (200 a
  call, 2 per day, and per person when `users` is given), so a year-long range costs what it
  makes the server do;
- `__schema` and `__type` cost a flat GRAPHQL_COST_INTROSPECTION (served from memory; their
  shape is bounded by the introspection depth limits).
Aliases are counted like the fields they repeat: 29 aliases cost 29 times.

Signed-in callers (session or API token) get GRAPHQL_COST_LIMIT, everyone else
GRAPHQL_COST_LIMIT_ANONYMOUS. A client that sends `"extensions": {"cost": true}` gets
`extensions.cost = {"estimated": N, "limit": L}` in the response.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from graphql.type import GraphQLInterfaceType, GraphQLUnionType

PAGE_ARGUMENTS = ("first", "last", "limit")
INTROSPECTION_FIELDS = ("__schema", "__type")


@dataclass(frozen=True)
class RangeWeight:
    """A field's cost for its range: `base` for the call (its fixed queries), plus `per_day`
    for each day of [start, end), times the number of `users` when `per_user`."""

    base: float
    per_day: float
    per_user: bool


# The fields whose work grows with the length of their range (see the selectors' limits).
# Measured with devops/bench/cost.py: a freeTime call costs ~8 queries before its first day.
RANGE_FIELDS: Mapping[str, RangeWeight] = {
    "availableSlots": RangeWeight(base=0, per_day=2, per_user=False),
    "freeTime": RangeWeight(base=500, per_day=4, per_user=True),
    "freeTimePage": RangeWeight(base=500, per_day=4, per_user=True),
    "occurrences": RangeWeight(base=200, per_day=2, per_user=True),
}


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _days(start: Any, end: Any) -> float:
    """The length of [start, end) in days; 0 when it cannot be read (the resolver refuses it)."""
    start, end = _datetime(start), _datetime(end)
    if start is None or end is None or (start.tzinfo is None) != (end.tzinfo is None):
        return 0.0
    return max((end - start).total_seconds() / 86400, 0.0)


def _unwrap_list(field_type: Any) -> bool:
    """Whether the field's type is a list (under any non-null wrappers)."""
    while isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


class CostEstimator:
    """Estimates one operation of a validated document."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page = settings.STRAWBERRY_DJANGO.get("PAGINATION_MAX_LIMIT", 100)
        self.list_size = settings.GRAPHQL_COST_LIST_SIZE

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        return round(self._selections(operation.selection_set, root, page=None, seen=frozenset()))

    def _arguments(self, node: FieldNode, field: GraphQLField) -> dict[str, Any]:
        values: dict[str, Any] = {
            name: argument.default_value
            for name, argument in field.args.items()
            if argument.default_value is not None and not _is_undefined(argument.default_value)
        }
        for argument in node.arguments or ():
            if isinstance(argument.value, VariableNode):
                name = argument.value.name.value
                if name in self.variables:
                    values[argument.name.value] = self.variables[name]
            else:
                values[argument.name.value] = value_from_ast_untyped(
                    argument.value, dict(self.variables)
                )
        return values

    def _selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: Any,
        *,
        page: int | None,
        seen: frozenset[str],
    ) -> float:
        if selection_set is None:
            return 0.0
        total = 0.0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, page=page, seen=seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = (
                    self.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                total += self._selections(
                    selection.selection_set, condition or parent, page=page, seen=seen
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                condition = self.schema.get_type(fragment.type_condition.name.value)
                total += self._selections(
                    fragment.selection_set, condition or parent, page=page, seen=seen | {name}
                )
        return total

    def _field_definition(self, parent: Any, name: str) -> GraphQLField | None:
        if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return parent.fields.get(name)
        if isinstance(parent, GraphQLUnionType):
            for member in parent.types:
                if name in member.fields:
                    return member.fields[name]
        return None

    def _field(self, node: FieldNode, parent: Any, *, page: int | None, seen: frozenset) -> float:
        name = node.name.value
        if name == "__typename":
            return 0.0
        if name in INTROSPECTION_FIELDS:
            return float(settings.GRAPHQL_COST_INTROSPECTION)
        field = self._field_definition(parent, name)
        if field is None:
            return 0.0
        named = get_named_type(field.type)
        arguments = self._arguments(node, field)
        own_page = next(
            (
                arguments[argument]
                for argument in PAGE_ARGUMENTS
                if isinstance(arguments.get(argument), int)
            ),
            None,
        )
        if own_page is None and any(argument in field.args for argument in PAGE_ARGUMENTS):
            own_page = self.default_page
        own_page = max(own_page or 0, 0) if own_page is not None else None
        cost = 0.0
        weight = RANGE_FIELDS.get(name)
        if weight is not None and parent is self.schema.query_type:
            people = arguments.get("users")
            factor = max(len(people), 1) if weight.per_user and isinstance(people, list) else 1
            length = _days(arguments.get("start"), arguments.get("end"))
            cost += weight.base + weight.per_day * length * factor
        if is_leaf_type(named):
            return cost
        if _unwrap_list(field.type):
            children = self._selections(node.selection_set, named, page=None, seen=seen)
            items = own_page if own_page is not None else (page or self.list_size)
            return cost + items * (1 + children)
        # A connection's page size applies to the list right below it (`edges`, `items`).
        children = self._selections(node.selection_set, named, page=own_page, seen=seen)
        return cost + 1 + children


def _is_undefined(value: Any) -> bool:
    from graphql.pyutils import Undefined

    return value is Undefined


def estimate(
    schema: GraphQLSchema,
    definitions: Iterable[Any],
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """The cost of the operation that will run (by name, or the only one)."""
    definitions = list(definitions)
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if not operations:
        return 0
    estimator = CostEstimator(schema, fragments, variables or {})
    return estimator.operation(operations[0])


def budget(*, signed_in: bool) -> int:
    return settings.GRAPHQL_COST_LIMIT if signed_in else settings.GRAPHQL_COST_LIMIT_ANONYMOUS
