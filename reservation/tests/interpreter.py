"""Code run by a fresh Python interpreter of this venv, in the project, with the settings:
for what happens at start-up (settings refusing a value, the serving processes' set-up)."""

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(
    code: str, *, env: dict[str, str], without: Iterable[str] = ()
) -> subprocess.CompletedProcess[str]:
    """`code` run with the caller's environment minus `without`, plus `env`."""
    dropped = set(without)
    inherited = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(  # noqa: S603 - this interpreter, code the tests wrote
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
