"""Status codes over a real channel: INVALID_ARGUMENT with field violations, NOT_FOUND,
RESOURCE_EXHAUSTED for oversized messages and overload, and idempotent submits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import grpc
import pytest
from aworld_client import (
    AgentSpec,
    AsyncClient,
    HandlerKind,
    Payload,
    RuntimeServiceError,
    Swarm,
    Task,
    TaskStatus,
)
from aworld_client.api import runtime_service_pb2 as pb
from aworld_client.api import runtime_service_pb2_grpc as pb_grpc
from aworld_server.server import RunningServer
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from server_harness import WAIT, Gates, SpawnWorker, StartServer, answer_task, scripted, tool_task

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


async def _fails(call: Awaitable[Any], code: grpc.StatusCode) -> RuntimeServiceError:
    with pytest.raises(RuntimeServiceError) as caught:
        await call
    assert caught.value.code == code, caught.value
    return caught.value


async def test_invalid_task_lists_every_bad_field(client: AsyncClient) -> None:
    agent = AgentSpec(name="bad name!", model=scripted([{"content": "x"}]), handoffs=["nobody"])
    task = Task(input=Payload.from_text(""), swarm=Swarm(agents=[agent]))

    error = await _fails(client.submit(task), INVALID)

    fields = {field for field, _ in error.violations}
    assert fields == {"task.input", "task.swarm.agents[0].name", "task.swarm.agents[0].handoffs[0]"}
    assert all(description for _, description in error.violations)


async def test_missing_required_fields_are_invalid_with_standard_details(
    server: RunningServer,
) -> None:
    # Raw requests (the client fills these fields in), decoded as any gRPC client would.
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = pb_grpc.RuntimeServiceStub(channel)
        for rpc, request, field in [
            ("SubmitTask", pb.SubmitTaskRequest(request_id="r"), "task"),
            ("GetTask", pb.GetTaskRequest(), "task_id"),
            ("StreamEvents", pb.StreamEventsRequest(), "task_id"),
            ("StreamEvents", pb.StreamEventsRequest(task_id="t", after_seq=-1), "after_seq"),
            ("ListTasks", pb.ListTasksRequest(page_size=-1), "page_size"),
            ("ProvideInput", pb.ProvideInputRequest(task_id="t", callback_id="c"), "value"),
            (
                "CompleteCallback",
                pb.CompleteCallbackRequest(task_id="t", callback_id="c"),
                "result",
            ),
            ("InvokeHandler", pb.InvokeHandlerRequest(), "name"),
            ("GetSession", pb.GetSessionRequest(), "session_id"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                call = getattr(stub, rpc)(request)
                await (anext(aiter(call)) if rpc == "StreamEvents" else call)
            assert caught.value.code() == INVALID, (rpc, caught.value)
            status = rpc_status.from_call(caught.value)
            assert status is not None and len(status.details) == 1, rpc
            bad = error_details_pb2.BadRequest()
            assert status.details[0].Unpack(bad), rpc
            assert [v.field for v in bad.field_violations] == [field], rpc


async def test_unknown_ids_are_not_found(client: AsyncClient) -> None:
    await _fails(client.get("no-such-task"), NOT_FOUND)
    await _fails(client.state("no-such-task"), NOT_FOUND)
    await _fails(client.trajectory("no-such-task"), NOT_FOUND)
    await _fails(client.cancel("no-such-task"), NOT_FOUND)
    await _fails(anext(client.events("no-such-task")), NOT_FOUND)
    await _fails(client.session("no-such-session"), NOT_FOUND)
    await _fails(client.invoke("no_such_tool", {}), NOT_FOUND)
    finished = await client.submit(answer_task())
    await _fails(client.provide_input(finished, "no-such-callback", "x"), NOT_FOUND)


async def test_handler_input_that_fails_its_schema_is_invalid(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    await spawn_worker()
    async with asyncio.timeout(WAIT):
        await server.dispatcher.wait_for_handler("echo", HandlerKind.TOOL)

    local = await _fails(client.invoke("add", {"a": "not a number", "b": 1}), INVALID)
    assert [f for f, _ in local.violations] == ["a"]
    remote = await _fails(client.invoke("echo", {"text": 5}), INVALID)
    assert [f for f, _ in remote.violations] == ["input.text"]


async def test_oversized_request_is_resource_exhausted(start: StartServer) -> None:
    server = await start(max_message_bytes=64 * 1024)
    async with AsyncClient(server.address) as client:
        error = await _fails(client.submit(answer_task(input="x" * 100_000)), EXHAUSTED)
        assert "larger than max" in error.message
        # Just under the limit is fine.
        task_id = await client.submit(answer_task(input="x" * 60_000))
        assert (await client.get(task_id)).task.input.as_text() == "x" * 60_000


async def test_submits_beyond_max_live_tasks_are_resource_exhausted(
    start: StartServer, gates: Gates
) -> None:
    server = await start(max_live_tasks=1)
    async with AsyncClient(server.address) as client:
        first = await client.submit_task(tool_task("gate", {"key": "busy"}), request_id="first")
        await gates.entered("busy")

        error = await _fails(client.submit(answer_task()), EXHAUSTED)
        assert "limit" in error.message
        # Retrying the submit that was accepted is not a new task: it gets the same answer.
        again = await client.submit_task(tool_task("gate", {"key": "busy"}), request_id="first")
        assert (again.task_id, again.created) == (first.task_id, False)

        gates.open("busy")
        async with asyncio.timeout(WAIT):
            await server.runtime.wait(first.task_id)
        assert await client.submit(answer_task())


async def test_concurrent_submits_cannot_overshoot_max_live_tasks(
    start: StartServer, gates: Gates
) -> None:
    server = await start(max_live_tasks=2)
    async with AsyncClient(server.address) as client:
        results = await asyncio.gather(
            *(client.submit(tool_task("gate", {"key": f"c{n}"})) for n in range(10)),
            return_exceptions=True,
        )
        accepted = [r for r in results if isinstance(r, str)]
        refused = [r for r in results if isinstance(r, RuntimeServiceError)]
        assert len(accepted) == 2 and len(refused) == 8, results
        assert {e.code for e in refused} == {EXHAUSTED}
        assert server.runtime.live_tasks == 2
        for n in range(10):
            gates.open(f"c{n}")


async def test_same_request_id_gives_one_task(client: AsyncClient) -> None:
    first = await client.submit_task(answer_task("once"), request_id="same-1")
    second = await client.submit_task(answer_task("once"), request_id="same-1")
    # Another body under the same request id is a conflict, never the first task's answer.
    with pytest.raises(RuntimeServiceError) as caught:
        await client.submit_task(answer_task("twice"), request_id="same-1")

    assert first.created and not second.created
    assert (second.task_id, second.session_id) == (first.task_id, first.session_id)
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert "same-1" in caught.value.message
    listed = await client.list_tasks(session_id=first.session_id)
    assert [t.id for t in listed.tasks] == [first.task_id]


async def test_same_request_id_submitted_concurrently_gives_one_task(
    server: RunningServer,
) -> None:
    clients = [AsyncClient(server.address) for _ in range(8)]
    try:
        callers = [c for c in clients for _ in range(3)]
        responses = await asyncio.gather(
            *(c.submit_task(answer_task("try"), request_id="same-2") for c in callers)
        )
        runs = await asyncio.gather(
            *(_run_events(c, answer_task("run"), request_id="same-3") for c in clients)
        )
    finally:
        await asyncio.gather(*(c.close() for c in clients))

    assert len({r.task_id for r in responses}) == 1
    assert sum(r.created for r in responses) == 1
    task_ids = {events[-1].task_id for events in runs}
    assert len(task_ids) == 1
    for events in runs:  # every concurrent RunTask saw the whole task, start to end
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[-1].is_terminal
    async with AsyncClient(server.address) as client:
        listed = await client.list_tasks()
    assert len([t for t in listed.tasks if t.id in task_ids | {responses[0].task_id}]) == 2
    assert all(t.status == TaskStatus.SUCCEEDED for t in listed.tasks if t.id in task_ids)


async def _run_events(client: AsyncClient, task: Task, request_id: str) -> list[Any]:
    async with asyncio.timeout(WAIT):
        return [e async for e in client.run(task, request_id=request_id)]
