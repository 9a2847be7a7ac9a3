"""Test harness for the dispatch tests: a WorkerService server on port 0, worker subprocesses
whose stdout can be awaited line by line, and ``assert_eventually``."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from pathlib import Path

import grpc
from aworld_server.api.worker_service import add_worker_service
from aworld_server.dispatch import WorkerDispatcher

WORKER_APP = Path(__file__).with_name("worker_app.py")
ROOT = Path(__file__).resolve().parents[2]
WAIT = 15.0  # upper bound for any single wait; tests normally finish far sooner


async def assert_eventually(
    condition: Callable[[], bool], *, timeout: float = WAIT, message: str = ""
) -> None:
    """Poll ``condition`` until it holds, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), message


class WorkerProcess:
    """A running ``worker_app.py``: its stdout lines, and a way to send it commands."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode().rstrip("\n"))
            self._new_line.set()
            self._new_line = asyncio.Event()

    async def expect(self, pattern: str, *, timeout: float = WAIT) -> re.Match[str]:
        """Wait for a stdout line matching ``pattern`` (searched from the first line)."""
        regex = re.compile(pattern)
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                if self._reader.done():
                    raise AssertionError(f"worker {self.pid} exited; output:\n" + self.output())
                waiter = asyncio.ensure_future(self._new_line.wait())
                try:
                    await asyncio.wait([waiter, self._reader], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()

    def matches(self, pattern: str) -> list[re.Match[str]]:
        regex = re.compile(pattern)
        return [m for line in self.lines if (m := regex.search(line))]

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def output(self) -> str:
        return "\n".join(self.lines)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()  # SIGKILL also ends a SIGSTOPped process
        await self.process.wait()
        await self._reader


class Server:
    """A grpc.aio server with WorkerService on 127.0.0.1, on a port chosen by the OS."""

    def __init__(self, dispatcher: WorkerDispatcher) -> None:
        self.dispatcher = dispatcher
        self.port = 0
        self._server: grpc.aio.Server | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start serving; after a stop, on the same port as before."""
        server = grpc.aio.server()
        add_worker_service(server, self.dispatcher)
        port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        assert port, f"could not bind 127.0.0.1:{self.port}"
        self.port = port
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)
            self._server = None


__all__ = ["ROOT", "WAIT", "WORKER_APP", "Server", "WorkerProcess", "assert_eventually"]
