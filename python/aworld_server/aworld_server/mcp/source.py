"""``McpToolSource``: MCP servers as a source of tools for one runtime.

It connects to servers and registers each of their tools into the ``HandlerRegistry`` (as
:class:`~aworld_server.mcp.tool.McpTool` objects), so the runtime calls them like any
in-process tool and needs no MCP knowledge: calls are recorded (ToolCallStarted/Finished),
replayed after a restart, retried, cancelled and traced by the tool-call path.

When servers start:

* declared in the server's configuration (``[mcp_servers.<name>]``): at server start, all of
  them; one that fails stops the server from starting (``McpStartupError``);
* declared on an agent (a Python ``Agent``'s ``mcp_servers``, or a task's
  ``AgentSpec.mcp_servers`` naming configured servers): lazily, when the first task with that
  agent starts; one that cannot start fails that task (``McpServerUnavailable``).

Either way a server is started once per runtime and reused by every call and task; one that
is lost is started again by the next call. :meth:`aclose` (the runtime's close) stops them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aworld_client import Task

from aworld_server.config import McpServer
from aworld_server.mcp.errors import McpServerUnavailable, McpStartupError

if TYPE_CHECKING:
    from mcp_types import Tool

    from aworld_server.agents.agent import Agent
    from aworld_server.handlers import HandlerRegistry
    from aworld_server.mcp.connection import McpConnection

__all__ = ["McpToolSource"]

log = logging.getLogger(__name__)


class McpToolSource:
    """The MCP servers of one runtime, their connections and their registered tools."""

    def __init__(self, registry: HandlerRegistry) -> None:
        self.registry = registry
        self.servers: dict[str, McpServer] = {}  # every server declared so far, by name
        self.configured: set[str] = set()  # the names tasks may use (AgentSpec.mcp_servers)
        self._connections: dict[str, McpConnection] = {}
        self._tools: dict[str, list[str]] = {}  # server name -> its tools' runtime names
        self._registered_start: dict[str, int] = {}  # server name -> session they came from

    # -- starting -------------------------------------------------------------------------
    async def start(self, servers: Mapping[str, McpServer]) -> None:
        """Start the configured servers now and register their tools; tasks may name them in
        ``AgentSpec.mcp_servers``. Each is named after its key. If any fails, all are stopped
        and McpStartupError names each failure."""
        for key, server in servers.items():
            if server.name not in ("", key):
                raise ValueError(f"mcp_servers.{key}: name {server.name!r} differs from the key")
        servers = {
            key: McpServer.model_validate({**server.model_dump(), "name": key})
            for key, server in servers.items()
        }
        for server in servers.values():
            self._declare(server)
            self.configured.add(server.name)
        results = await asyncio.gather(
            *(self.connect(server) for server in servers.values()), return_exceptions=True
        )
        failures: list[str] = []
        for server, result in zip(servers.values(), results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                reason = result.reason if isinstance(result, McpServerUnavailable) else result
                failures.append(f"mcp_servers.{server.name}: {reason}")
        if failures:
            await self.aclose()
            raise McpStartupError(
                "MCP server(s) of the configuration did not start:\n  " + "\n  ".join(failures)
            )

    async def connect(self, server: McpServer) -> list[str]:
        """Start ``server`` if it is not running and register its tools; their names."""
        self._declare(server)
        connection = self._connection(server)
        tools = await connection.tools()
        if self._registered_start.get(server.name) != connection.starts:
            self._register(server, connection, tools)
        return self._tools[server.name]

    async def prepare(self, task: Task) -> None:
        """Start the MCP servers the task's agents declare (each once per runtime). Raises a
        non-retryable McpServerUnavailable when one cannot start: the task cannot run."""
        servers = self._servers_of(task)
        if not servers:
            return
        results = await asyncio.gather(*(self.connect(s) for s in servers), return_exceptions=True)
        for result in results:
            if isinstance(result, McpServerUnavailable):
                raise McpServerUnavailable(result.server, result.reason, non_retryable=True)
            if isinstance(result, BaseException):
                raise result

    def tool_names(self, agent: Agent) -> list[str]:
        """The runtime names of the tools of the MCP servers ``agent`` declares."""
        names: list[str] = []
        for server in agent.mcp_servers:
            names.extend(self._tools.get(server if isinstance(server, str) else server.name, []))
        return names

    async def aclose(self) -> None:
        """Stop every server (stdio processes: stdin closed, then terminated, then killed)."""
        connections = list(self._connections.values())
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)

    # -- internals ------------------------------------------------------------------------
    def _declare(self, server: McpServer) -> None:
        known = self.servers.get(server.name)
        if known is None:
            self.servers[server.name] = server
        elif known != server:
            raise McpServerUnavailable(
                server.name,
                "declared twice with different settings (give one of them another name)",
                non_retryable=True,
            )

    def _connection(self, server: McpServer) -> McpConnection:
        connection = self._connections.get(server.name)
        if connection is None:
            # Imported here: the MCP SDK takes most of a second to import, so a runtime without
            # MCP servers never pays for it.
            from aworld_server.mcp.connection import McpConnection

            connection = McpConnection(server)
            connection.on_session = lambda tools: self._restarted(server, connection, tools)
            self._connections[server.name] = connection
        return connection

    def _restarted(self, server: McpServer, connection: McpConnection, tools: list[Tool]) -> None:
        """A server started again may list other tools; a clash is logged and the tools it
        still has go on working."""
        try:
            self._register(server, connection, tools)
        except McpServerUnavailable as error:
            log.error("%s", error)

    def _register(self, server: McpServer, connection: McpConnection, tools: list[Tool]) -> None:
        from aworld_server.mcp.tool import McpTool

        fresh: dict[str, McpTool] = {}
        for listed in tools:
            tool = McpTool(server, listed, connection)
            existing: Any = self.registry.tools.get(tool.name)
            ours = isinstance(existing, McpTool) and existing.server.name == server.name
            if tool.name in fresh or (existing is not None and not ours):
                raise McpServerUnavailable(
                    server.name,
                    f"its tool {listed.name!r} would be registered as {tool.name!r}, which "
                    "another tool already has (set tool_prefix)",
                    non_retryable=True,
                )
            fresh[tool.name] = tool
        for name in self._tools.get(server.name, []):
            if name not in fresh:
                self.registry.tools.pop(name, None)
        self.registry.add_tool(*fresh.values())
        self._tools[server.name] = list(fresh)
        self._registered_start[server.name] = connection.starts
        log.info(
            "MCP server %r (%s): %d tool(s): %s",
            server.name,
            server.transport,
            len(fresh),
            ", ".join(fresh) or "none",
        )

    def _servers_of(self, task: Task) -> list[McpServer]:
        """The servers the task's agents declare: a registered agent's own, else the names its
        spec gives (servers of the configuration)."""
        found: dict[str, McpServer] = {}
        for spec in task.swarm.agents if task.swarm else []:
            if spec.remote_handler:
                continue
            agent = self.registry.agents.get(spec.name)
            declared: Sequence[McpServer | str] = (
                agent.mcp_servers if agent is not None else spec.mcp_servers
            )
            for server in declared:
                resolved = self._resolve(server)
                found[resolved.name] = resolved
        return list(found.values())

    def _resolve(self, server: McpServer | str) -> McpServer:
        if isinstance(server, McpServer):
            return server
        known = self.servers.get(server)
        if known is None:
            raise McpServerUnavailable(
                server, "no MCP server of this name is configured", non_retryable=True
            )
        return known
