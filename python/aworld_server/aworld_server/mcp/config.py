"""How an MCP server is declared: in the server's TOML (``[mcp_servers.<name>]``) or on a Python
``Agent`` (``Agent(..., mcp_servers=[McpServer(name=..., command=...)])``).

Plain pydantic, no MCP SDK import: the server configuration loads without it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["SERVER_NAME", "McpServer"]

# Server names become the default tool-name prefix, and OpenAI-compatible function names allow
# only these characters.
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class McpServer(BaseModel):
    """One MCP server: a command run as a stdio subprocess, or a streamable HTTP endpoint.

    Its tools become tools of the runtime named ``<tool_prefix><tool>`` — by default
    ``<name>__<tool>`` — with the input and output schemas the server lists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        "",
        description="The server's name (tasks name it in AgentSpec.mcp_servers). In TOML it is "
        "the table's key and may be left out.",
    )
    # -- stdio --
    command: str = Field("", description="Executable to run (stdio transport).")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment of the process, over the MCP SDK's safe default (HOME, PATH, "
        "USER, SHELL, TERM, LOGNAME); nothing else of the server's environment is passed.",
    )
    env_from: list[str] = Field(
        default_factory=list,
        description="Names of the server's environment variables passed on to the process "
        "(keys stay out of the config file). A name that is not set is a startup error.",
    )
    cwd: str = Field("", description="Working directory of the process. Empty: the server's.")
    # -- streamable HTTP --
    url: str = Field("", description="Streamable HTTP endpoint, e.g. http://127.0.0.1:8000/mcp.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="HTTP headers sent with every request."
    )
    # -- both --
    startup_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds to start (or restart) the server and list its tools; past it the "
        "server counts as unavailable.",
    )
    tool_timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds one call may take; past it the attempt fails with AttemptTimedOut "
        "(retried only for idempotent tools) and the server is told to cancel. None: no limit "
        "of its own (the task's budgets and deadline still apply).",
    )
    tool_prefix: str | None = Field(
        None,
        description="Prefix of its tools' names in the runtime. None: '<name>__'; '' keeps the "
        "server's own names (they must not clash with other tools).",
    )
    idempotent: bool | None = Field(
        None,
        description="Whether its tools may be re-run after an attempt whose outcome is unknown "
        "(the server died or the runtime restarted mid-call). None: per tool, from the MCP "
        "annotations idempotentHint or readOnlyHint.",
    )
    retry_tool_errors: bool = Field(
        False,
        description="Whether a result with isError set may be retried by the task's retry "
        "policy. False: it is a non-retryable McpToolError the agent sees.",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if name and not SERVER_NAME.match(name):
            raise ValueError("must be 1-64 characters of letters, digits, '_' or '-'")
        return name

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if bool(self.command) == bool(self.url):
            raise ValueError("set exactly one of command (stdio) and url (streamable HTTP)")
        if self.url and (self.args or self.env or self.env_from or self.cwd):
            raise ValueError("args, env, env_from and cwd are for a command, not a url")
        if self.command and self.headers:
            raise ValueError("headers are for a url, not a command")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "streamable-http"

    @property
    def prefix(self) -> str:
        return f"{self.name}__" if self.tool_prefix is None else self.tool_prefix

    @property
    def target(self) -> str:
        """What to show in messages: the command line or the URL (never headers or env)."""
        return " ".join([self.command, *self.args]) if self.command else self.url


def named_servers(servers: dict[str, Any]) -> dict[str, McpServer]:
    """``[mcp_servers.<name>]`` tables as servers named after their key."""
    named: dict[str, McpServer] = {}
    for key, value in servers.items():
        if not SERVER_NAME.match(key):
            raise ValueError(
                f"mcp_servers.{key}: a server name must be 1-64 characters of letters, digits, "
                "'_' or '-'"
            )
        server = value if isinstance(value, McpServer) else McpServer.model_validate(value)
        if server.name and server.name != key:
            raise ValueError(f"mcp_servers.{key}: name {server.name!r} differs from the key")
        named[key] = server.model_copy(update={"name": key})
    return named
