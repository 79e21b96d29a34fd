"""api.execution: lists of plain objects answered in one step, exactly as graphql-core would."""

from datetime import UTC, datetime
from enum import Enum

import pytest
import strawberry
from strawberry_django.optimizer import DjangoOptimizerExtension

from api.execution import PlainObjectsExecutionContext


@strawberry.enum
class Color(Enum):
    RED = "red"


@strawberry.type
class Plain:
    at: datetime
    label: str | None
    color: Color


@strawberry.type
class WithResolver:
    at: datetime

    @strawberry.field
    def shout(self) -> str:
        return "hi"


def _plain(label: str | None = "a", at: object = None) -> Plain:
    return Plain(at=at or datetime(2030, 1, 1, 9, tzinfo=UTC), label=label, color=Color.RED)


ITEMS: list = []


@strawberry.type
class Query:
    @strawberry.field
    def plains(self) -> list[Plain]:
        return ITEMS

    @strawberry.field
    def maybe_plains(self) -> list[Plain | None] | None:
        return ITEMS

    @strawberry.field
    def others(self) -> list[WithResolver]:
        return [WithResolver(at=datetime(2030, 1, 1, tzinfo=UTC))]


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    kwargs = {"query": Query, "extensions": [DjangoOptimizerExtension]}
    return (
        strawberry.Schema(**kwargs, execution_context_class=PlainObjectsExecutionContext),
        strawberry.Schema(**kwargs),
    )


@pytest.fixture
def items():
    ITEMS.clear()
    yield ITEMS
    ITEMS.clear()


@pytest.mark.parametrize(
    "document",
    [
        "{ plains { at label color __typename x: at } }",
        "{ maybePlains { label } }",
        "{ plains { at } others { at shout } }",
        "{ plains { ... on Plain { at } label @skip(if: true) } }",
    ],
)
def test_same_answer_as_graphql_core(items, document):
    items += [_plain("a"), _plain(None), _plain("c")]
    fast, plain = _schemas()
    expected = plain.execute_sync(document)
    assert fast.execute_sync(document).data == expected.data
    assert expected.errors is None


def test_the_shortcut_is_taken(items, monkeypatch):
    items += [_plain("a")] * 3
    fast, _ = _schemas()
    taken = []
    real = PlainObjectsExecutionContext._complete_plain_list

    def spy(self, *args, **kwargs):
        taken.append(real(self, *args, **kwargs))
        return taken[-1]

    monkeypatch.setattr(PlainObjectsExecutionContext, "_complete_plain_list", spy)
    fast.execute_sync("{ plains { label } others { at shout } others2: others { at } }")
    # plains: by the shortcut; others selects a field with a resolver, so not; the same
    # objects with only plain fields selected, again by the shortcut.
    at = "2030-01-01T00:00:00+00:00"
    assert taken == [[{"label": "a"}] * 3, None, [{"at": at}]]


def test_errors_are_graphql_cores_own(items):
    items += [_plain("a"), None, _plain("c", at="not a datetime")]
    fast, plain = _schemas()
    for document in ("{ plains { label } }", "{ maybePlains { at } }"):
        expected, found = plain.execute_sync(document), fast.execute_sync(document)
        assert found.data == expected.data
        assert [(e.message, e.path) for e in found.errors] == [
            (e.message, e.path) for e in expected.errors
        ]
        assert found.errors
