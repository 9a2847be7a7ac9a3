"""The names ``aworld_server`` promises to users, pinned: removing or renaming one is a breaking
change and must show up here (and in the changelog), not in a user's traceback."""

from __future__ import annotations

import importlib

import aworld_server
import pytest

PUBLIC = {
    "aworld_server": {
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
    },
    "aworld_server.runners": {
        "CallRunner",
        "EventRunner",
        "HandlerGateway",
        "RunContext",
        "Runner",
        "SessionAccess",
        "TaskExecution",
    },
    "aworld_server.runtime": {"RemoteHandlers", "Runtime", "SubmitResult", "TaskView"},
    "aworld_server.engine_worker": {"EngineHost", "load_setup"},
    "aworld_server.a2a": {
        "A2A_AGENT_HEADER",
        "A2AServer",
        "ExposedSwarm",
        "SwarmRequestHandler",
        "start_a2a",
    },
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_exports_are_exactly_the_promised_ones(module: str) -> None:
    imported = importlib.import_module(module)
    assert set(imported.__all__) == PUBLIC[module]
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []


def test_every_error_the_runtime_raises_on_purpose_is_an_aworld_error() -> None:
    from aworld_server import errors

    for name in errors.__all__:
        value = getattr(errors, name)
        if name in ("FieldViolation", "TaskParked"):
            continue  # a value, and a control-flow signal outside the tree (like CancelledError)
        assert issubclass(value, aworld_server.AWorldError), name
