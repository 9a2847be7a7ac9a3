"""MCP servers as tool sources: declare servers (server configuration or an agent); their tools
become runtime tools. See ``source`` for when servers start and stop, ``tool`` for names and
outputs, ``errors`` for how calls fail."""

from aworld_server.config import McpServer
from aworld_server.mcp.errors import (
    McpProtocolError,
    McpServerLost,
    McpServerUnavailable,
    McpStartupError,
    McpToolError,
)
from aworld_server.mcp.source import McpToolSource

__all__ = [
    "McpProtocolError",
    "McpServer",
    "McpServerLost",
    "McpServerUnavailable",
    "McpStartupError",
    "McpToolError",
    "McpToolSource",
]
