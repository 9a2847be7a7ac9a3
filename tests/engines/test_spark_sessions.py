"""Spark sessions: a Spark task is a session that runs the jobs the engine feeds it while it runs,
so a slot busy with a long job still takes more (nothing waits for a batch to drain), and a
session's ``max_concurrency`` (2 in this suite) is the most it runs at once: more wait at the
engine until a job of a full session ends. ``local[2]``: two sessions at most.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aworld_client import AsyncClient, TaskStatus, ToolCallFinished, ToolCallStarted
from aworld_server.engines import load_engine
from aworld_server.server import RunningServer
from engine_harness import WAIT, hold_task, make_task
from process_harness import assert_eventually

pytestmark = pytest.mark.timeout(240)

_PID_SCRIPT = [
    {"tool_calls": [{"name": "pid", "arguments": {}}]},
    {"content": "{last_tool_output}"},
]


async def _held(client: AsyncClient) -> tuple[str, int]:
    """A task holding in its Spark Python worker; its id and that worker's pid."""
    task_id = await client.submit(hold_task("spark"))
    pid = None
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            if isinstance(event.body, ToolCallFinished) and event.body.tool_name == "pid":
                pid = event.body.result.value()  # type: ignore[union-attr]
            if isinstance(event.body, ToolCallStarted) and event.body.tool_name == "hold_in":
                break
    assert isinstance(pid, int)
    return task_id, pid


async def _answer(client: AsyncClient, task_id: str) -> Any:
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            if event.is_terminal:
                response = event.body.response  # type: ignore[union-attr]
                assert response.status == TaskStatus.SUCCEEDED, response
                return int(response.answer.as_text())
    raise AssertionError("no terminal event")


async def test_running_sessions_take_more_jobs_up_to_max_concurrency(
    server: RunningServer, client: AsyncClient
) -> None:
    first, first_pid = await _held(client)
    second, second_pid = await _held(client)
    assert first_pid != second_pid  # the second job opened the second slot's session

    # Both slots run a job that does not end: new jobs still run, in those two sessions.
    quick = [await client.submit(make_task(_PID_SCRIPT, ["pid"], "spark")) for _ in range(2)]
    assert {await _answer(client, q) for q in quick} <= {first_pid, second_pid}

    # Two held jobs per session: the sessions are full, so the next job waits at the engine...
    more = [await _held(client) for _ in range(2)]
    assert {pid for _, pid in more} == {first_pid, second_pid}
    engine: Any = server.runtime.engines.engines["spark"]
    waiting = await client.submit(make_task(_PID_SCRIPT, ["pid"], "spark"))
    await assert_eventually(lambda: [job.task_id for job in engine._queue] == [waiting])
    # ...until a job of a full session ends: then that session runs it, the others still hold.
    assert await client.cancel(first) == TaskStatus.CANCELLED
    assert await _answer(client, waiting) == first_pid

    for task_id in [second, *(t for t, _ in more)]:  # cancel reaches jobs fed to a session
        assert await client.cancel(task_id) == TaskStatus.CANCELLED
        assert (await client.get(task_id)).response.status == TaskStatus.CANCELLED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_batch": 10}, "max_batch option is gone"),
        ({"max_concurrency": 0}, "max_concurrency must be at least 1"),
        # The job feed is plaintext (task credentials): off loopback only when allowed.
        ({"master": "spark://cluster:7077"}, "not loopback: it is plaintext TCP"),
        ({"feed_host": "10.1.2.3"}, "would listen on 10.1.2.3"),
        ({"master": "spark://h:7077", "allow_plaintext_feed": "yes"}, "must be true or false"),
    ],
)
def test_spark_options_that_would_do_nothing_are_refused(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_engine("spark", options)


def test_a_plaintext_feed_off_loopback_is_accepted_when_allowed() -> None:
    engine: Any = load_engine(
        "spark", {"master": "spark://cluster:7077", "allow_plaintext_feed": True}
    )
    assert engine.allow_plaintext_feed is True  # handed to the job feed at start (see its tests)
