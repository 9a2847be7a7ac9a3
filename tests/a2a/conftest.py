"""Fixtures for the A2A tests: real servers from ``start_server`` on port 0 with their A2A
endpoint on another free port, and remote A2A agents as subprocesses stopped by pid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from a2a_harness import Gates, StartRemote, StartServer, local_tools, start_remote_agent
from aworld_server.config import ServerConfig
from aworld_server.server import RunningServer, start_server
from process_harness import WorkerProcess


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
async def start(tmp_path: Path, gates: Gates) -> AsyncIterator[StartServer]:
    """Start a server with ``ServerConfig`` overrides; every one is stopped after the test."""
    running: list[RunningServer] = []

    async def start_one(**overrides: Any) -> RunningServer:
        overrides.setdefault("data_dir", tmp_path / f"server-{len(running)}")
        server = await start_server(
            ServerConfig.load(port=0, **overrides), setup=local_tools(gates)
        )
        running.append(server)
        return server

    try:
        yield start_one
    finally:
        for server in running:
            await server.stop(0)


@pytest.fixture
async def remote_agents() -> AsyncIterator[tuple[StartRemote, list[WorkerProcess]]]:
    """Start remote A2A agents (``a2a_remote_agent.py`` flags); each is killed by pid after."""
    started: list[WorkerProcess] = []

    async def start_one(*args: str) -> str:
        process, url = await start_remote_agent(*args)
        started.append(process)
        return url

    try:
        yield start_one, started
    finally:
        for process in started:
            await process.kill()
