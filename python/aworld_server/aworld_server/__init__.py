"""AWorld Runtime reference server: the embedded runtime, runners, agents and tools.

Run agents in-process with the AWorld-style façade::

    from aworld_server import Agent, Runners, ScriptedModel
    response = await Runners.run("2 + 3?", agent=Agent("calc", model=..., tools=[add]))
"""

from aworld_client.handlers import agent, hook, tool

from aworld_server.agents import (
    Agent,
    HandoffSwarm,
    Model,
    ModelResponse,
    OpenAIModel,
    ScriptedModel,
    Swarm,
    TeamSwarm,
    ToolCallRequest,
    WorkflowSwarm,
)
from aworld_server.context import AgentState, Context
from aworld_server.errors import AWorldError, HandlerFailed, InvalidArgument, NotFound
from aworld_server.facade import RunConfig, Runners
from aworld_server.runners import CallRunner, EventRunner, RunContext, Runner
from aworld_server.runtime import Runtime, SubmitResult, TaskView

__version__ = "0.1.0"

__all__ = [
    "AWorldError",
    "Agent",
    "AgentState",
    "CallRunner",
    "Context",
    "EventRunner",
    "HandlerFailed",
    "HandoffSwarm",
    "InvalidArgument",
    "Model",
    "ModelResponse",
    "NotFound",
    "OpenAIModel",
    "RunConfig",
    "RunContext",
    "Runner",
    "Runners",
    "Runtime",
    "ScriptedModel",
    "SubmitResult",
    "Swarm",
    "TaskView",
    "TeamSwarm",
    "ToolCallRequest",
    "WorkflowSwarm",
    "__version__",
    "agent",
    "hook",
    "tool",
]
