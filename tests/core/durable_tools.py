"""The runtime and task that ``run_until_killed.py`` runs and ``test_durability.py`` resumes:
the same tools in both processes, counting their executions in a ledger file (one line each),
so the counts survive the SIGKILL of the first process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from aworld_client import AgentSpec, ModelConfig, Payload, RetryPolicy, Swarm, Task
from aworld_client.handlers import tool
from aworld_server import Context, Runtime

SCRIPT = [
    {"tool_calls": [{"name": "note", "arguments": {"key": "k", "value": 1}}]},
    {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
    {"content": "sum {last_tool_output}"},
]


def durable_task() -> Task:
    model = ModelConfig(provider="scripted", options=Payload.of({"script": SCRIPT}))
    return Task(
        input=Payload.from_text("go"),
        swarm=Swarm(agents=[AgentSpec(name="a", tool_names=["note", "add"], model=model)]),
    )


def durable_runtime(
    data_dir: Path,
    ledger: Path,
    *,
    idempotent: bool,
    before: Callable[[], Awaitable[None]] | None = None,
) -> Runtime:
    """A runtime whose ``add`` runs ``before`` (if any) after recording its execution."""

    def record(name: str) -> None:
        with ledger.open("a") as out:
            out.write(name + "\n")

    @tool
    def note(key: str, value: int, context: Context) -> int:
        """Write a task-context value."""
        record("note")
        context[key] = value
        return value

    @tool(idempotent=idempotent)
    async def add(a: int, b: int) -> int:
        """Add two integers."""
        record("add")
        if before is not None:
            await before()
        return a + b

    runtime = Runtime(data_dir=data_dir)
    runtime.registry.add_tool(note, add)
    return runtime


def executions(ledger: Path) -> list[str]:
    return ledger.read_text().split() if ledger.exists() else []


def flaky_task() -> Task:
    script = [
        {"tool_calls": [{"name": "flaky", "arguments": {"x": 1}}]},
        {"content": "got {last_tool_output}"},
    ]
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    return Task(
        input=Payload.from_text("go"),
        swarm=Swarm(agents=[AgentSpec(name="a", tool_names=["flaky"], model=model)]),
    )


def flaky_runtime(
    data_dir: Path, ledger: Path, behave: Callable[[int], Awaitable[None]]
) -> Runtime:
    """A runtime whose idempotent ``flaky`` tool (3 attempts, 10 ms apart) records each
    execution in ``ledger``, then lets ``behave(execution number in this process)`` decide."""
    executions_here = 0

    @tool(
        idempotent=True,
        retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(milliseconds=10)),
    )
    async def flaky(x: int) -> int:
        """A tool that fails now and then."""
        nonlocal executions_here
        executions_here += 1
        with ledger.open("a") as out:
            out.write("flaky\n")
        await behave(executions_here)
        return x

    runtime = Runtime(data_dir=data_dir)
    runtime.registry.add_tool(flaky)
    return runtime
