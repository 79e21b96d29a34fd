"""GraphQL execution with a shortcut for objects made only of plain attributes.

graphql-core completes every field of every object on its own: a path, a resolve info, the
extensions' `resolve` hooks (DjangoOptimizerExtension wraps every field), the resolver, then
the value's coercion. For 31 days of `availableSlots` (368 slots of two fields) that was
about 17 µs a slot, most of the request. Yet a `Slot` is two attributes turned into strings.

`PlainObjectsExecutionContext` completes such an object in one step when every field the
operation selects on it is
- a plain attribute (a strawberry field with no resolver, no permission or field extension:
  strawberry's own "basic field", read by its default resolver), or `__typename`,
- of a scalar or enum type (nullable or not, not a list), with no arguments,
- and nothing is deferred (`@defer`, `@stream`) and no extension hook but the optimizer's
  would see the field (the optimizer acts only on querysets, never on a scalar).
Each value is read and coerced exactly as graphql-core would (the field's own resolver, the
type's `coerce_output_value`). Anything else — an error, a null in a non-null field, a
value that does not coerce — and the object is completed the ordinary way instead, so
errors, paths and messages are graphql-core's own.
"""

from collections.abc import Callable, Sequence
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField
from strawberry_django.optimizer import DjangoOptimizerExtension

# A field of the plan: (response name, reader (None for __typename), attribute name,
# coercion to the response value, non-null).
_Field = tuple[str, Callable[[Any, str], Any] | None, str, Callable[[Any], Any] | None, bool]
_NOT_PLAIN = object()
# Extensions whose `resolve` hook may be skipped for plain scalar attributes.
_INDIFFERENT_TO_SCALARS = (DjangoOptimizerExtension,)


class PlainObjectsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """See the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (return type, id(field details)) -> (field details, plan or _NOT_PLAIN); the
        # field details are kept alive so their id is not reused (as collect_subfields does).
        self._plain_plans: dict[tuple[GraphQLObjectType, int], tuple[Any, Any]] = {}
        manager = self.middleware_manager
        self._shortcut = manager is None or all(
            isinstance(m, _INDIFFERENT_TO_SCALARS) for m in manager.middlewares
        )

    def complete_list_value(
        self,
        return_type: GraphQLList,
        field_details_list: Sequence[FieldDetails],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        completed = None
        if self._shortcut and position_context is None and isinstance(result, list | tuple):
            completed = self._complete_plain_list(
                return_type, field_details_list, info, path, result
            )
        if completed is not None:
            return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _complete_plain_list(
        self,
        return_type: GraphQLList,
        field_details_list: Sequence[FieldDetails],
        info: GraphQLResolveInfo,
        path: Path,
        items: list | tuple,
    ) -> list[dict[str, Any] | None] | None:
        """The list's response when its items are plain objects, else None."""
        item_type = return_type.of_type
        non_null_items = isinstance(item_type, GraphQLNonNull)
        object_type = item_type.of_type if non_null_items else item_type
        if not isinstance(object_type, GraphQLObjectType):
            return None
        plan = self._plain_plan(object_type, field_details_list)
        if plan is _NOT_PLAIN or self.get_stream_usage(field_details_list, path):
            return None
        is_type_of = object_type.is_type_of
        completed: list[dict[str, Any] | None] = []
        for item in items:
            if item is None:
                if non_null_items:
                    return None
                completed.append(None)
                continue
            if is_type_of is not None and is_type_of(item, info) is not True:
                return None
            data = _complete_plain(plan, object_type.name, item)
            if data is None:
                return None
            completed.append(data)
        return completed

    def _plain_plan(
        self, return_type: GraphQLObjectType, field_details_list: Sequence[FieldDetails]
    ) -> Any:
        key = (return_type, id(field_details_list))
        cached = self._plain_plans.get(key)
        if cached is None:
            cached = (field_details_list, self._make_plan(return_type, field_details_list))
            self._plain_plans[key] = cached
        return cached[1]

    def _make_plan(
        self, return_type: GraphQLObjectType, field_details_list: Sequence[FieldDetails]
    ) -> Any:
        grouped_field_set, new_defer_usages, forbidden = self.collect_subfields(
            return_type, field_details_list
        )
        if new_defer_usages or forbidden:
            return _NOT_PLAIN
        plan: list[_Field] = []
        for response_name, details in grouped_field_set.items():
            if any(d.defer_usage is not None or d.fragment_variable_values for d in details):
                return _NOT_PLAIN
            node = details[0].node
            if node.name.value == "__typename":
                plan.append((response_name, None, "", None, True))
                continue
            field = self.schema.get_field(return_type, node.name.value)
            if field is None or field.args or any(d.node.arguments for d in details):
                return _NOT_PLAIN
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
                return _NOT_PLAIN
            non_null = isinstance(field.type, GraphQLNonNull)
            leaf = field.type.of_type if non_null else field.type
            if not is_leaf_type(leaf):
                return _NOT_PLAIN
            # What strawberry's resolver of a basic field calls: its default resolver.
            plan.append(
                (
                    response_name,
                    definition.default_resolver,
                    definition.python_name,
                    leaf.coerce_output_value,
                    non_null,
                )
            )
        return tuple(plan)


def _complete_plain(plan: tuple[_Field, ...], type_name: str, source: Any) -> dict[str, Any] | None:
    """The object's response, or None when graphql-core's ordinary path must decide."""
    data: dict[str, Any] = {}
    try:
        for response_name, read, attribute, coerce, non_null in plan:
            if read is None:  # __typename
                data[response_name] = type_name
                continue
            value = read(source, attribute)
            if value is None:
                if non_null:
                    return None
                data[response_name] = None
                continue
            if isinstance(value, Exception):
                return None
            coerced = coerce(value)
            if coerced is Undefined or coerced is None:
                return None
            data[response_name] = coerced
    except Exception:  # noqa: BLE001 - the ordinary path reports it, with its path
        return None
    return data
