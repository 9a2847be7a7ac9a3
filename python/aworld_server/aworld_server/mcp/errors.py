"""How an MCP tool call can fail. Each failure is a ``HandlerFailed`` (the runtime's tool path
records it, retries it per policy or hands it to the agent); its ``Failure.type`` names it.

    McpServerUnavailable   the server could not be started, reached or initialised (a command
                           that does not exist, a URL nobody answers, no answer within
                           startup_timeout). Nothing ran, so a call retries per policy; an
                           agent's server that cannot start fails the task.
    McpServerLost          the server went away while a call was in flight (the process died,
                           the HTTP connection broke): the tool may have run, so — like
                           WorkerLost — retryable only when the tool is idempotent. The next
                           attempt starts the server again.
    McpToolError           the tool answered with ``isError``: non-retryable (the agent sees
                           the error text and may correct itself) unless the server sets
                           ``retry_tool_errors``.
    McpProtocolError       the server answered with a JSON-RPC error (unknown tool, invalid
                           parameters, ...): the request is wrong; non-retryable.

``McpStartupError`` is not a tool failure: a server declared in the server's configuration did
not start, so the server refuses to start (the message names every server that failed).
"""

from __future__ import annotations

from aworld_client import Failure

from aworld_server.errors import AWorldError, HandlerFailed

__all__ = [
    "McpProtocolError",
    "McpServerLost",
    "McpServerUnavailable",
    "McpStartupError",
    "McpToolError",
]

_SOURCE = "mcp"


class McpServerUnavailable(HandlerFailed):
    """The server could not be started or reached; nothing was sent to it."""

    def __init__(self, server: str, reason: str, *, non_retryable: bool = False) -> None:
        self.server = server
        self.reason = reason
        super().__init__(
            Failure(
                type="McpServerUnavailable",
                message=f"MCP server {server!r} is unavailable: {reason}",
                non_retryable=non_retryable,
                source=_SOURCE,
            )
        )


class McpServerLost(HandlerFailed):
    """The server went away mid-call; the tool may have run."""

    def __init__(self, server: str, tool: str, reason: str, *, idempotent: bool) -> None:
        super().__init__(
            Failure(
                type="McpServerLost",
                message=f"MCP server {server!r} went away during a call of {tool!r}: {reason}",
                non_retryable=not idempotent,
                source=_SOURCE,
            )
        )


class McpToolError(HandlerFailed):
    """The tool ran and reported an error (``isError``)."""

    def __init__(self, tool: str, text: str, *, retryable: bool) -> None:
        super().__init__(
            Failure(
                type="McpToolError",
                message=text or f"{tool} reported an error",
                non_retryable=not retryable,
                source=_SOURCE,
            )
        )


class McpProtocolError(HandlerFailed):
    """The server rejected the request with a JSON-RPC error."""

    def __init__(self, tool: str, code: int, message: str) -> None:
        super().__init__(
            Failure(
                type="McpProtocolError",
                message=f"{tool}: MCP error {code}: {message}",
                non_retryable=True,
                source=_SOURCE,
            )
        )


class McpStartupError(AWorldError):
    """Servers of the configuration did not start; the message has one line per server."""
