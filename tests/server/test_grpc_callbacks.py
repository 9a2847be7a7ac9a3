"""ProvideInput and CompleteCallback over gRPC resume a task waiting on a local tool that
answered ``Pending``; repeating a request id (later or concurrently) gives the same answer."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from aworld_client import (
    AsyncClient,
    Failure,
    InputProvided,
    InputRequested,
    RuntimeServiceError,
    TaskResponse,
    TaskStatus,
)
from aworld_server.server import RunningServer
from server_harness import WAIT, tool_task


async def _waiting_task(client: AsyncClient) -> tuple[str, InputRequested]:
    """Submit a task whose tool answers Pending; return it once it asks."""
    task_id = await client.submit(tool_task("approve", {"amount": 7}))
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            if isinstance(event.body, InputRequested):
                assert (await client.get(task_id)).response.status == TaskStatus.INPUT_REQUIRED
                return task_id, event.body
    raise AssertionError("the task never asked for input")


async def _final(client: AsyncClient, task_id: str) -> TaskResponse:
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            if event.is_terminal:
                body = event.body
                assert body is not None and hasattr(body, "response") and body.response
                response: TaskResponse = body.response
                return response
    raise AssertionError("no terminal event")


async def _inputs(server: RunningServer, task_id: str) -> list[InputProvided]:
    events = await server.runtime.store.read(task_id)
    return [e.body for e in events if isinstance(e.body, InputProvided)]


@pytest.mark.parametrize("rpc", ["provide_input", "complete_callback"])
async def test_answer_resumes_the_waiting_task_and_a_repeat_gets_the_same_answer(
    server: RunningServer, client: AsyncClient, rpc: str
) -> None:
    task_id, requested = await _waiting_task(client)
    assert requested.prompt is not None
    assert requested.prompt.value() == {"question": "approve 7?"}
    answer = getattr(client, rpc)

    assert await answer(task_id, requested.callback_id, "yes", request_id="r-1") == (
        TaskStatus.RUNNING
    )
    final = await _final(client, task_id)
    # The same request again, after the task moved on: the same answer, nothing re-applied.
    assert await answer(task_id, requested.callback_id, "yes", request_id="r-1") == (
        TaskStatus.RUNNING
    )
    # The same request id with another body is a conflict, not the first request's answer.
    with pytest.raises(RuntimeServiceError) as conflict:
        await answer(task_id, requested.callback_id, "no", request_id="r-1")
    assert conflict.value.code == grpc.StatusCode.ALREADY_EXISTS

    assert final.status == TaskStatus.SUCCEEDED
    assert final.answer is not None and final.answer.value() == "got yes"
    assert [i.value.value() if i.value else None for i in await _inputs(server, task_id)] == ["yes"]
    # A different request for the consumed callback is an error, not a second answer.
    with pytest.raises(RuntimeServiceError) as caught:
        await answer(task_id, requested.callback_id, "again", request_id="r-2")
    assert caught.value.code in (
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
    )


async def test_concurrent_repeats_of_one_request_deliver_once(
    server: RunningServer, client: AsyncClient
) -> None:
    task_id, requested = await _waiting_task(client)

    statuses = await asyncio.gather(
        *(
            client.complete_callback(task_id, requested.callback_id, "ok", request_id="same")
            for _ in range(5)
        )
    )

    assert statuses == [TaskStatus.RUNNING] * 5
    assert (await _final(client, task_id)).status == TaskStatus.SUCCEEDED
    assert len(await _inputs(server, task_id)) == 1


async def test_a_failed_callback_reaches_the_agent_as_an_observation(client: AsyncClient) -> None:
    task_id, requested = await _waiting_task(client)

    await client.complete_callback(
        task_id, requested.callback_id, failure=Failure(type="Rejected", message="manager said no")
    )

    final = await _final(client, task_id)
    assert final.status == TaskStatus.SUCCEEDED
    assert final.answer is not None and "manager said no" in final.answer.as_text()
