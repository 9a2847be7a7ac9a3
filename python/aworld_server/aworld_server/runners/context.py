"""``RunContext``: everything a runner may use, and nothing else.

A runner (built-in or custom) gets one frozen ``RunContext`` per run. It depends on these
narrow parts — never on the ``Runtime`` that built them — so a runner can be read, tested and
replaced without knowing how tasks are launched, parked, resumed or served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aworld_client import HandlerSpec, Session, Task, TrajectoryItem

from aworld_server.agents.providers import ModelProviders
from aworld_server.context import Context
from aworld_server.dispatch import HandlerCall
from aworld_server.events import EventBus, EventManager
from aworld_server.handlers import HandlerRegistry
from aworld_server.handlers.callbacks import CallbackRegistry
from aworld_server.runners.stepping import StepGate
from aworld_server.state import StateManager

if TYPE_CHECKING:
    from aworld_server.agents.agent import Agent

__all__ = ["HandlerGateway", "McpTools", "RunContext", "SessionAccess", "Trajectories"]


class HandlerGateway(Protocol):
    """Tools and hooks by name, wherever they run (in this process or on a worker)."""

    def tool_spec(self, name: str, task: Task | None = None) -> HandlerSpec | None:
        """A tool's declaration, or None when nobody declares it."""
        ...

    async def invoke(self, call: HandlerCall, context: Context | None = None) -> Any:
        """One attempt of a call; ``call.on_start`` is awaited just before the handler runs."""
        ...

    async def invoke_hook(
        self, name: str, point: str, request: dict[str, Any], context: Context, task: Task | None
    ) -> Any:
        """Run one hook and return its answer."""
        ...


class SessionAccess(Protocol):
    """The session-level state and hooks a run reads at its start and writes at its end."""

    async def load(self, session_id: str) -> Session | None: ...

    async def save(self, task: Task, context: Context) -> None: ...

    def hooks(self, session_id: str) -> Mapping[str, list[str]]: ...


class McpTools(Protocol):
    """The MCP servers agents declare (``aworld_server.mcp.McpToolSource``): started before a
    task runs, their tools declared to the agents. The tools themselves are ordinary
    in-process tools of the registry."""

    async def prepare(self, task: Task) -> None:
        """Start the servers the task's agents declare; raise HandlerFailed if one cannot."""
        ...

    def tool_names(self, agent: Agent) -> list[str]:
        """The names of the tools of the MCP servers ``agent`` declares."""
        ...


class Trajectories(Protocol):
    """A task's trajectory, read from its log, and where a finished one is exported."""

    async def read(self, task_id: str) -> list[TrajectoryItem]: ...

    async def export(self, task_id: str) -> str:
        """Write it out; return its URI ("" when trajectories are not exported)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    """What one run needs. Built by the runtime; shared parts are the runtime's own."""

    events: EventManager  # the event log: emit, flush (the durability barrier), mute on replay
    state: StateManager  # run nodes, folded from events
    handlers: HandlerGateway  # tools and hooks, local or remote
    registry: HandlerRegistry  # agents, message handlers and global hooks of this process
    callbacks: CallbackRegistry  # answers a run waits for (human input, pending tools)
    models: ModelProviders  # builds an agent's model from its ModelConfig
    sessions: SessionAccess
    bus: EventBus  # the per-task message queues of the event-driven runner
    mcp: McpTools  # MCP servers agents declare
    engine: str = "local"  # recorded in lifecycle events
    stepping: StepGate | None = None  # set for interactive runs: one agent step per grant
    parkable: bool = False  # the run may leave memory while it waits on a callback
    trajectories: Trajectories | None = None  # for reward hooks and the export at the end
