"""Tasks submitted through RuntimeService whose agent calls a tool served by worker processes:
reassignment when a worker is killed or hangs, fencing of late results, the non-idempotent
case, and cancellation reaching the worker."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

from aworld_client import (
    AsyncClient,
    Event,
    HandlerKind,
    TaskStatus,
    ToolCallFinished,
    ToolCallStarted,
)
from aworld_server.server import RunningServer
from server_harness import WAIT, SpawnWorker, assert_eventually, first_to_print, tool_task


async def workers_ready(server: RunningServer, name: str, count: int) -> None:
    async with asyncio.timeout(WAIT):
        await server.dispatcher.wait_for_handler(name, HandlerKind.TOOL, workers=count)


async def finished_tool_calls(client: AsyncClient, task_id: str) -> list[ToolCallFinished]:
    events = [e async for e in client.events(task_id, follow=False)]
    return [e.body for e in events if isinstance(e.body, ToolCallFinished)]


def output_of(answer: str) -> Any:
    prefix = "got "
    assert answer.startswith(prefix), answer
    return json.loads(answer[len(prefix) :])


async def test_task_succeeds_when_the_worker_running_its_tool_is_killed(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    workers = [await spawn_worker(), await spawn_worker()]
    await workers_ready(server, "block", 2)

    task_id = await client.submit(tool_task("block", {"key": "kill-1"}))
    first = await first_to_print(workers, r"^started kill-1 1 ")
    await first.kill()  # SIGKILL mid-call: no goodbye on the stream
    (other,) = [w for w in workers if w is not first]
    await other.expect(r"^started kill-1 2 ")
    other.command("release kill-1")

    final = await _terminal(client, task_id)
    assert final.status == TaskStatus.SUCCEEDED, final
    assert final.answer is not None
    assert output_of(final.answer.as_text()) == {"key": "kill-1", "pid": other.pid, "attempt": 2}
    calls = await finished_tool_calls(client, task_id)
    assert [(c.attempt, c.failure.type if c.failure else "ok", c.will_retry) for c in calls] == [
        (1, "WorkerLost", True),
        (2, "ok", False),
    ]


async def test_non_idempotent_tool_lost_with_its_worker_is_an_observation_not_a_rerun(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    workers = [await spawn_worker(), await spawn_worker()]
    await workers_ready(server, "block_once", 2)

    task_id = await client.submit(tool_task("block_once", {"key": "once-1"}))
    await (await first_to_print(workers, r"^started once-1 1 ")).kill()

    final = await _terminal(client, task_id)
    # The tool may have had effects, so it is not run again; the agent sees the failure.
    assert final.status == TaskStatus.SUCCEEDED, final
    assert final.answer is not None and "WorkerLost" in final.answer.as_text()
    calls = await finished_tool_calls(client, task_id)
    assert [(c.attempt, c.failure.type if c.failure else "ok", c.will_retry) for c in calls] == [
        (1, "WorkerLost", False)
    ]
    assert all(not w.matches(r"^started once-1 2 ") for w in workers)


async def test_hung_worker_call_is_reassigned_and_its_late_result_rejected(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    workers = [await spawn_worker(), await spawn_worker()]
    await workers_ready(server, "freeze", 2)

    task_id = await client.submit(tool_task("freeze", {"key": "hang-1"}))
    frozen = await first_to_print(workers, r"^freezing hang-1 ")
    (healthy,) = [w for w in workers if w is not frozen]

    # The frozen worker stops heartbeating; after the timeout attempt 2 runs on the other one.
    final = await _terminal(client, task_id)
    assert final.status == TaskStatus.SUCCEEDED, final
    assert final.answer is not None
    assert output_of(final.answer.as_text()) == {"key": "hang-1", "pid": healthy.pid, "attempt": 2}

    stored = [e.seq for e in await _stored(server, task_id)]
    frozen.signal(signal.SIGCONT)  # it finishes attempt 1 and reports it: too late
    await frozen.expect(r"rejected by the server: superseded")
    assert server.dispatcher.rejected_completions == 1
    # The late result changed nothing in the task's history.
    assert [e.seq for e in await _stored(server, task_id)] == stored
    calls = await finished_tool_calls(client, task_id)
    assert [(c.attempt, c.failure.type if c.failure else "ok") for c in calls] == [
        (1, "WorkerLost"),
        (2, "ok"),
    ]
    assert calls[0].failure is not None and "missed heartbeats" in calls[0].failure.message


async def test_cancel_task_reaches_the_worker_running_its_tool(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    worker = await spawn_worker()
    await workers_ready(server, "block", 1)

    task_id = await client.submit(tool_task("block", {"key": "cancel-1"}))
    await worker.expect(r"^started cancel-1 1 ")

    assert await client.cancel(task_id, reason="user asked") == TaskStatus.CANCELLED
    # The handler saw asyncio.CancelledError in the worker process, which reported it.
    await worker.expect(r"^cancelled cancel-1 1$")
    final = await _terminal(client, task_id)
    assert final.status == TaskStatus.CANCELLED
    await assert_eventually(lambda: server.dispatcher.workers()[0].in_flight == 0)
    assert not worker.matches(r"^started cancel-1 2 ")


async def test_worker_reports_the_task_and_trace_of_the_call(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    worker = await spawn_worker()
    await workers_ready(server, "echo", 1)
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    task = tool_task("echo", {"text": "hi"}, headers={"traceparent": traceparent})
    events = [e async for e in client.run(task)]

    final = events[-1]
    assert final.is_terminal
    answer = output_of(_answer(final))
    # The call carries the calling span's context: the caller's trace, and a parent span that
    # is the caller's own span or (when spans are recorded) the tool call's span within it.
    seen = answer.pop("traceparent").split("-")
    assert seen[1] == traceparent.split("-")[1] and len(seen[2]) == 16
    started = [e.body for e in events if isinstance(e.body, ToolCallStarted)]
    assert [s.tool_name for s in started] == ["echo"]
    assert answer == {
        "text": "hi",
        "pid": worker.pid,
        "attempt": 1,
        "task_id": final.task_id,
        "idempotency_key": f"{final.task_id}/{started[0].call_id}",
    }


async def _terminal(client: AsyncClient, task_id: str) -> Any:
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            if event.is_terminal:
                body = event.body
                assert body is not None and hasattr(body, "response")
                return body.response
    raise AssertionError("no terminal event")


async def _stored(server: RunningServer, task_id: str) -> list[Event]:
    return list(await server.runtime.store.read(task_id))


def _answer(event: Event) -> str:
    body = event.body
    assert body is not None and hasattr(body, "response") and body.response is not None
    assert body.response.answer is not None
    return str(body.response.answer.as_text())
