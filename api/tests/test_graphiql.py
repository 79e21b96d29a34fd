"""GraphiQL is served by this server alone and works in a real browser, signing in included.

The browser test drives Debian's Chromium (headless) through Python playwright against a live
server on loopback, with every request to another host refused: a machine with no internet.
"""

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client as HttpClient

from api.graphiql import VENDOR_FILES, assets_missing
from api.tests.conftest import GRAPHQL_URL, token_of
from reservation.tests.factories import PASSWORD, make_client

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
GRAPHIQL_PACKAGE = Path(__file__).resolve().parents[2] / "devops" / "graphiql"
NOT_BUILT = "GraphiQL's files are not built: run `make graphiql` (npm ci in devops/graphiql)."


def chromium_path() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


def static_references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


# --- the page, without a browser ---------------------------------------------------------------


def test_the_page_loads_nothing_from_another_host_and_runs_no_inline_script(db: None) -> None:
    if assets_missing():
        pytest.fail(NOT_BUILT)
    http = HttpClient(enforce_csrf_checks=True)

    page = http.get(GRAPHQL_URL, HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    html = page.content.decode()
    assert "csrftoken" in page.cookies  # the fetcher sends it back as X-CSRFToken
    references = static_references(html)
    assert [ref for ref in references if not ref.startswith(("/static/", "data:"))] == []
    for vendor in VENDOR_FILES:
        assert f"/static/{vendor}" in references
    assert "/static/api/graphiql/graphiql.js" in references
    for ref in references:
        if ref.startswith("/static/"):
            assert finders.find(ref.removeprefix("/static/")), ref
    # Every <script> has a src: a Content-Security-Policy without 'unsafe-inline' allows it.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert "unpkg.com" not in html
    assert "cdn" not in html.lower()


def test_the_served_files_are_the_versions_package_lock_pins() -> None:
    if assets_missing():
        pytest.fail(NOT_BUILT)
    lock = json.loads((GRAPHIQL_PACKAGE / "package-lock.json").read_text())
    pinned = {
        name: lock["packages"][f"node_modules/{name}"]["version"]
        for name in ("react", "react-dom", "graphiql")
    }
    built = json.loads(Path(finders.find("api/graphiql/vendor/versions.json")).read_text())

    assert built == pinned


def test_without_built_files_the_page_says_how_to_build_them(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finders, "find", lambda *args, **kwargs: None)
    monkeypatch.setattr("django.conf.settings.STATIC_ROOT", None)

    page = HttpClient().get(GRAPHQL_URL, HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    assert "make graphiql" in page.content.decode()
    assert "<script" not in page.content.decode()
    assert "csrftoken" in page.cookies


# --- in a real browser -------------------------------------------------------------------------

LOGIN = """mutation {
  login(email: "%s", password: "%s") {
    ... on User { email }
    ... on OperationInfo { messages { code message } }
  }
}"""
ME = "query { me { email } }"


@dataclass
class Browser:
    page: Any  # playwright's Page
    url: str  # GraphiQL on the live server
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)  # to any other host


@pytest.fixture
def browser(live_server: Any) -> Iterator[Browser]:
    """A headless Chromium page that can reach the live server only."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's `chromium`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Python playwright is not installed (it is a dev dependency: make install)")
    if assets_missing():
        pytest.fail(NOT_BUILT)
    origin = live_server.url
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = chromium.new_page()
            seen = Browser(page=page, url=origin + GRAPHQL_URL)

            def route(route: Any) -> None:
                if route.request.url.startswith(origin):
                    route.continue_()
                else:  # no internet: anything else fails, and is recorded
                    seen.foreign_requests.append(route.request.url)
                    route.abort()

            page.route("**/*", route)
            page.on(
                "console",
                lambda message: (
                    message.type == "error" and seen.console_errors.append(message.text)
                ),
            )
            page.on("pageerror", lambda error: seen.console_errors.append(str(error)))
            yield seen
        finally:
            chromium.close()


def run_in_graphiql(page: Any, document: str) -> dict[str, Any]:
    """Type `document` into GraphiQL's editor, press Run, and return the result pane's JSON."""
    page.evaluate(
        "doc => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
        ".setValue(doc)",
        document,
    )
    page.evaluate(
        "() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.setValue('')"
    )
    page.wait_for_timeout(400)  # GraphiQL re-parses the edited document after a debounce
    page.click(".graphiql-execute-button")
    page.wait_for_function(
        "() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror"
        ".getValue().trim().startsWith('{')"
    )
    return json.loads(
        page.evaluate(
            "() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
        )
    )


def set_headers(page: Any, headers: str) -> None:
    page.get_by_role("button", name="Headers").click()
    page.evaluate(
        """value => {
            const shown = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
            document.querySelector(shown).CodeMirror.setValue(value);
        }""",
        headers,
    )


@pytest.fixture
def ana_and_bens_token(transactional_db: None) -> str:
    """Ana signs in with her password; Ben's API token is pasted. (Made before the browser
    starts: playwright's event loop forbids the ORM in this thread.)"""
    make_client(email="ana@example.com")
    return token_of(make_client(email="ben@example.com").user)


def test_graphiql_in_chromium_without_internet_signs_in_and_runs_me(
    ana_and_bens_token: str, browser: Browser
) -> None:
    page = browser.page
    token = ana_and_bens_token

    page.goto(browser.url)
    page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=20_000)

    # Given an anonymous visitor, a query runs (the schema loaded: the docs work too).
    assert run_in_graphiql(page, ME) == {"data": {"me": None}}
    # When they sign in inside GraphiQL (login rotates the csrftoken cookie) ...
    signed_in = run_in_graphiql(page, LOGIN % ("ana@example.com", PASSWORD))
    assert signed_in == {"data": {"login": {"email": "ana@example.com"}}}
    # ... then the next requests carry the new token, with no reload.
    assert run_in_graphiql(page, ME) == {"data": {"me": {"email": "ana@example.com"}}}
    assert run_in_graphiql(page, ME) == {"data": {"me": {"email": "ana@example.com"}}}

    # A pasted Bearer token is used, and kept in no storage of the browser.
    set_headers(page, json.dumps({"Authorization": f"Bearer {token}"}))
    assert run_in_graphiql(page, ME) == {"data": {"me": {"email": "ben@example.com"}}}
    stored = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage),"
        " document.cookie])"
    )
    assert token not in stored
    assert "ana@example.com" in stored  # what GraphiQL does keep (its query tabs) was read

    assert browser.console_errors == []
    assert browser.foreign_requests == []
