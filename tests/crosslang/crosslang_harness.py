"""Harness for the cross-language tests: building the TypeScript and Go programs once, child
processes whose stdout lines can be awaited, and task builders.

The programs (each takes ``--address HOST:PORT``):

* ``typescript/examples/worker.ts`` and ``go/cmd/aworld-example-worker`` — workers serving
  tools (``--tool NAME=echo|describe|block``), remote agents (``--agent NAME=review|plan|block``)
  and hooks (``--hook NAME=deny``) that print
  ``READY``, ``STARTED <tool> <call id> <attempt> <pid>``, ``CANCELLED ...`` lines;
* ``typescript/examples/client.ts`` — submits a task and prints its events as they stream;
* the conformance runners (``conformance/runners/``, ``go/cmd/aworld-conformance``).
"""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aworld_client import (
    AgentSpec,
    AsyncClient,
    Event,
    HandlerKind,
    ModelConfig,
    Payload,
    RetryPolicy,
    Swarm,
    Task,
    TaskResponse,
)
from aworld_server.server import RunningServer
from process_harness import assert_eventually as shared_assert_eventually

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20.0  # upper bound for any single wait; tests normally finish far sooner
BUILD_TIMEOUT = 300.0  # a cold Go build of grpc on two cores takes a while
# Retries of lost attempts start after 50 ms instead of the default second.
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=3)

TS_BUILD = ROOT / "typescript" / "examples" / ".build"
TS_CONFORMANCE_BUILD = ROOT / "conformance" / "runners" / "typescript" / ".build"


@dataclass(frozen=True)
class Programs:
    """Paths of the built programs."""

    node: str
    ts_worker: Path
    ts_client: Path
    ts_conformance: Path
    go_worker: Path
    go_conformance: Path

    def ts_worker_command(self, *args: str) -> list[str]:
        return [self.node, str(self.ts_worker), *args]

    def go_worker_command(self, *args: str) -> list[str]:
        return [str(self.go_worker), *args]


async def _check(*command: str, cwd: Path = ROOT) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(BUILD_TIMEOUT):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output.decode()}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"the cross-language tests need {name!r} on PATH (see `make setup`)")
    return path


async def build_programs(bin_dir: Path) -> Programs:
    """Compile the TypeScript SDK, its examples and runner, and the Go programs, in parallel."""
    node, npm, go = _tool("node"), _tool("npm"), _tool("go")
    tsc = str(ROOT / "node_modules" / ".bin" / "tsc")

    async def typescript() -> None:
        # The programs import the SDK by its package name, which resolves to typescript/dist.
        await _check(npm, "--silent", "-w", "typescript", "run", "build")
        await asyncio.gather(
            _check(tsc, "-p", "typescript/examples"),
            _check(tsc, "-p", "conformance/runners/typescript"),
        )

    async def golang() -> None:
        await _check(go, "build", "-o", f"{bin_dir}/", "./cmd/...", cwd=ROOT / "go")

    await asyncio.gather(typescript(), golang())
    return Programs(
        node=node,
        ts_worker=TS_BUILD / "worker.js",
        ts_client=TS_BUILD / "client.js",
        ts_conformance=TS_CONFORMANCE_BUILD / "runner.js",
        go_worker=bin_dir / "aworld-example-worker",
        go_conformance=bin_dir / "aworld-conformance",
    )


