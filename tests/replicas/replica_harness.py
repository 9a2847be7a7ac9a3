"""Replicas as real processes on one real Redis: started on free ports, each in its own data
dir, SIGKILLed, SIGSTOPped and SIGCONTed by pid; the tasks they run and the record their tools
keep in Redis (see replica_server.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from aworld_client import (
    AgentSpec,
    AsyncClient,
    Event,
    ModelConfig,
    Payload,
    RetryPolicy,
    Swarm,
    Task,
    TaskResponse,
    TaskStatusChanged,
    TaskSubmitted,
    ToolCallFinished,
)
from process_harness import assert_eventually
from redis_harness import RedisServer, unique_prefix
from replica_server import step_value

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SERVER = HERE / "replica_server.py"
WAIT = 60.0  # upper bound for one wait; normally seconds
FAST_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=50), maximum_interval=timedelta(milliseconds=500)
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Replica:
    """One replica process (replica_server.py); its output goes to ``data_dir/serve.log``."""

    def __init__(
        self, data_dir: Path, redis_url: str, prefix: str, lease_ttl: float, *extra: str
    ) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.args = [
            *("--port", str(self.port), "--data-dir", str(data_dir)),
            *("--ready-file", str(data_dir / "ready"), "--redis-url", redis_url),
            *("--prefix", prefix, "--lease-ttl", str(lease_ttl)),
            *extra,
        ]
        self.log = data_dir / "serve.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        (self.data_dir / "ready").unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWORLD_", "OPENAI_"))}
        env["PYTHONUNBUFFERED"] = "1"
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(SERVER),
                *self.args,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        process = self.process

        def ready() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"replica exited ({process.returncode}):\n{self.text()}")
            return (self.data_dir / "ready").exists()

        await assert_eventually(ready, timeout=WAIT, message=f"not ready:\n{self.text()}")

    def signal(self, signum: int) -> None:
        os.killpg(self.pid, signum)

    async def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Record:
    """What the tools of every replica wrote in Redis: (pid, time) per start and end of each
    step of each task."""

    client: redis.Redis
    keys: str  # "<prefix>t:"
    gate: Path  # the file the steps wait for

    def entries(self, name: str, n: int, kind: str) -> list[tuple[int, float]]:
        out = []
        for raw in self.client.lrange(f"{self.keys}{name}:{n}:{kind}", 0, -1):
            pid, at = raw.decode().split()
            out.append((int(pid), float(at)))
        return out

    def open_gate(self) -> None:
        self.gate.touch()


def chain_task(name: str, seed: int, steps: int = 3) -> Task:
    """``steps`` calls of ``step``, each on the previous output (from the second on, waiting
    for the gate), then ``answer=<value>``."""
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "step", "arguments": {"x": seed, "n": 1, "name": name}}]}
    ]
    for n in range(2, steps + 1):
        arguments = {"x": "{last_tool_output}", "n": n, "name": name}
        script.append({"tool_calls": [{"name": "step", "arguments": arguments}]})
    script.append({"content": "answer={last_tool_output}"})
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="chain", tool_names=["step"], model=model)
    return Task(
        name=name,
        input=Payload.from_text(f"chain {seed}"),
        swarm=Swarm(agents=[agent]),
        retry_policy=FAST_RETRY,
    )


def chain_answer(seed: int, steps: int = 3) -> str:
    value = seed
    for _ in range(steps):
        value = step_value(value)
    return f"answer={value}"


def approve_task() -> Task:
    script = [
        {"tool_calls": [{"name": "approve", "arguments": {"amount": 7}}]},
        {"content": "got {last_tool_output}"},
    ]
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="solver", tool_names=["approve"], model=model)
    return Task(input=Payload.from_text("approve"), swarm=Swarm(agents=[agent]))


async def read_log(client: AsyncClient, task_id: str) -> list[Event]:
    return [e async for e in client.events(task_id, follow=False)]


def log_problems(events: list[Event]) -> list[str]:
    """What is wrong with one task's log: seqs not 1..N, not exactly one submission and one
    terminal event (the last), a tool call completed twice."""
    problems = []
    seqs = [e.seq for e in events]
    if seqs != list(range(1, len(events) + 1)):
        problems.append(f"seqs {seqs}")
    if sum(isinstance(e.body, TaskSubmitted) for e in events) != 1:
        problems.append("not one TaskSubmitted")
    terminal = [e for e in events if e.is_terminal]
    if len(terminal) != 1 or events[-1] is not terminal[0]:
        problems.append(f"{len(terminal)} terminal events")
    calls = [
        e.body.call_id
        for e in events
        if isinstance(e.body, ToolCallFinished) and e.body.failure is None
    ]
    if len(calls) != len(set(calls)):
        problems.append(f"tool calls completed twice: {calls}")
    return problems


async def final(client: AsyncClient, task_id: str, timeout: float = WAIT) -> TaskResponse:
    """The task's terminal response, following its events (on any replica)."""
    seen: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            async for event in client.events(task_id):
                seen.append(f"{event.seq}:{type(event.body).__name__}")
                if isinstance(event.body, TaskStatusChanged) and event.body.status.is_terminal:
                    assert event.body.response is not None
                    return event.body.response
    except TimeoutError:
        raise AssertionError(f"task {task_id}: no terminal event in {timeout}s: {seen}") from None
    raise AssertionError(f"task {task_id}: stream ended without a terminal event: {seen}")


def now() -> float:
    return time.time()


LEASE_TTL = 1.5  # seconds: short, so takeovers are quick, long enough for a loaded machine


class Cluster:
    def __init__(self, root: Path, redis_server: RedisServer) -> None:
        self.root = root
        self.redis_url = redis_server.url
        self.prefix = unique_prefix("replicas")
        self.lease_ttl = LEASE_TTL
        self.replicas: list[Replica] = []
        self.client = redis.Redis.from_url(self.redis_url)
        self.record = Record(self.client, f"{self.prefix}t:", root / "gate")

    async def start(self, count: int, *extra: str) -> list[Replica]:
        """``count`` more replicas, each with ``extra`` arguments (see replica_server.py)."""
        started = []
        for _ in range(count):
            replica = Replica(
                self.root / f"replica-{len(self.replicas)}",
                self.redis_url,
                self.prefix,
                self.lease_ttl,
                "--gate",
                str(self.record.gate),
                *extra,
            )
            self.replicas.append(replica)
            await replica.start()
            started.append(replica)
        return started

    async def close(self) -> None:
        for replica in self.replicas:
            await replica.kill()
        self.client.close()

    def owner_of(self, task_id: str) -> str | None:
        value = self.client.get(f"{self.prefix}lease:{task_id}")
        return None if value is None else value.decode().rsplit(":", 1)[0]

    def replica_id(self, replica: Replica) -> str:
        return (replica.data_dir / "replica-id").read_text().strip()
