"""Remote tools that no worker serves at the moment: a known tool (named by the task, or
declared by a worker before) waits for a worker — schedule-to-start, as Temporal's activities
do — instead of handing the agent a "not found" answer; a name nobody knows fails at once."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from aworld_client import (
    AgentSpec,
    AsyncClient,
    Payload,
    RunNodeKind,
    RunNodeStatus,
    Swarm,
    Task,
    TaskConfig,
    TaskStatus,
    ToolCallFinished,
    ToolCallStarted,
)
from aworld_server.server import RunningServer
from server_harness import WAIT, SpawnWorker, StartServer, assert_eventually, scripted, tool_task


async def _terminal(client: AsyncClient, task_id: str) -> tuple[TaskStatus, str, list]:  # type: ignore[type-arg]
    async with asyncio.timeout(WAIT):
        events = [e async for e in client.events(task_id)]
    final = events[-1].body.response  # type: ignore[union-attr]
    return final.status, final.answer.as_text() if final.answer else "", events


async def _tool_node_running(client: AsyncClient, task_id: str) -> bool:
    state = await client.state(task_id)
    return any(
        n.kind == RunNodeKind.TOOL and n.status == RunNodeStatus.RUNNING for n in state.nodes
    )


async def test_a_task_waits_for_the_worker_of_its_tool_to_connect(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    task_id = await client.submit(tool_task("echo", {"text": "hi"}))
    await assert_eventually(lambda: _tool_node_running(client, task_id))
    # Waiting for a worker is not an attempt: nothing is recorded as started yet.
    events = [e async for e in client.events(task_id, follow=False)]
    assert not [e for e in events if isinstance(e.body, ToolCallStarted)]

    worker = await spawn_worker()
    status, answer, events = await _terminal(client, task_id)
    assert status == TaskStatus.SUCCEEDED, answer
    output = json.loads(answer.removeprefix("got "))
    assert output["pid"] == worker.pid
    (started,) = [e.body for e in events if isinstance(e.body, ToolCallStarted)]
    assert output["idempotency_key"] == f"{task_id}/{started.call_id}"
    (info,) = await client.workers("echo")
    assert started.worker_id == info.worker_id  # the worker that ran it, for every client


async def test_schedule_to_start_timeout_of_the_task_and_of_the_server(
    start: StartServer,
) -> None:
    server = await start(schedule_to_start_timeout=timedelta(milliseconds=100))
    async with AsyncClient(server.address) as client:
        quick = TaskConfig(schedule_to_start_timeout=timedelta(milliseconds=50))
        for task in (
            tool_task("echo", {"text": "a"}, conf=quick),
            tool_task("echo", {"text": "b"}),
        ):
            status, answer, events = await _terminal(client, await client.submit(task))
            # The agent is told, with a typed failure, after the wait, never "not found".
            assert status == TaskStatus.SUCCEEDED
            assert "ScheduleToStartTimeout" in answer, answer
            (finished,) = [e.body for e in events if isinstance(e.body, ToolCallFinished)]
            assert finished.failure is not None
            assert finished.failure.type == "ScheduleToStartTimeout"
            assert not finished.will_retry


async def test_a_tool_nobody_knows_fails_at_once(
    server: RunningServer, client: AsyncClient
) -> None:
    # The task names only "echo"; its agent calls "nobody", which no worker ever declared.
    script = [
        {"tool_calls": [{"name": "nobody", "arguments": {}}]},
        {"content": "{last_tool_output}"},
    ]
    agent = AgentSpec(name="solver", tool_names=["echo"], model=scripted(script))
    task = Task(input=Payload.from_text("go"), swarm=Swarm(agents=[agent]))
    # The server's schedule-to-start timeout is 60 s: within WAIT only failing at once passes.
    status, answer, _ = await _terminal(client, await client.submit(task))
    assert status == TaskStatus.SUCCEEDED
    assert "ToolNotFound" in answer, answer
