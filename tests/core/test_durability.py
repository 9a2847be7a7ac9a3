"""Durable execution: waiting tasks leave memory, and a restarted runtime resumes unfinished
tasks from their log without repeating finished model calls or tool calls."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aworld_client import (
    AgentSpec,
    InputRequested,
    Payload,
    Swarm,
    Task,
    TaskStatus,
    ToolCallFinished,
)
from aworld_client.handlers import Pending, tool
from aworld_server import Context, Runtime, ScriptedModel
from aworld_server.agents import Agent
from core_helpers import add
from durable_tools import durable_runtime, executions, flaky_runtime
from process_harness import WAIT, assert_eventually

HERE = Path(__file__).resolve().parent

calls: Counter[str] = Counter()


@tool
def note(key: str, value: int, context: Context) -> int:
    """Write a task-context value."""
    calls["note"] += 1
    context[key] = value
    return value


@tool
def approve(amount: int) -> Pending:
    """Wait for a human."""
    calls["approve"] += 1
    return Pending(prompt={"amount": amount})


@tool
def recall(key: str, context: Context) -> Any:
    """Read a task-context value."""
    calls["recall"] += 1
    return context.get(key)


def counting_model(script: list[dict[str, Any]]) -> ScriptedModel:
    inner = ScriptedModel(script)

    def step(messages: Any) -> dict[str, Any]:
        calls["model"] += 1
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        return script[min(turn, len(script) - 1)]

    inner.script = step
    return inner


SCRIPT = [
    {"tool_calls": [{"name": "note", "arguments": {"key": "x", "value": 7}}]},
    {"tool_calls": [{"name": "approve", "arguments": {"amount": 5}}]},
    {"tool_calls": [{"name": "recall", "arguments": {"key": "x"}}]},
    {"content": "x is {last_tool_output}"},
]


def _runtime(path: Path) -> Runtime:
    runtime = Runtime(data_dir=path)
    runtime.registry.add_tool(add, note, approve, recall)
    runtime.registry.add_agent(
        Agent("clerk", model=counting_model(SCRIPT), tools=["note", "approve", "recall"])
    )
    return runtime


def _task() -> Task:
    return Task(input=Payload.from_text("go"), swarm=Swarm(agents=[AgentSpec(name="clerk")]))


async def _requested(runtime: Runtime, task_id: str) -> InputRequested:
    async for event in runtime.stream(task_id):
        if isinstance(event.body, InputRequested):
            return event.body
    raise AssertionError("no input was requested")


async def test_a_waiting_task_is_parked_and_resumes_with_its_context(tmp_path: Path) -> None:
    calls.clear()
    async with _runtime(tmp_path) as runtime:
        submitted = await runtime.submit(_task())
        requested = await _requested(runtime, submitted.task_id)
        await assert_eventually(lambda: runtime.live_tasks == 0, message="the task never parked")

        await runtime.complete_callback(submitted.task_id, requested.callback_id, Payload.of(1))
        response = await runtime.wait(submitted.task_id)

    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.value() == "x is 7"  # the context written before parking survived
    # Steps 1-2 ran before parking and were replayed from the log afterwards, not re-asked:
    # 4 model calls for 4 steps, and every tool ran exactly once.
    assert calls == Counter({"model": 4, "note": 1, "approve": 1, "recall": 1})


async def test_restarted_runtime_resumes_a_parked_task_when_answered(tmp_path: Path) -> None:
    calls.clear()
    async with _runtime(tmp_path) as first:
        submitted = await first.submit(_task())
        requested = await _requested(first, submitted.task_id)
    async with _runtime(tmp_path) as second:
        view = await second.get_task(submitted.task_id)
        assert view.response.status == TaskStatus.INPUT_REQUIRED
        await second.complete_callback(submitted.task_id, requested.callback_id, Payload.of(1))
        response = await second.wait(submitted.task_id)
    assert response.answer.value() == "x is 7"
    assert (calls["note"], calls["approve"], calls["recall"]) == (1, 1, 1)


async def _killed_mid_call(tmp_path: Path, *, idempotent: bool) -> Path:
    """Run the durable task in a child process and SIGKILL it while ``add`` runs."""
    return await _killed_once_started(tmp_path, "run_until_killed.py", "1" if idempotent else "0")


async def _killed_once_started(tmp_path: Path, script: str, *args: str) -> Path:
    """Run ``script`` (a child process writing ``tmp_path/ledger``) until it prints
    ``started``, then SIGKILL it; returns the ledger."""
    ledger = tmp_path / "ledger"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / script),
        str(tmp_path),
        str(ledger),
        *args,
        stdout=asyncio.subprocess.PIPE,
        cwd=HERE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), WAIT)
        assert line.strip() == b"started", line
    finally:
        child.kill()  # SIGKILL: no cleanup runs, the task is RUNNING in the log mid-call
        await child.wait()
    return ledger


@pytest.mark.parametrize("idempotent", [True, False], ids=["idempotent", "not-idempotent"])
async def test_restart_after_sigkill_resumes_without_repeating_finished_tool_calls(
    tmp_path: Path, idempotent: bool
) -> None:
    ledger = await _killed_mid_call(tmp_path, idempotent=idempotent)
    assert executions(ledger) == ["note", "add"]

    async with durable_runtime(tmp_path, ledger, idempotent=idempotent) as second:
        record = await second.store.find_task_by_request_id("durable")
        assert record is not None
        response = await second.wait(record.task_id)
        events = await second.store.read(record.task_id)
    assert response.status == TaskStatus.SUCCEEDED
    finished = [e.body for e in events if isinstance(e.body, ToolCallFinished)]
    if idempotent:
        # The open call runs again as attempt 2 with the same call id (its idempotency key).
        assert response.answer.value() == "sum 5"
        assert executions(ledger) == ["note", "add", "add"]
        assert [(f.tool_name, f.attempt) for f in finished] == [("note", 1), ("add", 2)]
    else:
        # Not idempotent and maybe done: not run again; the agent sees a typed failure.
        assert executions(ledger) == ["note", "add"]
        assert "OutcomeUnknown" in response.answer.value()
        assert [(f.tool_name, f.failure.type if f.failure else "") for f in finished] == [
            ("note", ""),
            ("add", "OutcomeUnknown"),
        ]
    trajectory_steps = [i.meta.step for i in await second_trajectory(tmp_path, record.task_id)]
    assert trajectory_steps == [1, 2, 3]


async def test_a_resumed_call_keeps_the_retry_budget_it_had_left(tmp_path: Path) -> None:
    """Attempt 1 failed, attempt 2 was cut by a SIGKILL: after the restart the call may use
    only the 2 attempts of its 3 that did not fail (the cut one is the runtime's, not the
    tool's), not a fresh budget of 3."""
    ledger = await _killed_once_started(tmp_path, "run_until_killed_retrying.py")
    assert executions(ledger) == ["flaky", "flaky"]

    async def always_fails(execution: int) -> None:
        raise ConnectionError(f"still down ({execution})")

    async with flaky_runtime(tmp_path, ledger, always_fails) as second:
        record = await second.store.find_task_by_request_id("flaky")
        assert record is not None
        response = await second.wait(record.task_id)
        events = await second.store.read(record.task_id)
    finished = [e.body for e in events if isinstance(e.body, ToolCallFinished)]
    # 1 failure before the kill, the cut attempt run again, then 1 more: 2 failures after.
    assert executions(ledger) == ["flaky"] * 4
    assert [(f.attempt, f.will_retry) for f in finished] == [(1, True), (3, True), (4, False)]
    assert "still down" in response.answer.value()


async def second_trajectory(path: Path, task_id: str) -> list[Any]:
    async with Runtime(data_dir=path, parking=False) as runtime:
        return await runtime.trajectory(task_id)


async def test_cancelling_a_parked_task(tmp_path: Path) -> None:
    async with _runtime(tmp_path) as runtime:
        submitted = await runtime.submit(_task())
        await _requested(runtime, submitted.task_id)
        await assert_eventually(lambda: runtime.live_tasks == 0, message="the task never parked")
        assert await runtime.cancel(submitted.task_id) == TaskStatus.CANCELLED
