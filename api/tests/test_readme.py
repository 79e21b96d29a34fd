"""Every GraphQL and curl example in README.md runs against a live server, so none goes stale.

The convention (README.md, "Examples that run"):
- A ```sh block is run. All of them run in order in one bash session (`set -euo pipefail`),
  as a reader pastes them into one terminal: variables set in one are there in the next.
  The session starts with API (the live server's /graphql), CLIENT and COACH (the demo
  client's and provider's API tokens, as `make run` prints them) in its environment.
- A ```graphql block is sent as it is, with the demo client's token, and must answer
  without `errors`.
- A ```json block right after a ```sh or ```graphql block is the output seen: the output now
  must have the same shape: the same keys, the same list lengths, the same numbers, booleans
  and nulls, and the same UPPER_CASE strings (enum values, error codes); other strings
  (IDs, times, messages) only need to be strings.
- `<!-- not-run: reason -->` on the line before a block keeps it from running.
- ```console and ```text blocks are transcripts and are not run; a curl command or a GraphQL
  operation in one is refused by this test (make it a ```sh or ```graphql block, or mark it).
"""

import io
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management import call_command

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^[ \t]*```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^[ \t]*```[ \t]*$", re.M | re.S)
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>\S.*?)\s*-->")
CONSTANT = re.compile(r"[A-Z][A-Z0-9_]+")  # enum values and error codes
RUN = {"sh", "graphql"}
TRANSCRIPT_RUNNABLE = re.compile(r"^\s*\$?\s*curl\s|^\s*(mutation|query)\b.*\{", re.M)
MARK = "@@@ readme block {} @@@"


@dataclass
class Block:
    lang: str
    code: str
    line: int
    not_run: str | None  # the reason given
    output: str | None = None  # the ```json block that follows, if any


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    previous_end = 0
    for match in FENCE.finditer(text):
        before = text[previous_end : match.start()]
        line = text.count("\n", 0, match.start()) + 1
        lines_before = [ln for ln in text[: match.start()].splitlines() if ln.strip()]
        marker = NOT_RUN.search(lines_before[-1]) if lines_before else None
        lang = match["lang"]
        if (
            lang == "json"
            and blocks
            and blocks[-1].lang in RUN
            and not before.strip()
            and marker is None
        ):
            blocks[-1].output = match["code"]
        else:
            blocks.append(Block(lang, match["code"], line, marker["reason"] if marker else None))
        previous_end = match.end()
    return blocks


def json_documents(text: str) -> list[Any]:
    """The JSON values in `text`, one after the other (curl prints one per request)."""
    decoder = json.JSONDecoder()
    values, index = [], 0
    text = text.strip()
    while index < len(text):
        value, index = decoder.raw_decode(text, index)
        values.append(value)
        while index < len(text) and text[index].isspace():
            index += 1
    return values


def shape_mismatches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        if set(expected) != set(actual):
            return [f"{path}: keys {sorted(actual)}, the README shows {sorted(expected)}"]
        return [
            m
            for key in expected
            for m in shape_mismatches(expected[key], actual[key], f"{path}.{key}")
        ]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [
            m
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for m in shape_mismatches(e, a, f"{path}[{i}]")
        ]
    if isinstance(expected, str) and not CONSTANT.fullmatch(expected):
        return [] if isinstance(actual, str) else [f"{path}: expected a string, got {actual!r}"]
    if expected != actual or type(expected) is not type(actual):
        return [f"{path}: {actual!r}, the README shows {expected!r}"]
    return []


# --- the convention itself, without a server ---------------------------------------------------


def test_the_readme_marks_every_example_it_does_not_run_with_a_reason() -> None:
    blocks = readme_blocks(README.read_text())

    assert [b for b in blocks if b.lang in RUN and b.not_run is None], "no example runs"
    for block in blocks:
        if block.lang in {"console", "text", "shell", "bash", ""} and block.not_run is None:
            assert not TRANSCRIPT_RUNNABLE.search(block.code), (
                f"README.md line {block.line}: a curl command or GraphQL operation in a "
                f"```{block.lang} block: make it ```sh / ```graphql, or mark it "
                "<!-- not-run: reason -->"
            )


