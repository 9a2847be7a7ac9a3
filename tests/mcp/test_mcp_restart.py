"""MCP tool calls are durable across a runtime crash: a real ``aworld serve`` process with a
configured stdio MCP server is SIGKILLed after some MCP calls finished and while another is in
flight; restarted on the same data directory, it resumes the task — the finished calls replay
from the log without running again (the MCP server's ledger says how often a tool really ran),
the interrupted one runs again only if the tool is idempotent — and no MCP server process of
either run is left behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aworld_client import AgentSpec, AsyncClient, Payload, Swarm, Task, TaskStatus
from aworld_client.event import ToolCallFinished, ToolCallStarted
from mcp_harness import FAST_RETRY, McpFiles, alive, scripted, toml_config, wait_gone
from process_harness import WAIT, assert_eventually, launch_server

_SCRIPT = Path(sys.executable).with_name("aworld")
AWORLD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "aworld_server.cli"]


class Serve:
    """``aworld serve`` processes on one data directory, each stopped by pid."""

    def __init__(self, root: Path, files: McpFiles) -> None:
        self.data_dir = root / "data"
        self.config = root / "server.toml"
        self.config.write_text(toml_config({"demo": files.stdio_table()}))
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log = self.data_dir / "serve.log"

    def start(self) -> str:
        process, self.log, address = launch_server(
            AWORLD, self.data_dir, "--config", str(self.config), timeout=WAIT
        )
        self.processes.append(process)
        assert address, f"aworld serve did not start:\n{self.log.read_text()}"
        return address

    async def kill(self) -> None:
        process = self.processes[-1]
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, WAIT)

    async def terminate(self) -> int:
        process = self.processes[-1]
        process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(process.wait, WAIT)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(WAIT)


@pytest.fixture
def serve(tmp_path: Path, files: McpFiles) -> Iterator[Serve]:
    servers = Serve(tmp_path, files)
    try:
        yield servers
    finally:
        servers.stop_all()
        for pid in files.pids():  # no MCP server may outlive the test, whatever happened
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def task(last_call: dict[str, Any]) -> Task:
    script = [
        {"tool_calls": [{"name": "demo__add", "arguments": {"a": 1, "b": 2}}]},
        {"tool_calls": [{"name": "demo__add", "arguments": {"a": 30, "b": 12}}]},
        {"tool_calls": [last_call]},
        {"content": "answer={last_tool_output}"},
    ]
    agent = AgentSpec(name="solver", mcp_servers=["demo"], model=scripted(script))
    return Task(
        input=Payload.from_text("add, then wait"),
        swarm=Swarm(agents=[agent]),
        retry_policy=FAST_RETRY,
    )


async def crash_mid_call(serve: Serve, files: McpFiles, last: dict[str, Any], tool: str) -> str:
    """Start the server, submit the task, SIGKILL the server while ``tool`` is in flight (both
    adds finished), and check its MCP server goes with it. Returns the task id."""
    async with AsyncClient(serve.start()) as client:
        task_id = await client.submit(task(last))
        await assert_eventually(lambda: files.count(tool) == 1)
    assert files.count("add") == 2
    [first_mcp] = files.pids()
    await serve.kill()
    # Its stdin closed with its parent: the MCP server exits by itself, no orphan.
    await wait_gone(first_mcp)
    return task_id


async def test_finished_mcp_calls_replay_after_a_crash_without_running_again(
    serve: Serve, files: McpFiles, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    last = {"name": "demo__wait_for", "arguments": {"path": str(gate)}}
    task_id = await crash_mid_call(serve, files, last, "wait_for")

    async with AsyncClient(serve.start()) as client:
        # Resumed: the configured server started again; the read-only call that was in flight
        # runs again (its outcome was unknown, and it is idempotent) ...
        await assert_eventually(lambda: files.count("wait_for") == 2)
        gate.write_text("resumed")
        events = [e async for e in client.events(task_id)]
        response = (await client.get(task_id)).response
    assert response is not None and response.status == TaskStatus.SUCCEEDED, response
    assert response.answer is not None
    assert response.answer.value() == 'answer={"result": "resumed"}'
    # ... and the two finished adds were replayed from the log, not run again.
    assert files.count("add") == 2
    starts = [e.body for e in events if isinstance(e.body, ToolCallStarted)]
    assert [(s.tool_name, s.attempt) for s in starts] == [
        ("demo__add", 1),
        ("demo__add", 1),
        ("demo__wait_for", 1),
        ("demo__wait_for", 2),
    ]
    finished = [e.body for e in events if isinstance(e.body, ToolCallFinished)]
    assert [f.result.value() if f.result else None for f in finished] == [
        {"result": 3},
        {"result": 42},
        {"result": "resumed"},
    ]
    second_mcp = files.pids()[1]
    assert alive(second_mcp)
    assert await serve.terminate() == 0
    await wait_gone(second_mcp)  # a graceful stop stops the MCP server too


async def test_a_non_idempotent_mcp_call_in_flight_at_a_crash_is_not_run_again(
    serve: Serve, files: McpFiles, tmp_path: Path
) -> None:
    last = {"name": "demo__record", "arguments": {"note": "pay", "gate": str(tmp_path / "no")}}
    task_id = await crash_mid_call(serve, files, last, "record")

    async with AsyncClient(serve.start()) as client:
        events = [e async for e in client.events(task_id)]
        response = (await client.get(task_id)).response
    assert response is not None and response.status == TaskStatus.SUCCEEDED, response
    assert response.answer is not None
    assert "OutcomeUnknown" in str(response.answer.value())  # what the agent was told
    assert files.count("record") == 1 and files.count("add") == 2
    finished = [e.body for e in events if isinstance(e.body, ToolCallFinished)]
    assert finished[-1].failure is not None and finished[-1].failure.type == "OutcomeUnknown"
    assert await serve.terminate() == 0
    for pid in files.pids():
        await wait_gone(pid)
