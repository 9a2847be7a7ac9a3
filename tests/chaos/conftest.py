"""Fixtures of the chaos suite: the fault-free reference run every END-STATE CHECK compares
with (one server and one worker for the whole session, never faulted), and a chaos server +
worker per test (killed by pid at the end, whatever happened)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from chaos_harness import (
    Chaos,
    Reference,
    ServerProcess,
    assert_eventually,
    free_port,
    start_worker,
)
from process_harness import WorkerProcess


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


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture(scope="module")
async def ray_head() -> AsyncIterator[str]:
    """ONE local Ray head (``ray start --head --block`` on free ports, its own temp dir) for
    the module that needs it (test_ray.py), so it is not left running beside the rest of the
    session's suites (tests/engines starts its own); stopped by pid: its process group and
    every process below it."""
    temp = Path(tempfile.mkdtemp(prefix="aworld-ray-", dir="/tmp"))  # short: unix sockets
    log = temp / "head.log"
    ray = Path(sys.executable).with_name("ray")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(ray),
            "start",
            "--head",
            f"--port={free_port()}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
            f"--ray-client-server-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            "--block",
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    address: list[str] = []

    def started() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"ray start exited:\n{log.read_text(errors='replace')}")
        address[:] = re.findall(r"ray start --address='([^']+)'", log.read_text(errors="replace"))
        return bool(address)

    try:
        await assert_eventually(started, timeout=120, message="the Ray head never started")
        yield address[0]
    finally:
        below = _descendants(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for pid in below:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await process.wait()
        shutil.rmtree(temp, ignore_errors=True)
