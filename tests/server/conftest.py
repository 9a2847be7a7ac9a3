"""Fixtures for the gRPC server tests: real servers from ``start_server`` on port 0 (each in its
own data directory), clients over real channels, and real worker subprocesses.

Local tools every test server has: ``add``, ``gate`` (waits until the test opens its key),
``approve`` (answers ``Pending``: the task waits for ProvideInput / CompleteCallback) and
``explode`` (raises).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aworld_client import AsyncClient
from aworld_client.handlers import Pending, tool
from aworld_server.config import ServerConfig
from aworld_server.runtime import Runtime
from aworld_server.server import RunningServer, start_server
from server_harness import WORKER_APP, Gates, SpawnWorker, StartServer, WorkerProcess


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def approve(amount: int) -> Pending:
    """Ask someone to approve an amount; the answer comes by callback."""
    return Pending(prompt={"question": f"approve {amount}?"})


@tool
def explode(message: str) -> None:
    """Raise ValueError(message)."""
    raise ValueError(message)


def local_tools(gates: Gates) -> Callable[[Runtime], None]:
    @tool(name="gate")
    async def gate(key: str) -> str:
        """Wait until the test opens ``key``."""
        await gates.pass_through(key)
        return f"passed {key}"

    def setup(runtime: Runtime) -> None:
        runtime.registry.add_tool(add, approve, explode, gate)

    return setup


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
async def start(tmp_path: Path, gates: Gates) -> AsyncIterator[StartServer]:
    """Start a server with ``ServerConfig`` overrides; every one is stopped after the test."""
    running: list[RunningServer] = []

    async def start_one(**overrides: Any) -> RunningServer:
        overrides.setdefault("heartbeat_interval", timedelta(milliseconds=100))
        # Long enough that a busy machine never makes a healthy worker look dead.
        overrides.setdefault("heartbeat_timeout", timedelta(seconds=2))
        overrides.setdefault("data_dir", tmp_path / f"server-{len(running)}")
        config = ServerConfig.load(port=0, **overrides)
        server = await start_server(config, setup=local_tools(gates))
        running.append(server)
        return server

    try:
        yield start_one
    finally:
        for server in running:
            await server.stop(0)


@pytest.fixture
async def server(start: StartServer) -> RunningServer:
    return await start()


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server.address) as client:
        yield client


@pytest.fixture
async def spawn_worker(server: RunningServer) -> AsyncIterator[SpawnWorker]:
    """Start ``worker_app.py`` against ``server`` (or ``target=``); every process is killed
    and reaped after the test."""
    started: list[WorkerProcess] = []

    async def spawn(*args: str, target: str = "") -> WorkerProcess:
        worker = await WorkerProcess.start(WORKER_APP, target or server.address, *args)
        started.append(worker)
        return worker

    try:
        yield spawn
    finally:
        for worker in started:
            await worker.kill()
