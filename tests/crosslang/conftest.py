"""Fixtures for the cross-language tests: the TypeScript and Go programs (built once per
session), a real server from ``start_server`` on port 0 per test, and child processes that are
killed and reaped by pid after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aworld_client import AsyncClient
from aworld_server.config import ServerConfig
from aworld_server.server import RunningServer, start_server
from crosslang_harness import ChildProcess, Programs, Spawn, build_programs, start_process


@pytest.fixture(scope="session")
async def programs(tmp_path_factory: pytest.TempPathFactory) -> Programs:
    return await build_programs(tmp_path_factory.mktemp("crosslang-bin"))


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    config = ServerConfig.load(
        port=0,
        data_dir=tmp_path / "server",
        heartbeat_interval=timedelta(milliseconds=200),
        # Long enough that a busy two-core machine never makes a healthy worker look dead.
        heartbeat_timeout=timedelta(seconds=3),
    )
    running = await start_server(config)
    try:
        yield running
    finally:
        await running.stop(0)


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server.address) as client:
        yield client


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """Start a program (name, command); every process is killed and reaped after the test."""
    started: list[ChildProcess] = []

    async def start(name: str, command: list[str]) -> ChildProcess:
        child = await start_process(name, command)
        started.append(child)
        return child

    try:
        yield start
    finally:
        for child in started:
            await child.kill()
