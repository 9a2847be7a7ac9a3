"""MCP tools benchmark: what an MCP server as a tool source costs per call and per start.

* Start: declaring a stdio MCP server to the first task's first step: the process starts
  (a Python MCPServer), the handshake, tools/list, registration (``McpToolSource.connect``).
* Per step: one task of 50 agent steps (a scripted model call plus one ``add`` tool call each;
  49 calls and a final answer), per step = wall / 50, the durable SQLite event log on — with
  ``add`` a local ``@tool`` (the reference), an MCP tool over stdio, and over streamable HTTP.
* Floor: 200 sequential ``tools/call`` of the same ``add`` with the SDK's ``Client`` alone (no
  runtime), stdio and HTTP: what the transport costs before the runtime adds anything.

Each run is a fresh process with a fresh data directory; medians of ``--runs`` runs (default 3).
Run: ``.venv/bin/python bench/bench_mcp.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

STEPS = 50
FLOOR_CALLS = 200

SERVER = """
import sys
from mcp.server.mcpserver import MCPServer

server = MCPServer("bench")


@server.tool()
def add(a: int, b: int) -> int:
    return a + b


if len(sys.argv) > 1:
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
else:
    server.run()
"""


def _script(tool: str) -> list[dict[str, Any]]:
    step = {"tool_calls": [{"name": tool, "arguments": {"a": 1, "b": 2}}]}
    return [step] * (STEPS - 1) + [{"content": "done"}]


async def _child(kind: str, root: Path) -> dict[str, float]:
    from aworld_client import Payload, Swarm, Task
    from aworld_client.handlers import tool
    from aworld_server import Agent, Runtime, ScriptedModel
    from aworld_server.mcp import McpServer
    from mcp import Client, StdioServerParameters

    server_py = root / "server.py"
    server_py.write_text(SERVER)
    http: subprocess.Popen[bytes] | None = None
    out: dict[str, float] = {}
    try:
        if kind == "http":
            port = _free_port()
            http = subprocess.Popen(
                [sys.executable, str(server_py), str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await _listening(port)
            declared = McpServer(name="m", url=f"http://127.0.0.1:{port}/mcp")
            target: Any = declared.url
        else:
            declared = McpServer(name="m", command=sys.executable, args=[str(server_py)])
            target = StdioServerParameters(command=sys.executable, args=[str(server_py)])

        if kind in ("stdio", "http"):  # the SDK alone
            async with Client(target) as client:
                await client.call_tool("add", {"a": 1, "b": 2})
                started = time.perf_counter()
                for _ in range(FLOOR_CALLS):
                    await client.call_tool("add", {"a": 1, "b": 2})
                out["floor_call_ms"] = (time.perf_counter() - started) * 1000 / FLOOR_CALLS

        @tool
        def add(a: int, b: int) -> int:
            return a + b

        async with Runtime(data_dir=root / "data") as runtime:
            runtime.registry.add_tool(add)
            name = "add" if kind == "local" else "m__add"
            servers = [] if kind == "local" else [declared]
            agent = Agent("bench", model=ScriptedModel(_script(name)), mcp_servers=servers)
            runtime.registry.add_agent(agent)

            def task() -> Task:
                return Task(input=Payload.from_text("go"), swarm=Swarm(agents=[agent.spec()]))

            started = time.perf_counter()
            if kind != "local":
                await runtime.mcp.connect(declared)
                out["start_ms"] = (time.perf_counter() - started) * 1000
            await runtime.run(task())  # warm-up
            times = []
            for _ in range(3):
                started = time.perf_counter()
                response = await runtime.run(task())
                times.append(time.perf_counter() - started)
                assert response.status.name == "SUCCEEDED", response.failure
            out["step_ms"] = statistics.median(times) * 1000 / STEPS
    finally:
        if http is not None:
            http.kill()
            http.wait()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _listening(port: int) -> None:
    async with asyncio.timeout(30):
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            await asyncio.sleep(0.05)  # a poll of a port the child opens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=("local", "stdio", "http"))
    parser.add_argument("--root")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, Path(args.root)))))
        return
    results: dict[str, list[dict[str, float]]] = {"local": [], "stdio": [], "http": []}
    for _ in range(args.runs):
        for kind in results:
            with tempfile.TemporaryDirectory() as root:
                line = (
                    subprocess.run(
                        [sys.executable, __file__, "--child", kind, "--root", root],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    .stdout.strip()
                    .splitlines()[-1]
                )
                results[kind].append(json.loads(line))
    print(
        f"machine: {os.cpu_count()} cores, {platform.platform()}, Python "
        f"{platform.python_version()}, mcp {metadata.version('mcp')}; medians of {args.runs} runs"
    )
    for kind, runs in results.items():
        row = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{kind:6} " + "  ".join(f"{k} {v:.2f}" for k, v in sorted(row.items())))


if __name__ == "__main__":
    main()
