"""The serving processes' garbage collector settings (api.runtime), as gunicorn loads them."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from api.runtime import gc_threshold
from reservation.tests.interpreter import run_python

REPORT = (
    "import gc, json, {module}; "
    "print(json.dumps({{'threshold': gc.get_threshold(), 'frozen': gc.get_freeze_count()}}))"
)


def loaded(module: str, **env: str) -> dict:
    """gc's state in a fresh interpreter right after importing the entry point `module`."""
    done = run_python(REPORT.format(module=module), env=env, without=("GC_THRESHOLD",))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["api.wsgi", "api.asgi"])
def test_the_start_up_heap_is_frozen_and_the_threshold_raised(module):
    state = loaded(module)
    assert state["threshold"] == [10000, 10, 10]
    # Django, the URLconf and the schema: far more than a bare interpreter's few thousand.
    assert state["frozen"] > 100_000


def test_gc_threshold_is_read_from_the_environment():
    assert loaded("api.wsgi", GC_THRESHOLD="2000,20,5")["threshold"] == [2000, 20, 5]
    assert loaded("api.wsgi", GC_THRESHOLD="")["threshold"] == [10000, 10, 10]


@pytest.mark.parametrize("text", ["ten", "1,2,3,4", "700,-1", "0", "0,10,10", "700;10;10", "1.5"])
def test_a_bad_gc_threshold_is_refused_with_what_is_expected(text):
    with pytest.raises(ImproperlyConfigured) as refused:
        gc_threshold(text)
    assert str(refused.value) == (
        "GC_THRESHOLD must be one to three whole numbers separated by commas, the first at least "
        "1 and the others at least 0, as for Python's gc.set_threshold (e.g. 10000,10,10); got "
        f"{text!r}."
    )


def test_a_bad_gc_threshold_stops_the_process_before_it_serves():
    done = run_python("import api.wsgi", env={"GC_THRESHOLD": "lots"})
    assert done.returncode == 1
    assert "ImproperlyConfigured: GC_THRESHOLD must be one to three whole numbers" in done.stderr