def test_shapes_compare_keys_lengths_and_constants_not_ids_or_times() -> None:
    shown = {"data": {"x": {"id": "UmVz", "status": "HELD", "n": 2, "items": [{"a": "t"}]}}}
    same = {"data": {"x": {"id": "other", "status": "HELD", "n": 2, "items": [{"a": "u"}]}}}
    assert shape_mismatches(shown, same) == []
    assert shape_mismatches(shown, {"data": {"x": same["data"]["x"] | {"status": "CONFIRMED"}}})
    assert shape_mismatches(shown, {"data": {"x": same["data"]["x"] | {"n": 3}}})
    assert shape_mismatches(shown, {"data": {"x": same["data"]["x"] | {"items": []}}})
    assert shape_mismatches(shown, {"data": None, "errors": [{"message": "no"}]})


def test_blocks_not_run_carry_their_reason_and_outputs_attach_to_their_example() -> None:
    text = (
        '```sh\necho \'{"a": 1}\'\n```\n\n```json\n{"a": 1}\n```\n'
        "<!-- not-run: needs a link from an e-mail -->\n```sh\nexit 1\n```\n"
    )
    blocks = readme_blocks(text)
    assert [(b.lang, b.not_run, b.output) for b in blocks] == [
        ("sh", None, '{"a": 1}\n'),
        ("sh", "needs a link from an e-mail", None),
    ]


# --- against a live server ---------------------------------------------------------------------


@pytest.fixture
def frozen_clock() -> datetime:
    """Not frozen here (overrides api/tests/conftest.py): the README's dates are computed
    from the real now, by the reader's shell."""
    return datetime.now(UTC)


@pytest.fixture
def demo(transactional_db: None, live_server: Any, settings: Any) -> dict[str, str]:
    """The demo data of `make run`, and the environment its tokens give the README's shell."""
    settings.PUBLIC_BASE_URL = live_server.url  # feed URLs point at this server
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    tokens = dict(re.findall(r"^(provider|client)\s.*token: (\S+)$", out.getvalue(), re.M))
    return {
        "API": f"{live_server.url}/graphql",
        "CLIENT": tokens["client"],
        "COACH": tokens["provider"],
    }


def check_output(block: Block, actual_text: str) -> None:
    if block.output is None:
        return
    expected = json_documents(block.output)
    try:
        actual = json_documents(actual_text)
    except json.JSONDecodeError:
        pytest.fail(f"README.md line {block.line}: the output is not JSON:\n{actual_text}")
    assert len(actual) == len(expected), (
        f"README.md line {block.line}: {len(actual)} JSON answers, the README shows "
        f"{len(expected)}:\n{actual_text}"
    )
    for shown, got in zip(expected, actual, strict=True):
        mismatches = shape_mismatches(shown, got)
        assert mismatches == [], (
            f"README.md line {block.line}: the output differs from the README's:\n"
            + "\n".join(mismatches)
            + f"\n\nactual output:\n{actual_text}"
        )


def test_every_sh_and_graphql_example_in_the_readme_runs(demo: dict[str, str]) -> None:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (.ci/run installs them)")
    blocks = [b for b in readme_blocks(README.read_text()) if b.lang in RUN and not b.not_run]

    for block in [b for b in blocks if b.lang == "graphql"]:
        answer = requests.post(
            demo["API"],
            json={"query": block.code},
            headers={"Authorization": f"Bearer {demo['CLIENT']}"},
            timeout=30,
        )
        assert "errors" not in answer.json(), f"README.md line {block.line}: {answer.text}"
        check_output(block, answer.text)

    shell = [b for b in blocks if b.lang == "sh"]
    script = "set -euo pipefail\n" + "".join(
        f"printf '\\n%s\\n' '{MARK.format(i)}'\n{block.code}\n" for i, block in enumerate(shell)
    )
    env = {"PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"}
    done = subprocess.run(  # noqa: S603
        ["bash", "-c", script],  # noqa: S607
        env=env | demo,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    parts = re.split(r"^@@@ readme block (\d+) @@@$", done.stdout, flags=re.M)
    outputs = {int(index): text for index, text in zip(parts[1::2], parts[2::2], strict=True)}
    last = max(outputs, default=0)
    assert done.returncode == 0, (
        f"README.md line {shell[last].line}: the ```sh block failed (status {done.returncode})"
        f"\nstdout:\n{outputs.get(last, '')}\nstderr:\n{done.stderr}"
    )
    assert len(outputs) == len(shell)
    for index, block in enumerate(shell):
        check_output(block, outputs[index])
