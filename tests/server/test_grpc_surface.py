"""Every RPC of the generated service descriptors has a server method and a client method, and
every client method works against a real server (AsyncClient and the blocking Client)."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aworld_client
import pytest
from aworld_client import (
    AsyncClient,
    Client,
    HandlerKind,
    InputRequested,
    TaskStatus,
    Worker,
)
from aworld_client.api import runtime_service_pb2, worker_service_pb2
from aworld_server.api.runtime_service import RuntimeServiceServicer
from aworld_server.api.worker_service import WorkerServiceServicer
from aworld_server.server import RunningServer
from server_harness import WAIT, answer_task, tool_task

RUNTIME_SERVICE = runtime_service_pb2.DESCRIPTOR.services_by_name["RuntimeService"]
WORKER_SERVICE = worker_service_pb2.DESCRIPTOR.services_by_name["WorkerService"]

# RPC -> the AsyncClient / Client method that calls it. Written out by hand on purpose: a new
# RPC must be given a client method (and an entry here) before this suite passes.
RUNTIME_CLIENT_METHODS = {
    "SubmitTask": "submit_task",
    "RunTask": "run",
    "GetTask": "get",
    "ListTasks": "list_tasks",
    "CancelTask": "cancel",
    "StreamEvents": "events",
    "GetTaskState": "state",
    "GetTrajectory": "trajectory",
    "ProvideInput": "provide_input",
    "CompleteCallback": "complete_callback",
    "InvokeHandler": "invoke",
    "ListHandlers": "handlers",
    "ListWorkers": "workers",
    "GetSession": "session",
    "ListSessions": "sessions",
}
WORKER_CLIENT_METHODS = {"Connect": "run"}


def _rpcs(service: Any) -> list[str]:
    return [method.name for method in service.methods]


def test_every_runtime_service_rpc_has_a_client_method() -> None:
    missing = [rpc for rpc in _rpcs(RUNTIME_SERVICE) if rpc not in RUNTIME_CLIENT_METHODS]
    assert not missing, f"RPCs without a client method in the mapping: {missing}"
    assert set(RUNTIME_CLIENT_METHODS) == set(_rpcs(RUNTIME_SERVICE)), "stale mapping entries"


def test_every_worker_service_rpc_has_a_client_method() -> None:
    missing = [rpc for rpc in _rpcs(WORKER_SERVICE) if rpc not in WORKER_CLIENT_METHODS]
    assert not missing, f"RPCs without a Worker method in the mapping: {missing}"
    assert set(WORKER_CLIENT_METHODS) == set(_rpcs(WORKER_SERVICE)), "stale mapping entries"


@pytest.mark.parametrize("rpc", _rpcs(RUNTIME_SERVICE))
def test_runtime_service_rpc_has_server_and_client_methods(rpc: str) -> None:
    # The servicer overrides the generated base (whose methods answer UNIMPLEMENTED).
    assert rpc in RuntimeServiceServicer.__dict__, f"RuntimeServiceServicer lacks {rpc}"
    name = RUNTIME_CLIENT_METHODS[rpc]
    async_method = getattr(AsyncClient, name, None)
    sync_method = getattr(Client, name, None)
    assert callable(async_method), f"AsyncClient lacks {name} for {rpc}"
    assert callable(sync_method), f"Client lacks {name} for {rpc}"
    # The async method names the RPC; the blocking one delegates to the async one.
    assert re.search(rf"\b{rpc}\b", inspect.getsource(async_method)), f"{name} does not call {rpc}"
    assert f"self._async.{name}(" in inspect.getsource(sync_method)
    assert _positional(async_method) == _positional(sync_method), f"{name}: clients differ"


@pytest.mark.parametrize("rpc", _rpcs(WORKER_SERVICE))
def test_worker_service_rpc_has_server_and_client_methods(rpc: str) -> None:
    assert rpc in WorkerServiceServicer.__dict__, f"WorkerServiceServicer lacks {rpc}"
    assert callable(getattr(Worker, WORKER_CLIENT_METHODS[rpc], None))
    assert re.search(rf"\.{rpc}\(", inspect.getsource(aworld_client.worker))


def _positional(method: Callable[..., Any]) -> list[str]:
    """The positional parameters (after self), which both clients must take alike."""
    params = list(inspect.signature(method).parameters.values())[1:]
    return [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]


Call = Callable[..., Awaitable[Any]]


def _async_caller(client: AsyncClient, called: set[str]) -> Call:
    async def call(name: str, *args: Any, **kwargs: Any) -> Any:
        called.add(name)
        result = getattr(client, name)(*args, **kwargs)
        if hasattr(result, "__aiter__"):
            return [item async for item in result]
        return await result

    return call


def _sync_caller(client: Client, called: set[str]) -> Call:
    async def call(name: str, *args: Any, **kwargs: Any) -> Any:
        called.add(name)

        def blocking() -> Any:
            result = getattr(client, name)(*args, **kwargs)
            return list(result) if hasattr(result, "__next__") else result

        # The blocking client runs its own loop, so it runs in a thread while ours serves.
        return await asyncio.to_thread(blocking)

    return call


@pytest.mark.parametrize("kind", ["async", "blocking"])
async def test_every_client_method_works_against_a_real_server(
    server: RunningServer, kind: str, spawn_worker: Any
) -> None:
    called: set[str] = set()
    if kind == "async":
        async_client = AsyncClient(server.address)
        call = _async_caller(async_client, called)
    else:
        sync_client = await asyncio.to_thread(Client, server.address)
        call = _sync_caller(sync_client, called)
    worker = await spawn_worker()
    try:
        async with asyncio.timeout(WAIT):
            await server.dispatcher.wait_for_handler("echo", HandlerKind.TOOL)
        await _exercise(call, worker.pid)
    finally:
        if kind == "async":
            await async_client.close()
        else:
            await asyncio.to_thread(sync_client.close)
    assert called == set(RUNTIME_CLIENT_METHODS.values())


async def _exercise(call: Call, worker_pid: int) -> None:
    submitted = await call("submit_task", answer_task("first", session_id="s-1", user_id="u-1"))
    assert submitted.created and submitted.session_id == "s-1"
    events = await call("events", submitted.task_id)
    assert events[-1].is_terminal and [e.seq for e in events] == list(range(1, len(events) + 1))

    ran = await call("run", answer_task("second", session_id="s-1", user_id="u-1"))
    assert ran[-1].is_terminal and ran[-1].body.status == TaskStatus.SUCCEEDED
    second = ran[-1].task_id

    got = await call("get", second)
    assert got.response.status == TaskStatus.SUCCEEDED and got.response.answer.value() == "second"
    listed = await call("list_tasks", session_id="s-1")
    assert [t.id for t in listed.tasks] == [second, submitted.task_id]  # newest first
    state = await call("state", second)
    assert state.status == TaskStatus.SUCCEEDED and state.nodes
    assert await call("trajectory", second)
    assert await call("cancel", second) == TaskStatus.SUCCEEDED  # finished: nothing changes

    for completion in ("provide_input", "complete_callback"):
        waiting = await call("submit_task", tool_task("approve", {"amount": 3}))
        requested = next(
            e.body
            for e in await _events_until_input(call, waiting.task_id)
            if isinstance(e.body, InputRequested)
        )
        status = await call(completion, waiting.task_id, requested.callback_id, f"ok-{completion}")
        assert status == TaskStatus.RUNNING
        finished = await call("events", waiting.task_id)
        assert finished[-1].body.response.answer.value() == f"got ok-{completion}"

    invoked = await call("invoke", "add", {"a": 2, "b": 3})
    assert invoked.output.value() == 5 and invoked.attempts == 1
    remote = await call("invoke", "echo", {"text": "x"})
    assert remote.output.value()["pid"] == worker_pid

    handlers = {(h.spec.name, h.local) for h in await call("handlers")}
    assert {("add", True), ("echo", False)} <= handlers
    (worker,) = await call("workers", "echo")
    assert worker.labels["pid"] == str(worker_pid)

    session = await call("session", "s-1")
    assert session.user_id == "u-1" and set(session.task_ids) == {submitted.task_id, second}
    sessions = await call("sessions", user_id="u-1")
    assert [s.id for s in sessions.sessions] == ["s-1"]


async def _events_until_input(call: Call, task_id: str) -> list[Any]:
    """Replay (not follow) until the task has asked for input."""
    async with asyncio.timeout(WAIT):
        while True:
            events = await call("events", task_id, follow=False)
            if any(isinstance(e.body, InputRequested) for e in events):
                return list(events)
            await asyncio.sleep(0.01)
