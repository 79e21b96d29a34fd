"""Keyset (cursor) pagination for every connection of the schema.

strawberry's `ListConnection` cursors are offsets: a row inserted or deleted between two page
requests shifts every later row, so the next page repeats or skips some. Here a cursor holds
the values of the list's sort key and the primary key of its row (strawberry-django's
`DjangoCursorConnection` does the keyset filtering), so "after this cursor" means after that
row's place in the order, wherever the other rows have gone.

A cursor is signed (HMAC with SECRET_KEY) over the list it came from (the field and its
order): a cursor that was tampered with, made up, or handed out by another list (or the same
list in another order) answers INVALID_CURSOR, never a wrong page or a database error.
"""

import base64
import binascii
import enum
import hmac
import inspect
from typing import Any, Self

import strawberry
import strawberry_django
from django.db.models import Count, QuerySet, Window
from django.utils.crypto import salted_hmac
from strawberry import relay
from strawberry.relay import NodeType
from strawberry_django.fields.field import StrawberryDjangoConnectionExtension
from strawberry_django.relay.cursor_connection import (
    DjangoCursorConnection,
    DjangoCursorEdge,
    annotate_ordering_fields,
)
from strawberry_django.relay.list_connection import _should_optimize_total_count

from api.errors import INVALID_CURSOR
from reservation.errors import DomainError, ErrorCode

MAX_PAGE = 100
_UPSTREAM_PREFIX = DjangoCursorEdge.CURSOR_PREFIX  # "orderedcursor"
_VERSION = "k1"
_SALT = "api.pagination.cursor"

ARGUMENT_DESCRIPTIONS = {
    "before": "Only the items before this cursor (one this list handed out, in this order).",
    "after": "Only the items after this cursor (one this list handed out, in this order).",
    "first": f"At most this many items, from the start (or from `after`); 0–{MAX_PAGE}.",
    "last": f"At most this many items, from the end (or counting back from `before`); "
    f"0–{MAX_PAGE}.",
}


class InvalidCursor(DomainError):
    """A cursor this list did not hand out: INVALID_CURSOR."""

    def __init__(self) -> None:
        super().__init__(
            ErrorCode.INVALID_INPUT,
            "This cursor was not handed out by this list (in this order): start again without it.",
        )
        self.code = INVALID_CURSOR


def _context(info: Any, nodes: QuerySet) -> str:
    """What a cursor is valid for: the list (type and field) and its order."""
    _, descriptors, _ = annotate_ordering_fields(nodes)
    order = ",".join(
        f"{d.attname}:{'d' if d.order_by.descending else 'a'}"
        f":{'nf' if d.order_by.nulls_first else 'nl' if d.order_by.nulls_last else '-'}"
        for d in descriptors
    )
    return f"{info.path.typename}.{info.field_name}|{nodes.model._meta.label}|{order}"


def _mac(context: str, values: str) -> str:
    return salted_hmac(_SALT, f"{context}\n{values}").hexdigest()[:24]


def _seal(context: str, upstream_cursor: str) -> str:
    """Our cursor for strawberry-django's (base64 of "orderedcursor:<json values>")."""
    _, values = relay.from_base64(upstream_cursor)
    sealed = f"{_VERSION}:{_mac(context, values)}:{values}"
    return base64.urlsafe_b64encode(sealed.encode()).decode().rstrip("=")


