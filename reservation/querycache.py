"""Querysets that Django compiles to SQL once per process, for the lookups every request makes.

Turning a queryset into SQL is the costliest Python of a hot lookup: the API token with its
user and both profiles (three joins) took about 0.6 ms to compile and each row lock of a
booking 0.25 ms, more than PostgreSQL takes to answer them. A `CompiledQuery` is written as
an ordinary queryset over named parameters; Django compiles it the first time it runs on a
database alias, and every later call sends that same SQL with its own values and builds the
objects exactly as the queryset would: the database is chosen by the routers per call, the
converters of the fields are applied, and `select_related` objects are filled in by
Django's own populators. Only the compilation is skipped.

Each parameter is given a type (int or str); a marker value of that type stands for it while
compiling, and is looked for among the compiled parameters (a queryset that transforms its
value, so the marker is not found, is refused when first compiled).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)

# Never a real value: negative (no primary key is) and within int4, so no field rejects it.
_INT_MARKER_BASE = -1_987_654_000


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position in params, parameter name)
    model: type[Model]
    init_list: list[str]
    fields_slice: slice
    populators: list[Any]
    annotation_col_map: dict[str, int]
    converters: list[tuple[int, tuple[list[Any], Any]]]


class CompiledQuery(Generic[M]):
    """`build(**params)` returns the queryset; `params` name its parameters and their types.

    token_by_digest = CompiledQuery(
        lambda digest: ApiToken.objects.filter(digest=digest).order_by("pk")[:1],
        digest=str,
    )
    token_by_digest.first(digest="...")
    """

    def __init__(self, build: Callable[..., QuerySet[M]], **params: type) -> None:
        for name, kind in params.items():
            if kind not in (int, str):
                raise ImproperlyConfigured(f"Parameter {name}: int or str only, not {kind}.")
        self.build = build
        self.markers: dict[str, int | str] = {
            name: (_INT_MARKER_BASE - index if kind is int else f"\ue000{name}\ue000")
            for index, (name, kind) in enumerate(params.items())
        }
        self._shape: tuple[type[Model], bool, dict[str, Any], bool] | None = None
        self._compiled: dict[str, _Compiled] = {}  # by database alias

    def shape(self) -> tuple[type[Model], bool, dict[str, Any], bool]:
        """(model, for write, router hints, takes row locks), read from the queryset once
        (on first use: the models must be loaded)."""
        if self._shape is None:
            sample = self.build(**self.markers)
            # select_for_update() marks the queryset for writing: the write database.
            self._shape = (
                sample.model,
                sample._for_write,
                dict(sample._hints),
                sample.query.select_for_update,
            )
        return self._shape

    def sql_with_params(self, alias: str = "default", **values: int | str) -> tuple[str, list]:
        """The SQL sent on `alias` and its parameters for these values (the benchmarks run the
        very same statements with pgbench)."""
        if values.keys() != self.markers.keys():
            raise TypeError(f"Expected parameters {sorted(self.markers)}, got {sorted(values)}.")
        compiled = self._compiled.get(alias) or self._compile(alias)
        params = list(compiled.params)
        for position, name in compiled.slots:
            params[position] = values[name]
        return compiled.sql, params

    def _compile(self, alias: str) -> _Compiled:
        compiler = self.build(**self.markers).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        by_marker = {marker: name for name, marker in self.markers.items()}
        slots = tuple(
            (position, by_marker[value])
            for position, value in enumerate(params)
            if isinstance(value, int | str) and value in by_marker
        )
        missing = set(self.markers) - {name for _, name in slots}
        if missing:
            raise ImproperlyConfigured(
                f"Parameters {sorted(missing)} are not passed through to the SQL as given."
            )
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        fields_slice = slice(fields[0], fields[-1] + 1)
        compiled = _Compiled(
            sql=sql,
            params=tuple(params),
            slots=slots,
            model=klass_info["model"],
            init_list=[column[0].target.attname for column in select[fields_slice]],
            fields_slice=fields_slice,
            populators=get_related_populators(klass_info, select, alias),
            annotation_col_map=dict(compiler.annotation_col_map or {}),
            converters=list(
                compiler.get_converters([s[0] for s in select[: compiler.col_count]]).items()
            ),
        )
        self._compiled[alias] = compiled
        return compiled

    def all(self, **values: int | str) -> list[M]:
        """The queryset's objects for these parameter values."""
        model, for_write, hints, locks = self.shape()
        if for_write:
            alias = router.db_for_write(model, **hints)
        else:
            alias = router.db_for_read(model, **hints)
        connection = connections[alias]
        if locks and connection.get_autocommit():
            # As the queryset would say (a lock outside a transaction is released at once).
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        compiled = self._compiled.get(alias) or self._compile(alias)
        sql, params = self.sql_with_params(alias, **values)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        found = []
        for row in rows:
            if compiled.converters:  # as SQLCompiler.apply_converters, on this connection
                row = list(row)
                for position, (functions, expression) in compiled.converters:
                    value = row[position]
                    for function in functions:
                        value = function(value, expression, connection)
                    row[position] = value
            obj = compiled.model.from_db(alias, compiled.init_list, row[compiled.fields_slice])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for name, position in compiled.annotation_col_map.items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found  # type: ignore[return-value]

    def first(self, **values: int | str) -> M | None:
        """The first object, or None (the queryset says the order and the limit)."""
        found = self.all(**values)
        return found[0] if found else None

    def get(self, **values: int | str) -> M:
        """The one object, else the model's DoesNotExist or MultipleObjectsReturned."""
        found = self.all(**values)
        model = self.shape()[0]
        if not found:
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        if len(found) > 1:
            raise model.MultipleObjectsReturned(
                f"get() returned more than one {model._meta.object_name}."
            )
        return found[0]
