"""Settings refuse unsafe combinations at start-up (checked in a fresh interpreter)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            " print(settings.DEBUG, settings.TIME_ZONE)",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_refuses_default_secret_with_debug_off() -> None:
    result = load_settings(DEBUG="0")

    assert result.returncode == 1
    assert "SECRET_KEY is the insecure default while DEBUG is off" in result.stderr


def test_starts_with_debug_off_and_a_real_secret() -> None:
    result = load_settings(DEBUG="0", SECRET_KEY="x" * 50)

    assert (result.returncode, result.stdout) == (0, "False UTC\n")


def test_starts_in_debug_with_the_default_secret() -> None:
    result = load_settings(DEBUG="1")

    assert (result.returncode, result.stdout) == (0, "True UTC\n")


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_rejects_a_debug_value_that_is_not_a_boolean(value: str) -> None:
    result = load_settings(DEBUG=value, SECRET_KEY="x" * 50)

    assert result.returncode == 1
    assert f"DEBUG must be a boolean (1/0, true/false), got {value!r}" in result.stderr
