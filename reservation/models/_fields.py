"""Database expressions shared by the models' constraints."""

from django.contrib.postgres.fields import RangeBoundary, RangeOperators
from django.db import models


class TsTzRange(models.Func):
    """`tstzrange(start, end, '[)')` — the half-open period of a row, for GiST constraints."""

    function = "TSTZRANGE"
    output_field = models.fields.Field()  # the range type; never read back into Python

    def __init__(self, start: str, end: str) -> None:
        super().__init__(models.F(start), models.F(end), RangeBoundary())


class Int8Equality(models.Func):
    """`int8range(id, id, '[]')`: equality on an id inside a GiST index.

    The embedded PostgreSQL ships without btree_gist, so a plain integer cannot take part in an
    exclusion constraint; a one-point range compared with `=` can, on every PostgreSQL.
    """

    function = "INT8RANGE"
    output_field = models.fields.Field()

    def __init__(self, field: str) -> None:
        super().__init__(models.F(field), models.F(field), models.Value("[]"))


SAME = RangeOperators.EQUAL
OVERLAPS = RangeOperators.OVERLAPS
