"""Fixtures for the dispatch tests: a real grpc.aio server on port 0 serving WorkerService
from an in-process WorkerDispatcher, and real worker subprocesses (``worker_app.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from aworld_server.dispatch import DispatchEvent, WorkerDispatcher
from dispatch_harness import WORKER_APP, Server, WorkerProcess


@pytest.fixture
def events() -> list[DispatchEvent]:
    return []


@pytest.fixture
async def server(events: list[DispatchEvent]) -> AsyncIterator[Server]:
    dispatcher = WorkerDispatcher(
        heartbeat_interval=timedelta(milliseconds=100),
        # Long enough that a busy CI machine never makes a healthy worker look dead.
        heartbeat_timeout=timedelta(seconds=2),
        observer=events.append,
    )
    server = Server(dispatcher)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


SpawnWorker = Callable[..., Awaitable[WorkerProcess]]


@pytest.fixture
async def spawn_worker(server: Server) -> AsyncIterator[SpawnWorker]:
    """Start ``worker_app.py`` against the server; every process is killed and reaped after
    the test."""
    started: list[WorkerProcess] = []

    async def spawn(*args: str) -> WorkerProcess:
        worker = await WorkerProcess.start(WORKER_APP, server.target, *args)
        started.append(worker)
        return worker

    try:
        yield spawn
    finally:
        for worker in started:
            await worker.kill()
