"""The Rendezvous GraphQL API over HTTP: named operations from operations.graphql, a Bearer token.

Nothing else in the client builds a query string: `Api.run("Event", id=...)` sends the
`Event` operation of operations.graphql (with the fragments it spreads).
"""

from __future__ import annotations

import http.cookiejar
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

USER_AGENT = "rendezvous-tui/1"
RETRIES = 3
RETRY_WAIT = 2.0  # seconds; the server's Retry-After
TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class Problem:
    """One reason the server (or the way to it) gave for not doing something."""

    code: str
    message: str
    field: str | None = None


class ApiError(Exception):
    """The request failed as a whole (transport, authentication, GraphQL error)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.code}: {p.message}" for p in problems))
        self.problems = problems

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


class Refused(ApiError):
    """A mutation answered OperationInfo: nothing was done, for these reasons."""


@cache
def _document() -> DocumentNode:
    text = resources.files(__package__).joinpath("operations.graphql").read_text("utf-8")
    return parse(text)


def operation_names() -> list[str]:
    """Names of every operation in operations.graphql."""
    return [
        d.name.value
        for d in _document().definitions
        if isinstance(d, OperationDefinitionNode) and d.name
    ]


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def operation_kind(name: str) -> str:
    """`query` or `mutation`."""
    for d in _document().definitions:
        if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == name:
            return d.operation.value
    raise KeyError(f"no operation {name} in operations.graphql")


@cache
def operation_text(name: str) -> str:
    """The document to send for operation `name`: the operation and the fragments it uses."""
    document = _document()
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(
        (
            d
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == name
        ),
        None,
    )
    if operation is None:
        raise KeyError(f"no operation {name} in operations.graphql")
    needed: list[FragmentDefinitionNode] = []
    todo: list[Any] = [operation]
    seen: set[str] = set()
    while todo:
        spreads = _Spreads()
        visit(todo.pop(), spreads)
        for fragment in sorted(spreads.names - seen):
            seen.add(fragment)
            needed.append(fragments[fragment])
            todo.append(fragments[fragment])
    return "\n\n".join(print_ast(node) for node in [operation, *needed])


def _problems(errors: list[dict[str, Any]]) -> list[Problem]:
    return [
        Problem(
            code=str((e.get("extensions") or {}).get("code") or "GRAPHQL_ERROR"),
            message=str(e.get("message", "")),
        )
        for e in errors
    ]


class Api:
    """One server, one token (or none, for signing in). Keeps cookies only for signing in."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self._token = token
        self.on_retry: Callable[[str], None] = lambda _: None
        self._cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self._cookies)
        )

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    def _cookie(self, name: str) -> str | None:
        return next((c.value for c in self._cookies if c.name == name), None)

    def fetch_csrf_cookie(self) -> None:
        """Load the GraphiQL page once: it sets the csrftoken cookie a session POST echoes."""
        request = urllib.request.Request(
            self.url, headers={"Accept": "text/html", "User-Agent": USER_AGENT}
        )
        try:
            with self._opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                response.read()
        except (urllib.error.URLError, OSError):
            pass  # no page (GraphiQL off): servers that need no CSRF token for this still work

    def post(self, operation: str, variables: dict[str, Any], *, session: bool = False) -> dict:
        """Send `operation`; return its `data`, or raise ApiError with the codes."""
        body = json.dumps({"query": operation_text(operation), "variables": variables}).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if self._token and not session:
            headers["Authorization"] = f"Bearer {self._token}"
        if session:
            csrf = self._cookie("csrftoken")
            if csrf:
                headers["X-CSRFToken"] = csrf
            headers["Referer"] = self.url  # Django checks it on HTTPS
        request = urllib.request.Request(self.url, data=body, headers=headers)
        opener = self._opener if session else urllib.request.build_opener()
        try:
            with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                payload = json.load(exc)
            except ValueError:
                payload = None
            if not isinstance(payload, dict) or not payload.get("errors"):
                raise ApiError([Problem(f"HTTP_{exc.code}", exc.reason or "")]) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError([Problem("UNREACHABLE", f"{self.url}: {reason}")]) from None
        except ValueError:
            raise ApiError([Problem("BAD_RESPONSE", "the answer is not JSON")]) from None
        if payload.get("errors"):
            raise ApiError(_problems(payload["errors"]))
        return payload.get("data") or {}

    def run(self, operation: str, /, *, session: bool = False, **variables: Any) -> Any:
        """The value of the operation's one root field; an OperationInfo raises Refused.

        While the server's database is unavailable for a moment (DATABASE_UNAVAILABLE), a
        query is asked again, and so is a mutation that carries an idempotency key (`key`):
        repeating either cannot do anything twice. Other mutations are not repeated."""
        repeatable = operation_kind(operation) == "query" or "key" in variables
        for attempt in range(1, RETRIES + 1):
            try:
                return unwrap(self.post(operation, variables, session=session))
            except Refused:
                raise
            except ApiError as exc:
                if not repeatable or attempt == RETRIES or "DATABASE_UNAVAILABLE" not in exc.codes:
                    raise
                self.on_retry(
                    f"the server's database is unavailable; asking again in {RETRY_WAIT:g} s"
                )
                time.sleep(RETRY_WAIT)
        raise AssertionError("unreachable")


def unwrap(data: dict) -> Any:
    """The one root field's value; an OperationInfo there becomes Refused."""
    (value,) = data.values()
    if isinstance(value, dict) and value.get("__typename") == "OperationInfo":
        raise Refused(
            [
                Problem(str(m.get("code") or "REFUSED"), str(m.get("message", "")), m.get("field"))
                for m in value.get("messages", [])
            ]
        )
    return value
