"""InvokeHandler on local and remote tools, ListHandlers / ListWorkers with connected worker
processes, and GetSession / ListSessions, over a real channel."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import grpc
import pytest
from aworld_client import AsyncClient, HandlerKind, RuntimeServiceError
from aworld_server.server import RunningServer
from server_harness import WAIT, Gates, SpawnWorker, answer_task, assert_eventually

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def _workers_ready(server: RunningServer, count: int) -> None:
    async with asyncio.timeout(WAIT):
        await server.dispatcher.wait_for_handler("echo", HandlerKind.TOOL, workers=count)


async def test_invoke_a_local_tool(client: AsyncClient) -> None:
    response = await client.invoke("add", {"a": 2, "b": 40})
    assert (response.output.value() if response.output else None, response.attempts) == (42, 1)
    assert response.failure is None


async def test_invoke_a_local_tool_that_raises_returns_its_failure(client: AsyncClient) -> None:
    response = await client.invoke("explode", {"message": "boom"})

    assert response.output is None and response.attempts == 1
    assert response.failure is not None
    assert (response.failure.type, response.failure.message) == ("ValueError", "boom")


async def test_invoke_timeout_cancels_the_local_handler(client: AsyncClient, gates: Gates) -> None:
    response = await client.invoke("gate", {"key": "slow"}, timeout=timedelta(milliseconds=200))

    assert response.failure is not None and response.failure.type == "AttemptTimedOut"
    assert gates.cancelled == {"slow"}


async def test_invoke_a_remote_tool(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    worker = await spawn_worker()
    await _workers_ready(server, 1)

    response = await client.invoke(
        "echo", {"text": "hi"}, headers={"traceparent": TRACEPARENT}, request_id="inv-1"
    )

    assert response.failure is None and response.attempts == 1
    assert response.output is not None and response.output.value() == {
        "text": "hi",
        "pid": worker.pid,
        "attempt": 1,
        "traceparent": TRACEPARENT,
        "task_id": "",
        "idempotency_key": "inv-1",  # a direct call's key is the client's request id
    }


async def test_invoke_with_the_same_request_id_runs_the_handler_once(
    server: RunningServer, client: AsyncClient, gates: Gates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Count the requests that reached the servicer, so the gate opens only once all three
    # are in the server at the same time.
    arrived: list[str] = []
    calls_ = server.runtime_service._calls
    once = calls_.once

    async def counting(rpc: str, request_id: str, body: Any, work: Any) -> Any:
        arrived.append(request_id)
        return await once(rpc, request_id, body, work)

    monkeypatch.setattr(calls_, "once", counting)
    calls = [
        asyncio.create_task(client.invoke("gate", {"key": "once"}, request_id="invoke-1"))
        for _ in range(3)
    ]
    await gates.entered("once")
    await assert_eventually(lambda: len(arrived) == 3)
    gates.open("once")
    responses = await asyncio.gather(*calls)
    later = await client.invoke("gate", {"key": "once"}, request_id="invoke-1")

    assert gates.entries["once"] == 1
    assert {r.output.value() if r.output else None for r in [*responses, later]} == {"passed once"}


async def test_list_handlers_and_workers_show_local_and_remote(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    workers = [await spawn_worker(), await spawn_worker()]
    await _workers_ready(server, 2)

    handlers = {h.spec.name: h for h in await client.handlers() if h.spec}
    assert {n: (h.local, h.worker_count) for n, h in handlers.items()} == {
        "add": (True, 0),
        "approve": (True, 0),
        "explode": (True, 0),
        "gate": (True, 0),
        "run_subtask": (True, 0),  # built in: sub-tasks
        "run_subtasks": (True, 0),
        "echo": (False, 2),
        "block": (False, 2),
        "block_once": (False, 2),
        "fail": (False, 2),
        "freeze": (False, 2),
        "reviewer": (False, 2),
        "planner": (False, 2),
        "broken_agent": (False, 2),
    }
    agents = {h.spec.name for h in await client.handlers(HandlerKind.AGENT) if h.spec}
    assert agents == {"reviewer", "planner", "broken_agent"}
    assert handlers["block"].spec is not None and handlers["block"].spec.idempotent
    assert handlers["add"].spec is not None and "a" in handlers["add"].spec.input_schema
    assert [h.spec.name for h in await client.handlers(HandlerKind.HOOK) if h.spec] == []

    listed = await client.workers()
    assert sorted(int(w.labels["pid"]) for w in listed) == sorted(w.pid for w in workers)
    assert all(w.sdk.startswith("python/") and w.max_concurrency == 16 for w in listed)
    assert len(await client.workers("echo")) == 2 and await client.workers("add") == []

    await workers[0].kill()

    async def one_left() -> bool:
        return [w.labels["pid"] for w in await client.workers()] == [str(workers[1].pid)]

    await assert_eventually(one_left, message="the killed worker is still listed")
    remaining = {h.spec.name: h.worker_count for h in await client.handlers() if h.spec}
    assert remaining["echo"] == 1


async def test_sessions_are_listed_and_read(client: AsyncClient) -> None:
    first = await client.submit_task(answer_task(user_id="ann"))
    second = await client.submit_task(answer_task(user_id="ann", session_id=first.session_id))
    other = await client.submit_task(answer_task(user_id="bob"))

    session = await client.session(first.session_id)
    assert session.user_id == "ann"
    assert session.task_ids == [first.task_id, second.task_id]

    page = await client.sessions(user_id="ann")
    assert [s.id for s in page.sessions] == [first.session_id] and not page.next_page_token
    assert other.session_id in [s.id for s in (await client.sessions()).sessions]
    first_page = await client.sessions(page_size=1)
    assert len(first_page.sessions) == 1 and first_page.next_page_token
    rest = await client.sessions(page_token=first_page.next_page_token)
    ids = [s.id for s in first_page.sessions + rest.sessions]
    assert sorted(ids) == sorted({first.session_id, other.session_id}) and len(ids) == 2

    with pytest.raises(RuntimeServiceError) as caught:
        await client.sessions(page_size=-1)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
