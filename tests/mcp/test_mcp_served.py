"""MCP servers of the server's configuration, over a real gRPC server: they start with it, their
tools are listed by ListHandlers with their schemas and used by tasks submitted over gRPC, a
task may name a configured server on its agent, and a server that cannot start keeps the
server from starting with a readable error (``start_server`` and the ``aworld serve`` CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from aworld_client import (
    AgentSpec,
    AsyncClient,
    HandlerKind,
    Payload,
    RuntimeServiceError,
    Swarm,
    Task,
    TaskStatus,
)
from aworld_client.event import ToolCallFinished
from aworld_server.config import ServerConfig
from aworld_server.mcp import McpStartupError
from aworld_server.server import RunningServer, start_server
from mcp_harness import (
    FAST_RETRY,
    HttpMcpServer,
    McpFiles,
    alive,
    free_port,
    scripted,
    toml_config,
    wait_gone,
)

AWORLD = Path(sys.executable).with_name("aworld")


@pytest.fixture
async def http_mcp(files: McpFiles) -> AsyncIterator[HttpMcpServer]:
    server = await HttpMcpServer(files).start()
    try:
        yield server
    finally:
        await server.stop()


async def serve(tmp_path: Path, **mcp_servers: dict[str, Any]) -> RunningServer:
    config = ServerConfig.load(
        port=0,
        data_dir=tmp_path / "data",
        shutdown_grace=timedelta(seconds=1),
        mcp_servers=mcp_servers,
    )
    return await start_server(config)


async def test_configured_servers_are_listed_and_serve_tasks_over_grpc(
    tmp_path: Path, files: McpFiles, http_mcp: HttpMcpServer
) -> None:
    server = await serve(tmp_path, demo=files.stdio_table(), web={"url": http_mcp.url})
    try:
        [pid] = files.pids()  # started with the server, before any task
        async with AsyncClient(server.address) as client:
            listed = {h.spec.name: h for h in await client.handlers(HandlerKind.TOOL) if h.spec}
            for name in ("demo__add", "web__add"):
                spec = listed[name].spec
                assert spec is not None and listed[name].local
                assert spec.description == "Add two integers."
                schema = json.loads(spec.input_schema)
                assert schema["required"] == ["a", "b"]
                assert schema["properties"]["b"]["type"] == "integer"
                assert json.loads(spec.output_schema)["properties"]["result"]["type"] == "integer"
                assert spec.idempotent  # idempotentHint
            assert listed["demo__wait_for"].spec.idempotent  # readOnlyHint
            assert not listed["demo__record"].spec.idempotent  # no hint: not idempotent

            # The agent names the stdio server (all of its tools) and one tool of the other.
            script = [
                {"tool_calls": [{"name": "demo__add", "arguments": {"a": 1, "b": 2}}]},
                {"tool_calls": [{"name": "web__add", "arguments": {"a": 30, "b": 12}}]},
                {"content": "answer={last_tool_output}"},
            ]
            agent = AgentSpec(
                name="solver",
                mcp_servers=["demo"],
                tool_names=["web__add"],
                model=scripted(script),
            )
            task = Task(
                input=Payload.from_text("add"),
                swarm=Swarm(agents=[agent]),
                retry_policy=FAST_RETRY,
            )
            response = await client.run_to_completion(task)
            assert response.status == TaskStatus.SUCCEEDED, response.failure
            assert response.answer is not None
            assert response.answer.value() == 'answer={"result": 42}'
            finished = [
                e.body
                async for e in client.events(response.id, follow=False)
                if isinstance(e.body, ToolCallFinished)
            ]
            assert [(f.tool_name, f.result.value() if f.result else None) for f in finished] == [
                ("demo__add", {"result": 3}),
                ("web__add", {"result": 42}),
            ]
            assert files.lines() == ["add 1 2", "add 30 12"]

            # Called directly, outside any task.
            direct = await client.invoke("demo__add", {"a": 5, "b": 6})
            assert direct.output is not None and direct.output.value() == {"result": 11}
            # Input that fails the listed schema never reaches the server.
            with pytest.raises(RuntimeServiceError) as bad:
                await client.invoke("demo__add", {"a": "five", "b": 6})
            assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert files.count("add") == 3
        assert alive(pid)
    finally:
        await server.stop()
    await wait_gone(pid)  # stopped with the server
    assert alive(http_mcp.process.pid) if http_mcp.process else True  # not ours to stop


async def test_a_task_naming_an_unknown_server_is_invalid(tmp_path: Path, files: McpFiles) -> None:
    server = await serve(tmp_path, demo=files.stdio_table())
    try:
        async with AsyncClient(server.address) as client:
            agent = AgentSpec(
                name="solver", mcp_servers=["demo", "nope"], model=scripted([{"content": "x"}])
            )
            task = Task(input=Payload.from_text("go"), swarm=Swarm(agents=[agent]))
            with pytest.raises(RuntimeServiceError) as error:
                await client.submit(task)
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.value.violations == [
            ("task.swarm.agents[0].mcp_servers[1]", "no MCP server named 'nope' is configured")
        ]
    finally:
        await server.stop()


async def test_a_configured_server_that_cannot_start_stops_the_server_start(
    tmp_path: Path, files: McpFiles
) -> None:
    with pytest.raises(McpStartupError) as ghost:
        await serve(tmp_path, ok=files.stdio_table(), ghost={"command": "/nonexistent/mcp"})
    message = str(ghost.value)
    assert "mcp_servers.ghost: /nonexistent/mcp: no such executable" in message
    assert "mcp_servers.ok" not in message
    [started] = files.pids()
    await wait_gone(started)  # the server that did start was stopped again

    url = f"http://127.0.0.1:{free_port()}/mcp"  # nothing listens there
    with pytest.raises(McpStartupError) as nobody:
        await serve(tmp_path, nobody={"url": url, "startup_timeout": 10})
    assert f"mcp_servers.nobody: {url}: " in str(nobody.value)
    assert "ConnectError" in str(nobody.value)


def test_aworld_serve_refuses_to_start_with_a_readable_error(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text(toml_config({"ghost": {"command": "/nonexistent/mcp-server"}}))
    result = subprocess.run(
        [str(AWORLD), "serve", "--config", str(config), "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "MCP server(s) of the configuration did not start" in result.stderr
    assert "mcp_servers.ghost" in result.stderr
    assert "/nonexistent/mcp-server" in result.stderr
    assert "Traceback" not in result.stderr

    config.write_text(toml_config({"both": {"command": "x", "url": "http://h/mcp"}}))
    result = subprocess.run(
        [str(AWORLD), "serve", "--config", str(config), "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "mcp_servers" in result.stderr and "exactly one of command" in result.stderr