class ChildProcess:
    """A running program: its stdout lines (awaitable by pattern) and its stderr."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._new_line = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._error_reader = asyncio.create_task(self._read_errors())

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode().rstrip("\n"))
            self._new_line.set()
            self._new_line = asyncio.Event()

    async def _read_errors(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.errors.append(line.decode().rstrip("\n"))

    async def expect(self, pattern: str, *, timeout: float = WAIT) -> re.Match[str]:
        """Wait for a stdout line matching ``pattern`` (searched from the first line)."""
        regex = re.compile(pattern)
        seen = 0
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for line in self.lines[seen:]:
                        if match := regex.search(line):
                            return match
                    seen = len(self.lines)
                    if self._reader.done():
                        raise AssertionError(f"{self.name} exited:\n{self.output()}")
                    waiter = asyncio.ensure_future(self._new_line.wait())
                    try:
                        await asyncio.wait(
                            [waiter, self._reader], return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        waiter.cancel()
        except TimeoutError:
            raise AssertionError(
                f"{self.name} printed no line matching {pattern!r}:\n{self.output()}"
            ) from None

    def matches(self, pattern: str) -> list[re.Match[str]]:
        regex = re.compile(pattern)
        return [m for line in self.lines if (m := regex.search(line))]

    async def wait(self, *, timeout: float = WAIT) -> int:
        """Wait for the process to exit on its own; its exit code."""
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
            await asyncio.gather(self._reader, self._error_reader)
        return code

    def output(self) -> str:
        return "\n".join(
            [f"--- {self.name} (pid {self.pid}) stdout", *self.lines, "--- stderr", *self.errors]
        )

    async def kill(self) -> None:
        """SIGKILL (no goodbye on its streams) and reap it."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        await asyncio.gather(self._reader, self._error_reader)


async def start_process(name: str, command: list[str]) -> ChildProcess:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return ChildProcess(name, process)


Spawn = Callable[[str, list[str]], Awaitable[ChildProcess]]
"""The ``spawn`` fixture: start a program (name, command), killed and reaped after the test."""


# The shared poll-with-a-deadline, with this suite's longer default (builds share the CPU).
assert_eventually = functools.partial(shared_assert_eventually, timeout=WAIT)


async def serving(
    server: RunningServer, name: str, *, kind: HandlerKind = HandlerKind.TOOL, workers: int = 1
) -> None:
    """Wait until ``workers`` workers serve the handler ``name`` of ``kind``."""
    async with asyncio.timeout(WAIT):
        await server.dispatcher.wait_for_handler(name, kind, workers=workers)


async def ts_worker(
    spawn: Spawn, programs: Programs, server: RunningServer, *flags: str
) -> ChildProcess:
    """The TypeScript example worker with ``flags``, once connected."""
    command = programs.ts_worker_command("--address", server.address, *flags)
    worker = await spawn("typescript worker", command)
    await worker.expect(r"^READY \S+")
    return worker


async def go_worker(
    spawn: Spawn, programs: Programs, server: RunningServer, *flags: str
) -> ChildProcess:
    """The Go example worker with ``flags``, once connected."""
    command = programs.go_worker_command("--address", server.address, *flags)
    worker = await spawn("go worker", command)
    await worker.expect(r"^READY \S+")
    return worker


async def events_of(client: AsyncClient, task_id: str) -> list[Event]:
    """The task's whole log, once it has ended."""
    async with asyncio.timeout(WAIT):
        return [event async for event in client.events(task_id)]


def terminal(events: list[Event]) -> TaskResponse:
    """The response carried by the log's terminal event."""
    last = events[-1]
    assert last.is_terminal, last
    response = getattr(last.body, "response", None)
    assert isinstance(response, TaskResponse)
    return response


def bodies(events: list[Event], kind: type[Any]) -> list[Any]:
    return [event.body for event in events if isinstance(event.body, kind)]


def scripted_task(script: list[dict[str, Any]], tools: list[str], **fields: Any) -> Task:
    """A task whose one scripted agent plays ``script`` and may call ``tools``."""
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="solver", tool_names=tools, model=model)
    fields.setdefault("retry_policy", FAST_RETRY)
    return Task(input=Payload.from_text("cross-language"), swarm=Swarm(agents=[agent]), **fields)


def call(name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    """A script step calling one tool."""
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


__all__ = [
    "FAST_RETRY",
    "ROOT",
    "WAIT",
    "ChildProcess",
    "Programs",
    "Spawn",
    "assert_eventually",
    "bodies",
    "build_programs",
    "call",
    "events_of",
    "go_worker",
    "scripted_task",
    "serving",
    "start_process",
    "terminal",
    "ts_worker",
]
