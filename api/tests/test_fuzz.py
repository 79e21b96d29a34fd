"""Schemathesis fuzzes every Query and Mutation field of schema.graphql through the real app.

Operations are generated from the checked-in SDL (the schema test keeps it equal to the live
one) and POSTed with a Bearer token of a user who is a client, a provider and an organizer,
so that mutations get past "who is asking" and into the services. IDs are drawn partly from
real rows and datetimes partly from around the frozen clock, so many reach the domain checks.

Whatever is sent, the answer is JSON with `data` or `errors`, never a 5xx, every error carries
`extensions.code`, and no message shows internals. FUZZ_EXAMPLES (default 300) is the number
of operations in all, spread evenly over the fields; e.g. FUZZ_EXAMPLES=3000 for a longer run.
"""

import json
import os
import re
from collections import Counter
from datetime import UTC, timedelta
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client as HttpClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from api.tests.conftest import EVENT_STARTS, GRAPHQL_URL, token_of
from reservation.models import AvailabilityWindow, Client, Provider, User
from reservation.services.events import SlotInput, event_propose
from reservation.tests.factories import NOW, actor_for, at, make_reservation, make_user

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 300)
NODE_TYPES = re.findall(
    r"^type (\w+) implements .*\bNode\b",
    (settings.BASE_DIR / "schema.graphql").read_text(),
    flags=re.MULTILINE,
)
LEAKS = ("Traceback", "psycopg", "SELECT ", 'File "')

SCHEMA = schemathesis.graphql.from_path(settings.BASE_DIR / "schema.graphql")
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

pytestmark = pytest.mark.django_db


def datetimes() -> st.SearchStrategy[Any]:
    """Slot-like starts around the frozen clock (aware, sometimes naive), and odd strings."""
    near = st.builds(
        lambda days, hours, minutes: NOW + timedelta(days=days, hours=hours, minutes=minutes),
        st.integers(-3, 120),
        st.integers(0, 23),
        st.sampled_from([0, 0, 0, 15, 30, 59]),
    )
    return st.one_of(
        near.map(lambda value: value.isoformat()),
        near.map(lambda value: value.replace(tzinfo=None).isoformat()),
        st.datetimes(timezones=st.just(UTC)).map(lambda value: value.isoformat()),
        st.text(max_size=30),
    ).map(nodes.String)


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none().map(lambda _: nodes.Null()),
        st.booleans().map(nodes.Boolean),
        st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
        st.text(max_size=20).map(nodes.String),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(nodes.List),
            st.dictionaries(
                st.from_regex(r"[a-z][a-zA-Z]{0,8}", fullmatch=True), children, max_size=3
            ).map(lambda fields: nodes.Object(list(fields.items()))),
        ),
        max_leaves=6,
    )


def world() -> tuple[User, list[int]]:
    """The fuzzing user (client, provider, organizer) and the primary keys of rows to aim at."""
    user = make_user(email="fuzz@example.com")
    client = Client.objects.create(user=user)
    provider = Provider.objects.create(user=user, display_name="Fuzz")
    other = Provider.objects.create(user=make_user(), display_name="Other")
    windows = [
        AvailabilityWindow.objects.create(provider=p, start=NOW, end=NOW + timedelta(days=30))
        for p in (provider, other)
    ]
    held = make_reservation(provider=other, client=client, start=at(8, 9), status="HELD")
    confirmed = make_reservation(provider=provider, client=client, start=at(9, 10))
    event = event_propose(
        actor=actor_for(user),
        parties=["party@example.com"],
        slots=[SlotInput(start=start, duration_minutes=60) for start in EVENT_STARTS],
        title="Fuzz",
        now=NOW,
    )
    pks = [user.pk, client.pk, provider.pk, other.pk, held.pk, confirmed.pk, event.pk]
    pks += [w.pk for w in windows] + list(event.candidates.values_list("pk", flat=True))
    return user, sorted(set(pks))


def register_scalars(pks: list[int]) -> None:
    from strawberry.relay import to_base64

    ids = sorted({to_base64(name, pk) for name in NODE_TYPES for pk in pks})
    schemathesis.graphql.scalar(
        "ID",
        st.one_of(st.sampled_from(ids), st.text(max_size=24)).map(nodes.String),
    )
    schemathesis.graphql.scalar("DateTime", datetimes())
    schemathesis.graphql.scalar("JSON", json_values())


