"""Retries: attempts, backoff, non-retryable errors, and an agent that recovers."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta

import pytest
from aworld_client import RetryPolicy, Task, TaskStatus, ToolCallFinished, ToolCallStarted
from aworld_client.handlers import tool
from aworld_server import Runtime
from aworld_server.retry import backoff_delay


class Unavailable(Exception):
    pass


class BadRequest(Exception):
    pass


def _policy(**overrides: object) -> RetryPolicy:
    base = dict(
        initial_interval=timedelta(milliseconds=40),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(milliseconds=100),
        maximum_attempts=4,
    )
    base.update(overrides)
    return RetryPolicy(**base)  # type: ignore[arg-type]


def test_backoff_grows_and_is_capped() -> None:
    policy = _policy()
    assert [backoff_delay(policy, n) for n in (1, 2, 3, 4)] == [
        timedelta(milliseconds=40),
        timedelta(milliseconds=80),
        timedelta(milliseconds=100),
        timedelta(milliseconds=100),
    ]
    assert backoff_delay(RetryPolicy(), 1) == timedelta(seconds=1)


async def _attempts(runtime: Runtime, task_id: str) -> tuple[list, list]:
    events = [e async for e in runtime.stream(task_id, follow=False)]
    started = [e for e in events if isinstance(e.body, ToolCallStarted)]
    finished = [e.body for e in events if isinstance(e.body, ToolCallFinished)]
    return started, finished


async def test_always_failing_tool_is_tried_n_times_with_backoff_then_agent_recovers(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    @tool
    def unreliable() -> int:
        raise Unavailable("service unavailable")

    runtime.registry.add_tool(unreliable)
    script = [
        {"tool_calls": [{"name": "unreliable", "arguments": {}}]},
        {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 2}}]},
        {"content": "recovered with {last_tool_output}"},
    ]
    task = make_task(script, retry_policy=_policy())
    task.swarm.agents[0].tool_names = ["unreliable", "add"]
    response = await runtime.run(task)

    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.value() == "recovered with 4"
    started, finished = await _attempts(runtime, response.id)
    unreliable_starts = [e for e in started if e.body.tool_name == "unreliable"]
    assert [e.body.attempt for e in unreliable_starts] == [1, 2, 3, 4]
    assert [f.will_retry for f in finished if f.tool_name == "unreliable"] == [
        True,
        True,
        True,
        False,
    ]
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(unreliable_starts)]
    for gap, expected in zip(gaps, (0.040, 0.080, 0.100), strict=True):
        assert expected <= gap < expected + 0.08, gaps
    trajectory = await runtime.trajectory(response.id)
    assert trajectory[0].reward.tool_outputs[0].value()["error"]["type"] == "Unavailable"


@pytest.mark.parametrize("how", ["listed type", "invalid input"])
async def test_non_retryable_errors_are_tried_once(
    runtime: Runtime, make_task: Callable[..., Task], how: str
) -> None:
    @tool
    def strict(n: int) -> int:
        raise BadRequest("no")

    runtime.registry.add_tool(strict)
    arguments = {"n": 1} if how == "listed type" else {"n": "not a number"}
    script = [{"tool_calls": [{"name": "strict", "arguments": arguments}]}, {"content": "ok"}]
    task = make_task(script, retry_policy=_policy(non_retryable_error_types=["BadRequest"]))
    task.swarm.agents[0].tool_names = ["strict"]
    response = await runtime.run(task)

    _, finished = await _attempts(runtime, response.id)
    assert len(finished) == 1 and finished[0].will_retry is False
    expected = "BadRequest" if how == "listed type" else "InvalidHandlerInput"
    assert finished[0].failure.type == expected


async def test_flaky_tool_succeeds_on_a_later_attempt(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    failures = iter([Unavailable("1"), Unavailable("2")])

    @tool(name="add")
    def flaky_add(a: int, b: int) -> int:
        error = next(failures, None)
        if error is not None:
            raise error
        return a + b

    runtime.registry.add_tool(flaky_add)
    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]},
        {"content": "{last_tool_output}"},
    ]
    response = await runtime.run(
        make_task(script, retry_policy=_policy(initial_interval=timedelta(milliseconds=1)))
    )
    assert response.answer.value() == "2"
    started, _ = await _attempts(runtime, response.id)
    assert [e.body.attempt for e in started] == [1, 2, 3]


async def test_an_attempt_that_swallowed_a_cancellation_is_not_retried() -> None:
    import asyncio

    from aworld_client import RetryPolicy
    from aworld_server.retry import retry_async

    attempts: list[int] = []
    entered = asyncio.Event()

    async def work(n: int) -> None:
        attempts.append(n)
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ConnectionError("the client turned the cancellation into this") from None

    policy = RetryPolicy(initial_interval=timedelta(milliseconds=1), maximum_attempts=5)
    running = asyncio.ensure_future(retry_async(work, policy))
    await entered.wait()
    running.cancel()
    with pytest.raises((ConnectionError, asyncio.CancelledError)):
        async with asyncio.timeout(10):  # a retry would wait forever in attempt 2
            await running
    assert attempts == [1]  # a retry would have hidden the shutdown's cancellation
