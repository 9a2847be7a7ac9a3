"""Fixtures of the chaos suite: the fault-free reference run every END-STATE CHECK compares
with (one server and one worker for the whole session, never faulted), and a chaos server +
worker per test (killed by pid at the end, whatever happened)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aworld_client import Task, TaskStatus
from chaos_harness import (
    WAIT,
    ServerProcess,
    answer_of,
    chaos_client,
    start_worker,
    wait_terminal,
)
from process_harness import WorkerProcess


@dataclass
class Reference:
    """A server and a worker that see no fault: the answers a fault-free run gives."""

    server: ServerProcess
    worker: WorkerProcess

    async def answers(self, tasks: dict[str, Task]) -> dict[str, Any]:
        async with chaos_client(self.server.address) as client:
            ids = {rid: await client.submit(t, request_id=f"ref-{rid}") for rid, t in tasks.items()}
            responses = await wait_terminal(client, ids.values(), timeout=WAIT)
        for rid, task_id in ids.items():
            status = responses[task_id].status
            assert status == TaskStatus.SUCCEEDED, (rid, status, responses[task_id].failure)
        return {rid: answer_of(responses[task_id]) for rid, task_id in ids.items()}


@pytest.fixture(scope="session")
async def reference(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Reference]:
    data = tmp_path_factory.mktemp("reference")
    server = ServerProcess(data, "--shutdown-grace", "1")
    worker: WorkerProcess | None = None
    try:
        await server.start()
        worker = await start_worker(server.address, data / "record")
        yield Reference(server, worker)
    finally:
        if worker is not None:
            await worker.kill()
        await server.close()


@dataclass
class Chaos:
    """The test's chaos servers and workers, all killed by pid at teardown."""

    data: Path
    servers: list[ServerProcess] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def new_server(self, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
        """A server (not started yet) on its own data dir and free port."""
        server = ServerProcess(
            self.data / f"server-{len(self.servers)}", "--shutdown-grace", "1", *args, env=env
        )
        self.servers.append(server)
        return server

    async def add_worker(self, server: ServerProcess, name: str = "w", *args: str) -> WorkerProcess:
        worker = await start_worker(server.address, self.record(name), *args)
        self.workers.append(worker)
        return worker

    def record(self, name: str = "w") -> Path:
        return self.data / f"record-{name}"


@pytest.fixture
async def chaos(tmp_path: Path) -> AsyncIterator[Chaos]:
    state = Chaos(tmp_path)
    try:
        yield state
    finally:
        for worker in state.workers:
            await worker.kill()
        for server in state.servers:
            await server.close()