def check(response: Any, document: str) -> list[str]:
    """The error codes of one answer; fails on anything outside the contract."""
    where = f"HTTP {response.status_code} for:\n{document}\n{response.content[:2000]!r}"
    assert response.status_code < 500 or (
        response.status_code == 503 and response.headers.get("Retry-After")
    ), where
    body = json.loads(response.content)
    assert isinstance(body, dict), where
    assert "data" in body or "errors" in body, where
    codes = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code, where
        assert not any(leak in error.get("message", "") for leak in LEAKS), where
        codes.append(code)
    # Mutation payloads: OperationInfo messages carry a code too.
    for value in (body.get("data") or {}).values():
        if isinstance(value, dict) and isinstance(value.get("messages"), list):
            for message in value["messages"]:
                assert message.get("code", "selected") is not None, where
                assert not any(leak in (message.get("message") or "") for leak in LEAKS), where
            codes += [m["code"] for m in value["messages"] if "code" in m]
    return codes or (["OK"] if body.get("data") is not None else ["NO_DATA"])


def test_every_field_of_the_schema_answers_within_the_contract() -> None:
    # Given a user who is a client, a provider and an organizer, and rows to aim IDs at
    user, pks = world()
    register_scalars(pks)
    http = HttpClient()
    token = {"secret": token_of(user)}
    per_operation = max(2, FUZZ_EXAMPLES // len(OPERATIONS))
    outcomes: Counter[str] = Counter()
    sent = Counter[str]()

    # When every field gets generated operations
    for operation in OPERATIONS:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=per_operation,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            cache.clear()  # rate limits: keep the requests reaching the resolvers
            document = case.body
            response = http.post(
                GRAPHQL_URL,
                data=json.dumps({"query": document, "variables": {}}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token['secret']}",
            )
            # Then each answer is within the contract
            codes = check(response, document)
            sent[case.operation.label] += 1
            outcomes.update(codes)
            if (
                response.status_code == 401
                or not User.objects.filter(pk=user.pk, is_active=True).exists()
            ):
                # apiTokenRevoke (of its own token) or similar: carry on as the same user
                User.objects.filter(pk=user.pk).update(is_active=True)
                token["secret"] = token_of(user)

        fuzz()

    total = sum(sent.values())
    print(f"\nfuzzed {len(sent)} fields with {total} operations; outcomes:")
    for code, count in outcomes.most_common():
        print(f"  {count:>6} {code}")
    assert len(sent) == len(OPERATIONS)
    assert "INTERNAL_ERROR" not in outcomes
    # And the services were reached, not only the parser and the permission checks
    assert outcomes["OK"] > 0


# Regressions of what the fuzzing found.

API_TOKENS_BEFORE = """
query Tokens($before: String!) { apiTokens(before: $before) { edges { node { id } } } }
"""


@pytest.mark.parametrize("cursor", ["!!", "bm9jb2xvbg=="])
def test_a_malformed_cursor_is_invalid_cursor_not_an_internal_error(cursor: str) -> None:
    # Given a user with a token
    user = make_user()
    # When a page is asked for before a cursor that is not base64 of "type:id"
    response = HttpClient().post(
        GRAPHQL_URL,
        data=json.dumps({"query": API_TOKENS_BEFORE, "variables": {"before": cursor}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_of(user)}",
    )
    # Then it is refused as a bad cursor (it was INTERNAL_ERROR, found by the fuzzer)
    assert response.status_code == 200
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["INVALID_CURSOR"]


TOKENS = "query { apiTokens { edges { node { id } } } }"


def outage(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: SELECT 1')


@pytest.mark.parametrize(
    "where", ["api.middleware.bearer_actor", "api.accounts.queries.api_tokens_of"]
)
def test_a_database_outage_is_a_clean_retryable_503(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a token, and the database gone when the middleware (who is asking) or a resolver
    # reaches it
    token = token_of(make_user())
    monkeypatch.setattr(where, outage)
    # When a query is sent
    response = HttpClient().post(
        GRAPHQL_URL,
        data=json.dumps({"query": TOKENS}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    # Then the answer says to retry shortly, and shows nothing of the database
    assert (response.status_code, response["Retry-After"]) == (503, "2")
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["DATABASE_UNAVAILABLE"]
    assert [e["message"] for e in body["errors"]] == [
        "The database is unavailable for a moment; retry shortly."
    ]
