"""Fixtures for the CLI tests: one real ``aworld serve --port 0`` subprocess for the session,
the demo worker connected to it, and the demo task run once through ``aworld run``. Every
process is stopped by pid at the end."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from aworld_client import WorkerInfo
from cli_harness import (
    EXAMPLES,
    DemoRun,
    Server,
    aworld,
    start_server,
    start_worker,
    wait_for_worker,
)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    process, address = start_server(tmp_path_factory.mktemp("cli-server"))
    try:
        yield Server(address, process)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def demo_worker(server: Server) -> Iterator[WorkerInfo]:
    worker = start_worker(EXAMPLES / "demo_worker.py", server.address)
    try:
        yield wait_for_worker(server.address, "hotel_rate")
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def demo_run(server: Server, demo_worker: WorkerInfo) -> DemoRun:
    """``aworld run examples/demo_task.json``: a TEAM whose tools run on the demo worker."""
    result = aworld("run", str(EXAMPLES / "demo_task.json"), target=server.address)
    assert result.code == 0, result
    match = re.search(r"● task ([0-9a-f]{32})", result.stdout)
    assert match, result.stdout
    return DemoRun(result, match.group(1))
