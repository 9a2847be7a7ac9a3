"""Fixtures of the engine contract suite: ONE server per test session with the local engine,
a real local Ray instance and Spark ``local[2]`` (both started once, by the server's engines,
and stopped at the end by their own shutdown, then by pid), a client, and a worker subprocess
serving remote tools.

Engine workers are other processes: they import this directory's ``engine_handlers`` module
(``engine_setup``), so it goes on PYTHONPATH before Ray or Spark start.

Authentication is on, in a namespace of its own: the client and the worker use a principal's
token, and engine workers reach the control plane with the engine credential the server mints
for their jobs (issue #11), so the whole contract runs under least privilege.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import engine_handlers
import pytest
from aworld_client import AsyncClient
from aworld_server.config import ServerConfig
from aworld_server.server import RunningServer, start_server
from engine_harness import HERE, WorkerProcess, children_of

TOKEN = "engine-suite-token"


@pytest.fixture(scope="session")
def reap_children() -> Iterator[None]:
    """After everything stopped: kill what Ray or Spark left behind, by pid."""
    before = set(children_of(os.getpid()))
    yield
    for pid in set(children_of(os.getpid())) - before:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
async def server(
    tmp_path_factory: pytest.TempPathFactory, reap_children: None
) -> AsyncIterator[RunningServer]:
    config = ServerConfig.load(
        port=0,
        data_dir=tmp_path_factory.mktemp("engines"),
        engines=["ray", "spark"],
        engine_setup="engine_handlers:setup",
        engine_options={
            "ray": {"num_cpus": 2, "worker_num": 2},
            # Small, so the suite sees a full Spark session hold jobs back (test_spark_sessions).
            "spark": {"max_concurrency": 2},
        },
        heartbeat_interval=timedelta(milliseconds=200),
        heartbeat_timeout=timedelta(seconds=5),
        principals={
            "tester": {
                "tokens": [TOKEN],
                "namespaces": ["team-engines"],
                "scopes": ["submit", "read", "cancel", "register"],
            }
        },
    )
    running = await start_server(config, setup=engine_handlers.setup)
    try:
        yield running
    finally:
        await running.stop(5)


@pytest.fixture(scope="session")
async def client(server: RunningServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server.address, token=TOKEN) as client:
        yield client


@pytest.fixture(scope="session")
async def remote_worker(server: RunningServer) -> AsyncIterator[WorkerProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "worker_app.py"),
        "--target",
        server.address,
        "--token",
        TOKEN,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    worker = WorkerProcess(process)
    try:
        await worker.expect(r"log connected")
        yield worker
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        await worker._reader
