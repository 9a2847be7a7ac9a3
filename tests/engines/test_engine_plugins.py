"""The plugins are found by entry point, and a missing heavy dependency is a clear error that
names the extra to install (checked in a subprocess where ``ray`` / ``pyspark`` cannot import)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aworld_server.engines import available_engines

_PROBE = """
import sys
sys.modules[{module!r}] = None  # as if not installed
from aworld_server.engines import load_engine
try:
    load_engine({engine!r})
except Exception as error:
    print(type(error).__name__, error)
"""


def test_ray_and_spark_are_installed_plugins() -> None:
    assert {"local", "ray", "spark"} <= set(available_engines())


@pytest.mark.parametrize(("engine", "module"), [("ray", "ray"), ("spark", "pyspark")])
def test_a_missing_dependency_names_the_extra(engine: str, module: str) -> None:
    probe = _PROBE.format(module=module, engine=engine)
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert output.startswith("FailedPrecondition")
    assert f"pip install 'aworld-server[{engine}]'" in output
    assert f"({module})" in output
