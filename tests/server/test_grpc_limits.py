"""Hostile input gets INVALID_ARGUMENT naming the field, over a real channel: payload JSON and
its depth, Timestamp / Duration ranges, integer ranges, undecodable bytes and invalid UTF-8,
the server's ceilings; and large state and trajectories come back page by page."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from aworld_client import AsyncClient
from aworld_client.api import runtime_service_pb2 as pb
from aworld_client.api import runtime_service_pb2_grpc as pb_grpc
from aworld_server.server import RunningServer
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from server_harness import WAIT, StartServer, answer_task, tool_task


def _violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    fields: list[str] = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    return fields


async def _submit_raw(server: RunningServer, request: pb.SubmitTaskRequest | bytes) -> list[str]:
    raw = request if isinstance(request, bytes) else request.SerializeToString()
    async with grpc.aio.insecure_channel(server.address) as channel:
        call = channel.unary_unary("/aworld.runtime.v1.RuntimeService/SubmitTask")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(raw)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value
    assert "Error" not in (caught.value.details() or "")  # no Python exception class names
    return _violations(caught.value)


def _task_request(**edits: object) -> pb.SubmitTaskRequest:
    request = pb.SubmitTaskRequest(task=answer_task().to_proto())
    for path, value in edits.items():
        target: object = request.task
        *parents, leaf = path.split(".")
        for name in parents:
            target = getattr(target, name)
        setattr(target, leaf, value)
    return request


@pytest.mark.parametrize(
    ("edits", "field"),
    [
        ({"input.json": "not json"}, "task.input.json"),
        ({"input.json": "[" * 500 + "]" * 500}, "task.input.json"),
        ({"input.json": "[" * 5000 + "]" * 5000}, "task.input.json"),
        ({"deadline.seconds": 253_402_300_800}, "task.deadline"),
        ({"deadline.nanos": 1_000_000_000}, "task.deadline.nanos"),
        ({"conf.budgets.max_wall_time.seconds": 2**62}, "task.conf.budgets.max_wall_time"),
        (
            {"conf.budgets.max_wall_time.seconds": 1, "conf.budgets.max_wall_time.nanos": -5},
            "task.conf.budgets.max_wall_time.nanos",
        ),
        ({"conf.budgets.max_tokens": 2**62}, "task.conf.budgets.max_tokens"),
        ({"conf.budgets.max_steps": 10_001}, "task.conf.budgets.max_steps"),
    ],
)
async def test_out_of_range_fields_are_invalid_and_named(
    server: RunningServer, edits: dict[str, object], field: str
) -> None:
    assert field in await _submit_raw(server, _task_request(**edits))


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xff\xff\xff",  # not protobuf
        b"\x0a\x04\x0a\x02\xff\xfe",  # task.id with bytes that are not UTF-8
        b"\x08",  # a truncated varint
    ],
)
async def test_undecodable_requests_are_invalid_not_unknown(
    server: RunningServer, raw: bytes
) -> None:
    assert await _submit_raw(server, raw) == ["request"]


async def test_too_many_agents_is_a_clear_limit(start: StartServer) -> None:
    server = await start(limits={"max_agents": 3})
    task = answer_task()
    assert task.swarm is not None
    task.swarm.agents = [
        type(task.swarm.agents[0])(name=f"a{i}", model=task.swarm.agents[0].model) for i in range(4)
    ]
    request = pb.SubmitTaskRequest(task=task.to_proto())
    assert await _submit_raw(server, request) == ["task.swarm.agents"]


async def test_state_and_trajectory_come_page_by_page(server: RunningServer) -> None:
    async with AsyncClient(server.address) as client:
        task_id = await client.submit(tool_task("add", {"a": 1, "b": 2}))
        async with asyncio.timeout(WAIT):
            async for event in client.events(task_id):
                if event.is_terminal:
                    break
        everything = await client.trajectory(task_id)
        state = await client.state(task_id)
    assert len(everything) >= 2 and len(state.nodes) >= 3

    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = pb_grpc.RuntimeServiceStub(channel)
        items, token, pages = [], "", 0
        while True:
            page = await stub.GetTrajectory(
                pb.GetTrajectoryRequest(task_id=task_id, page_size=1, page_token=token)
            )
            items += list(page.items)
            pages += 1
            token = page.next_page_token
            if not token:
                break
        first = await stub.GetTaskState(pb.GetTaskStateRequest(task_id=task_id, page_size=1))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetTrajectory(pb.GetTrajectoryRequest(task_id=task_id, page_token="nope"))
    assert pages == len(everything) == len(items)
    assert len(first.nodes) == 1 and first.next_page_token
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(caught.value) == ["page_token"]
