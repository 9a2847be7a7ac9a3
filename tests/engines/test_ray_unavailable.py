"""A Ray actor that is restarting (after its process was killed) fails every call sent to it at
once with ``ActorUnavailableError``. A lost job is therefore sent again only once the actors
answer, so a busy machine's slow restart does not spend the task's retry policy one failed call
after another (it did, at load ~10: the held task of
``test_jobs_sent_together_survive_their_killed_worker`` ran out of attempts).

Driven with stand-in actors and result streams (extra unit-test doubles); a real kill and
restart is exercised by that contract test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import ray
from aworld_client import RetryPolicy, Task
from aworld_engine_ray import _engine
from aworld_engine_ray._engine import RayEngine, _Job
from aworld_server.engines import TaskJob


class _Restarting:
    """An actor that is unavailable for its first ``calls`` readiness checks."""

    def __init__(self, calls: int, log: list[str]) -> None:
        self.calls, self.log = calls, log
        self.ready = self

    def remote(self) -> Any:
        async def answer() -> int:
            self.calls -= 1
            if self.calls >= 0:
                self.log.append("unavailable")
                raise ray.exceptions.ActorUnavailableError("restarting", None)
            self.log.append("ready")
            return 0

        return answer()


async def _failing(error: Exception) -> AsyncIterator[Any]:
    raise error
    yield  # an async generator that fails on its first step


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_engine, "_RESTART_POLL", 0.0)


async def test_a_lost_job_is_sent_again_once_its_restarting_actor_answers() -> None:
    log: list[str] = []
    engine = RayEngine({})
    engine._actors, engine._load = [_Restarting(3, log)], [1]

    def dispatch(entry: _Job) -> None:
        log.append(f"sent attempt {entry.job.attempt}")

    engine._dispatch = dispatch  # type: ignore[method-assign]
    task = Task(id="t1", retry_policy=RetryPolicy(maximum_attempts=2))
    job = TaskJob(task_id="t1", task=task.to_bytes(), control_plane="", job_id="j1")
    entry = _Job(job, actor=0)
    engine._jobs["t1"] = entry

    await engine._await([entry], _failing(ray.exceptions.ActorUnavailableError("killed", None)))
    assert entry.waiter is not None
    await entry.waiter

    # One attempt for the loss, none for the restart: sent once, after the actor answered.
    assert log == ["unavailable"] * 3 + ["ready", "sent attempt 2"]
    assert engine._results.empty()
