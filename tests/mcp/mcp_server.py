"""A real MCP server for the tests, built with the SDK's ``MCPServer`` (mcp 1.x called it
FastMCP). Served over stdio by default, or over streamable HTTP with ``--http PORT``.

Everything the tests observe goes through files they control:

* ``MCP_PIDS`` (env): each start appends ``<pid>`` — how many times the server was started,
  and which processes must be gone at the end;
* ``MCP_LEDGER`` (env): each tool invocation appends ``<tool> <args...>`` (``wait_for`` also
  ``cancelled <path>`` when the client cancels it) — how many times a tool really ran;
* ``wait_for(path)`` / ``record(note, gate)`` block until the file the test names exists, so a
  test can kill the process or cancel the task while a call is in flight.
"""

from __future__ import annotations

import argparse
import os

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from opentelemetry import trace

server = MCPServer("test-tools")


def _ledger(*words: object) -> None:
    path = os.environ.get("MCP_LEDGER")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(" ".join(str(w) for w in words) + "\n")


async def _until_exists(path: str) -> None:
    while not os.path.exists(path):
        await anyio.sleep(0.02)  # polling a file the test creates: the server's own wait


@server.tool(annotations=ToolAnnotations(idempotent_hint=True))
def add(a: int, b: int) -> int:
    """Add two integers."""
    _ledger("add", a, b)
    return a + b


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
async def wait_for(path: str) -> str:
    """Wait until the file at path exists and return its text."""
    _ledger("wait_for", path)
    try:
        await _until_exists(path)
    except anyio.get_cancelled_exc_class():
        _ledger("cancelled", path)
        raise
    with open(path, encoding="utf-8") as source:
        return source.read().strip()


@server.tool()
async def record(note: str, gate: str) -> str:
    """Record a note (a side effect: not idempotent), then wait until the gate file exists."""
    _ledger("record", note)
    await _until_exists(gate)
    return f"recorded {note}"


@server.tool()
def fail(message: str) -> str:
    """Always fails with the message (an isError result)."""
    _ledger("fail", message)
    raise ToolError(message)  # a tool's own error: its text reaches the client


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def env(name: str) -> str:
    """The value of an environment variable of this server process ('' if unset)."""
    return os.environ.get(name, "")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def trace_id() -> str:
    """The trace this call belongs to, as the client propagated it (W3C trace context)."""
    return format(trace.get_current_span().get_span_context().trace_id, "032x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=0, help="serve streamable HTTP on this port")
    options = parser.parse_args()
    pids = os.environ.get("MCP_PIDS")
    if pids:
        with open(pids, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()}\n")
    if options.http:
        server.run("streamable-http", host="127.0.0.1", port=options.http)
    else:
        server.run()


if __name__ == "__main__":
    main()