def _unseal(context: str, cursor: str) -> str:
    """strawberry-django's cursor for ours, or InvalidCursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidCursor from exc
    version, _, rest = text.partition(":")
    mac, _, values = rest.partition(":")
    if version != _VERSION or not hmac.compare_digest(mac, _mac(context, values)):
        raise InvalidCursor
    return relay.to_base64(_UPSTREAM_PREFIX, values)


@strawberry.type(name="Edge", description="One item of a page, and its cursor.")
class KeysetEdge(DjangoCursorEdge[NodeType]):
    pass


@strawberry.type(
    name="Connection",
    description="A page of a list, with keyset cursors: rows added or removed between two "
    "requests never make the next page repeat or skip a row.",
)
class KeysetConnection(DjangoCursorConnection[NodeType]):
    edges: list[KeysetEdge[NodeType]] = strawberry.field(  # type: ignore[assignment]
        description="The items of this page, in the list's order."
    )

    @strawberry.field(description="How many items the whole list has (all pages).")
    def total_count(self) -> int:
        counted = getattr(self.edges[0].node, "_total_count", None) if self.edges else None
        if counted is not None:
            return counted
        return super().total_count()

    @classmethod
    def resolve_connection(
        cls,
        nodes: Any,
        *,
        info: Any,
        before: str | None = None,
        after: str | None = None,
        first: int | None = None,
        last: int | None = None,
        max_results: int | None = None,
        **kwargs: Any,
    ) -> Self:
        if not isinstance(nodes, QuerySet):
            raise TypeError("A keyset connection pages a QuerySet.")
        for name, value in (("first", first), ("last", last)):
            if value is not None and not 0 <= value <= MAX_PAGE:
                raise DomainError(
                    ErrorCode.INVALID_INPUT, f"{name} must be 0–{MAX_PAGE}.", field=name
                )
        context = _context(info, nodes)
        page_nodes = nodes
        if not (before or after) and _should_optimize_total_count(info):
            # Without a cursor the page's query can count the whole list as it goes (a
            # window over the rows before LIMIT); past a cursor the total needs its own query.
            page_nodes = nodes.annotate(_total_count=Window(Count(1)))
        try:
            connection = super().resolve_connection(
                page_nodes,
                info=info,
                before=_unseal(context, before) if before else None,
                after=_unseal(context, after) if after else None,
                first=first,
                last=last,
                max_results=max_results,
                **kwargs,
            )
        except ValueError as exc:
            # A signed cursor always decodes; this is strawberry-django refusing its values
            # (e.g. the model's field changed type since the cursor was handed out).
            if str(exc) == "Invalid cursor":
                raise InvalidCursor from exc
            raise
        assert not inspect.isawaitable(connection), "served by the sync view"
        connection.total_count_qs = nodes
        for edge in connection.edges:
            edge.cursor = _seal(context, edge.cursor)
        page = connection.page_info
        if connection.edges:
            page.start_cursor = connection.edges[0].cursor
            page.end_cursor = connection.edges[-1].cursor
        # Paging forward from a cursor, rows came before it; backward, rows follow it (the
        # cursor's own row, unless it was deleted since: a hint, as the Relay spec allows).
        page.has_previous_page = page.has_previous_page or bool(after)
        page.has_next_page = page.has_next_page or bool(before)
        return connection  # type: ignore[return-value]


class _KeysetConnectionExtension(StrawberryDjangoConnectionExtension):
    """strawberry's connection arguments, described for this pagination."""

    def apply(self, field: Any) -> None:
        super().apply(field)
        for argument in field.arguments:
            if argument.python_name in ARGUMENT_DESCRIPTIONS:
                argument.description = ARGUMENT_DESCRIPTIONS[argument.python_name]


class Order(enum.Enum):
    """Base of the lists' order enums: each value is the list's `order_by` terms."""

    def apply(self, queryset: QuerySet) -> QuerySet:
        """The queryset in this order (its primary key last, so the order is total)."""
        return queryset.order_by(*self.value)


def keyset_connection(node_type: type, *, description: str) -> Any:
    """`@strawberry_django.connection(...)` for a list of `node_type` with keyset cursors;
    the resolver returns an ordered QuerySet (its order is the list's order; the primary key
    breaks ties)."""
    field = strawberry_django.connection(
        KeysetConnection[node_type],  # type: ignore[valid-type]
        description=description,
        max_results=MAX_PAGE,
    )
    field.extensions = [
        _KeysetConnectionExtension(max_results=MAX_PAGE)
        if type(extension) is StrawberryDjangoConnectionExtension
        else extension
        for extension in field.extensions
    ]
    return field
