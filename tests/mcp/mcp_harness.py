"""Helpers of the MCP suite: the test MCP server (``mcp_server.py``) declared for stdio or run
over streamable HTTP, the files it reports through, and process checks by pid.

Nothing sleeps to synchronise: every wait polls a condition (a line in a file, a port that
accepts, a pid that is gone) under a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aworld_client import Event, ModelConfig, Payload, RetryPolicy
from aworld_client.event import ToolCallFinished, ToolCallStarted
from aworld_server.agents.model import ModelResponse, ScriptedModel
from aworld_server.mcp import McpServer
from process_harness import WAIT, assert_eventually

__all__ = [
    "FAST_RETRY",
    "MCP_SERVER",
    "HttpMcpServer",
    "McpFiles",
    "RecordingModel",
    "alive",
    "free_port",
    "scripted",
    "toml_config",
    "tool_events",
    "wait_gone",
]

MCP_SERVER = Path(__file__).resolve().with_name("mcp_server.py")
# Retries after 50 ms instead of the default second; 3 attempts.
FAST_RETRY = RetryPolicy(
    maximum_attempts=3,
    initial_interval=timedelta(milliseconds=50),
    maximum_interval=timedelta(milliseconds=200),
)


@dataclass
class McpFiles:
    """The files one test's MCP server processes report through."""

    root: Path

    @property
    def ledger(self) -> Path:
        return self.root / "ledger"

    @property
    def pid_file(self) -> Path:
        return self.root / "pids"

    def env(self) -> dict[str, str]:
        return {"MCP_LEDGER": str(self.ledger), "MCP_PIDS": str(self.pid_file)}

    def lines(self) -> list[str]:
        return self.ledger.read_text().splitlines() if self.ledger.exists() else []

    def count(self, tool: str) -> int:
        """How many times ``tool`` really ran (in any process)."""
        return sum(1 for line in self.lines() if line.split(" ", 1)[0] == tool)

    def pids(self) -> list[int]:
        """Every process of the server started so far, in order."""
        if not self.pid_file.exists():
            return []
        return [int(p) for p in self.pid_file.read_text().split()]

    def stdio(self, name: str = "demo", **fields: Any) -> McpServer:
        """The test server as a stdio subprocess of the runtime."""
        fields.setdefault("startup_timeout", WAIT)
        env = {**self.env(), **fields.pop("env", {})}
        return McpServer(
            name=name, command=sys.executable, args=[str(MCP_SERVER)], env=env, **fields
        )

    def stdio_table(self, **fields: Any) -> dict[str, Any]:
        """The same, as a TOML-shaped table of the server configuration."""
        return self.stdio(**fields).model_dump(exclude={"name"}, exclude_defaults=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _PortTaken(Exception):
    """The server could not bind its port: someone took it after we found it free."""


class HttpMcpServer:
    """The test server over streamable HTTP, started by the test on a free port and stopped
    by pid."""

    def __init__(self, files: McpFiles, port: int = 0) -> None:
        self.files = files
        self._port_chosen = not port  # ours to change if someone takes it before we bind
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = files.root / f"http-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    async def start(self) -> HttpMcpServer:
        for _ in range(5 if self._port_chosen else 1):
            try:
                return await self._start_once()
            except _PortTaken:
                self.port = free_port()  # taken between finding and binding it: another
                self.log = self.files.root / f"http-{self.port}.log"
        raise AssertionError(f"MCP HTTP server found no free port:\n{self.log.read_text()}")

    async def _start_once(self) -> HttpMcpServer:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(MCP_SERVER), "--http", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own pid file: ``files.pids()`` lists the processes the runtime starts.
                env={**os.environ, **self.files.env(), "MCP_PIDS": str(self.log) + ".pid"},
            )
        process = self.process

        def listening() -> bool:
            if process.poll() is not None:
                output = self.log.read_text()
                if "address already in use" in output.lower():
                    raise _PortTaken(output)
                raise AssertionError(f"MCP HTTP server exited:\n{output}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        try:
            await assert_eventually(listening, message=f"not listening:\n{self.log.read_text()}")
        except BaseException:
            await self.stop()  # a server that never listened is still ours to stop
            raise
        return self

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            await asyncio.to_thread(self.process.wait)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


async def wait_gone(pid: int, timeout: float = WAIT) -> None:
    await assert_eventually(
        lambda: not alive(pid), timeout=timeout, message=f"process {pid} is still running"
    )


def scripted(script: list[dict[str, Any]]) -> ModelConfig:
    """A served task's scripted model (the server's ``scripted`` provider)."""
    return ModelConfig(provider="scripted", options=Payload.of({"script": script}))


class RecordingModel(ScriptedModel):
    """The scripted model, remembering the tool declarations it was shown at each step."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        super().__init__(script)
        self.declarations: list[list[dict[str, Any]]] = []

    async def complete(self, messages: Any, tools: Any, *, on_chunk: Any = None) -> ModelResponse:
        self.declarations.append(list(tools))
        return await super().complete(messages, tools, on_chunk=on_chunk)


def tool_events(events: list[Event]) -> list[ToolCallStarted | ToolCallFinished]:
    return [e.body for e in events if isinstance(e.body, ToolCallStarted | ToolCallFinished)]


def toml_config(servers: dict[str, dict[str, Any]], **top: Any) -> str:
    """A server TOML file with ``top``-level settings and ``[mcp_servers.<name>]`` tables."""
    lines = [f"{key} = {_toml(value)}" for key, value in top.items()]
    for name, table in servers.items():
        lines.append(f"\n[mcp_servers.{name}]")
        lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for the paths and words used here
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")
