"""Health, reflection (what grpcurl needs, with no proto files) and graceful shutdown."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest
from aworld_client import AsyncClient, HandlerKind, RuntimeServiceError, TaskStatus
from aworld_server.server import RunningServer
from aworld_server.storage import SqliteEventStore
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from server_harness import (
    WAIT,
    Gates,
    SpawnWorker,
    StartServer,
    answer_task,
    assert_eventually,
    tool_task,
)

RUNTIME = "aworld.runtime.v1.RuntimeService"
WORKER = "aworld.runtime.v1.WorkerService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _health(address: str, service: str = "") -> Any:
    async with grpc.aio.insecure_channel(address) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service)
        )
        return response.status


async def _reflect(address: str, *requests: reflection_pb2.ServerReflectionRequest) -> list[Any]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        return [r async for r in stub.ServerReflectionInfo(iter(requests))]


async def test_health_reports_serving_for_the_server_and_each_service(
    server: RunningServer,
) -> None:
    for service in ("", RUNTIME, WORKER):
        assert await _health(server.address, service) == SERVING


async def test_reflection_lists_and_describes_the_services(server: RunningServer) -> None:
    listed, described = await _reflect(
        server.address,
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=RUNTIME),
    )

    names = {s.name for s in listed.list_services_response.service}
    assert {RUNTIME, WORKER, "grpc.health.v1.Health"} <= names
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in described.file_descriptor_response.file_descriptor_proto
    ]
    (service,) = [s for f in files for s in f.service if s.name == "RuntimeService"]
    assert {m.name for m in service.method} >= {"SubmitTask", "RunTask", "StreamEvents"}


async def test_graceful_shutdown_finishes_the_task_in_flight(
    start: StartServer, gates: Gates, spawn_worker: SpawnWorker
) -> None:
    server = await start()
    # A connected worker holds a stream open; it must not hold up the shutdown.
    await spawn_worker(target=server.address)
    async with asyncio.timeout(WAIT):
        await server.dispatcher.wait_for_handler("echo", HandlerKind.TOOL)
    client = AsyncClient(server.address)
    watched: list[Any] = []

    async def watch() -> None:
        async for event in client.run(tool_task("gate", {"key": "drain"}), request_id="in-flight"):
            watched.append(event)

    watcher = asyncio.create_task(watch())
    await gates.entered("drain")
    # The tool runs once its call is on disk; the stream may deliver the events a bit later.
    await assert_eventually(lambda: bool(watched), message="the run stream delivered nothing")
    (task_id,) = {e.task_id for e in watched}
    grace = 10.0
    started = time.monotonic()
    stopping = asyncio.create_task(server.stop(grace))

    async def not_serving() -> bool:
        return bool(await _health(server.address) == NOT_SERVING)

    await assert_eventually(not_serving, message="health never turned NOT_SERVING")
    assert await _health(server.address, RUNTIME) == NOT_SERVING
    # New tasks are refused while draining (a retryable status, so clients go elsewhere) ...
    with pytest.raises(RuntimeServiceError) as caught:
        await client.submit(answer_task())
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    # ... but a retried submit of the task in flight still gets its answer.
    again = await client.submit_task(tool_task("gate", {"key": "drain"}), request_id="in-flight")
    assert (again.task_id, again.created) == (task_id, False)

    gates.open("drain")
    async with asyncio.timeout(grace):
        await stopping
        await watcher
    assert time.monotonic() - started < grace, "shutdown waited for the whole grace period"
    await client.close()

    assert watched[-1].is_terminal and watched[-1].body.status == TaskStatus.SUCCEEDED
    store = SqliteEventStore(server.config.data_dir / "runtime.db")
    await store.open()
    try:
        stored = await store.read(task_id)
        record = await store.get_task(task_id)
    finally:
        await store.close()
    assert stored[-1].is_terminal and stored[-1].body.status == TaskStatus.SUCCEEDED
    assert record is not None and record.status == TaskStatus.SUCCEEDED
    assert [e.seq for e in stored] == [e.seq for e in watched]


async def test_shutdown_leaves_a_task_that_outlives_the_grace_in_the_log(
    start: StartServer, gates: Gates
) -> None:
    server = await start()
    async with AsyncClient(server.address) as client:
        task_id = await client.submit(tool_task("gate", {"key": "stuck"}))
        await gates.entered("stuck")
        started = time.monotonic()
        async with asyncio.timeout(WAIT):
            await server.stop(0.3)
        assert time.monotonic() - started < 3
    assert "stuck" in gates.cancelled  # stopped, not left running

    store = SqliteEventStore(server.config.data_dir / "runtime.db")
    await store.open()
    try:
        record = await store.get_task(task_id)
    finally:
        await store.close()
    assert record is not None and not record.status.is_terminal  # resumable, not failed
