"""Helpers of the engine tests: task builders, the remote-tool worker process, and where
things are. (A uniquely named module: every test directory has its own ``conftest``.)"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from aworld_client import AgentSpec, ModelConfig, Payload, RetryPolicy, Swarm, Task

HERE = Path(__file__).resolve().parent
ENGINES = ["local", "ray", "spark"]
WAIT = 60.0  # upper bound for one wait; a cold Spark worker takes seconds to start
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=3)

os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p
)
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local cluster


def scripted(script: list[dict[str, Any]]) -> ModelConfig:
    return ModelConfig(provider="scripted", options=Payload.of({"script": script}))


def make_task(script: list[dict[str, Any]], tools: list[str], engine: str, **fields: Any) -> Task:
    agent = AgentSpec(name="solver", tool_names=tools, model=scripted(script))
    fields.setdefault("retry_policy", FAST_RETRY)
    engine = "" if engine == "local" else engine
    return Task(input=Payload.from_text("go"), swarm=Swarm(agents=[agent]), engine=engine, **fields)


def chain_task(engine: str, steps: int = 3, **fields: Any) -> Task:
    """``steps`` agent steps: ``steps - 1`` add calls, then ``total=<steps - 1>``."""
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 0, "b": 1}}]}
    ]
    script += [
        {"tool_calls": [{"name": "add", "arguments": {"a": "{last_tool_output}", "b": 1}}]}
    ] * (steps - 2)
    script.append({"content": "total={last_tool_output}"})
    return make_task(script, ["add"], engine, **fields)


def hold_task(engine: str, **fields: Any) -> Task:
    """Reports its process (``pid``), then waits there (``hold_in``) until cancelled or killed;
    resumed in another process it finishes with ``resumed in <pid>``."""
    script = [
        {"tool_calls": [{"name": "pid", "arguments": {}}]},
        {"tool_calls": [{"name": "hold_in", "arguments": {"pid": "{last_tool_output}"}}]},
        {"content": "{last_tool_output}"},
    ]
    return make_task(script, ["pid", "hold_in"], engine, **fields)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


class WorkerProcess:
    """The remote-tool worker: its stdout lines can be awaited; ``release`` unblocks a call."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            async with self._changed:
                self.lines.append(line.decode().rstrip())
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def expect(self, pattern: str) -> re.Match[str]:
        regex = re.compile(pattern)
        async with asyncio.timeout(WAIT), self._changed:
            while True:
                for line in self.lines:
                    if match := regex.search(line):
                        return match
                if self._reader.done():
                    raise AssertionError("worker exited:\n" + "\n".join(self.lines))
                await self._changed.wait()

    async def release(self, key: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"release {key}\n".encode())
        await self.process.stdin.drain()
