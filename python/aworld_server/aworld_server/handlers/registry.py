"""What a runtime can call by name: tools, agents, hooks and message handlers.

Tasks are language-neutral and name what they use; this registry resolves the names to Python
objects in this process. Names it does not know may still be served by remote workers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from aworld_client import HandlerKind, HandlerSpec, Message, MessageCategory
from aworld_client.handlers import HandlerFunction

from aworld_server.agents.agent import Agent

__all__ = ["HandlerRegistry", "LocalTool", "MessageHandler"]

# A custom message handler gets each message of its category and may return follow-up messages.
MessageHandler = Callable[[Message], Awaitable[Iterable[Message] | None]]


class LocalTool(Protocol):
    """What the runtime needs of an in-process tool: its declaration and one attempt. A
    ``@tool`` function is one; so is a tool of an MCP server (``aworld_server.mcp``)."""

    @property
    def spec(self) -> HandlerSpec: ...

    @property
    def name(self) -> str: ...

    async def invoke(self, arguments: Any, **injected: Any) -> Any: ...


class HandlerRegistry:
    """Local handlers by name. Registering the same name twice replaces the first."""

    def __init__(self) -> None:
        self.tools: dict[str, LocalTool] = {}
        self.hooks: dict[str, HandlerFunction[Any, Any]] = {}
        self.agents: dict[str, Agent] = {}
        self.message_handlers: dict[MessageCategory, list[MessageHandler]] = {}
        self.global_hooks: dict[str, list[str]] = {}

    def add_tool(self, *tools: LocalTool) -> None:
        for fn in tools:
            if fn.spec.kind != HandlerKind.TOOL:
                raise ValueError(f"{fn.name} is a {fn.spec.kind.name} handler, not a tool")
            self.tools[fn.name] = fn

    def add_agent(self, agent: Agent) -> None:
        """Register an agent object (and its @tool functions) so tasks can name it."""
        self.agents[agent.name] = agent
        self.add_tool(*agent.tool_functions)

    def add_hook(self, fn: HandlerFunction[Any, Any], *, global_: bool = False) -> None:
        """Register a hook; ``global_`` makes it fire for every task at its points."""
        if fn.spec.kind != HandlerKind.HOOK:
            raise ValueError(f"{fn.name} is not a hook")
        self.hooks[fn.name] = fn
        if global_:
            for point in fn.spec.hook_points:
                names = self.global_hooks.setdefault(point, [])
                if fn.name not in names:
                    names.append(fn.name)

    def add_message_handler(self, category: MessageCategory, handler: MessageHandler) -> None:
        """Run ``handler`` for every message of ``category`` after the built-in handler."""
        self.message_handlers.setdefault(category, []).append(handler)

    def specs(self) -> list[HandlerSpec]:
        """Specs of every local tool and hook."""
        return [fn.spec for fn in (*self.tools.values(), *self.hooks.values())]
