"""Starting a local Ray instance is the runtime's to retry: Ray gives a new node a fixed 30 s to
register and then raises, which a busy machine can hit with nothing wrong (it did, in CI).

The start is driven with a stand-in for ``ray.init`` (an extra unit-test double: the real start
is exercised by every Ray test of this directory), which leaves a half-started process behind
as Ray does, then fails."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import ray
from aworld_engine_ray._engine import RayEngine

TIMED_OUT = (
    "The current node timed out during startup. This could happen because some of the "
    "raylet failed to startup or the GCS has become overloaded."
)


@pytest.fixture
def left_behind() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The processes the stand-in leaves running, each stopped by pid at the end."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.kill()
        process.wait()


def _failing_init(
    monkeypatch: pytest.MonkeyPatch, failures: int, left_behind: list[subprocess.Popen[bytes]]
) -> list[dict[str, object]]:
    """Put in a ``ray.init`` that fails ``failures`` times, each leaving a process of ours."""
    calls: list[dict[str, object]] = []

    def init(**kwargs: object) -> None:
        calls.append(kwargs)
        if len(calls) <= failures:
            # what a failed start leaves running: a process of ours nobody will stop
            left_behind.append(
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            )
            raise Exception(TIMED_OUT)

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    return calls


def test_a_local_ray_that_does_not_come_up_is_started_again_and_its_leftovers_killed(
    monkeypatch: pytest.MonkeyPatch, left_behind: list[subprocess.Popen[bytes]]
) -> None:
    calls = _failing_init(monkeypatch, 2, left_behind)
    RayEngine({"num_cpus": 1})._start_local_ray()
    assert len(calls) == 3
    assert calls[-1]["num_cpus"] == 1
    for process in left_behind:  # killed by the engine, not by this test
        assert process.wait(timeout=10) == -9


def test_a_local_ray_that_never_comes_up_fails_with_rays_reason(
    monkeypatch: pytest.MonkeyPatch, left_behind: list[subprocess.Popen[bytes]]
) -> None:
    calls = _failing_init(monkeypatch, 5, left_behind)
    with pytest.raises(Exception, match="timed out during startup"):
        RayEngine({})._start_local_ray()
    assert len(calls) == 3
