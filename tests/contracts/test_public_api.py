"""The public export list of aworld_client is deliberate: changing it must change this test."""

from __future__ import annotations

import inspect
import typing

import aworld_client

EXPECTED = {
    "AgentSpec",
    "AsyncClient",
    "Client",
    "RuntimeServiceError",
    "Budgets",
    "Event",
    "EventBody",
    "ExecutionMode",
    "Failure",
    "HandlerInfo",
    "HandlerKind",
    "HandlerSpec",
    "HookDecided",
    "InputProvided",
    "InputRequested",
    "LifecyclePhase",
    "LlmCallFinished",
    "Message",
    "MessageCategory",
    "MessageEmitted",
    "ModelConfig",
    "NodeGroup",
    "Payload",
    "Pending",
    "PermissionDecision",
    "Phase",
    "RetryPolicy",
    "RunMode",
    "RunNode",
    "RunNodeChanged",
    "RunNodeKind",
    "RunNodeStatus",
    "Session",
    "StreamingMode",
    "Swarm",
    "SwarmTopology",
    "Task",
    "TaskConfig",
    "TaskResponse",
    "TaskStatus",
    "TaskStatusChanged",
    "TaskSubmitted",
    "ToolCall",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolErrorPolicy",
    "TrajectoryAction",
    "TrajectoryItem",
    "TrajectoryMeta",
    "TrajectoryReward",
    "TrajectoryState",
    "Usage",
    "Worker",
    "WorkerInfo",
    "__version__",
    "agent",
    "hook",
    "tool",
}


def test_exports_are_pinned() -> None:
    assert set(aworld_client.__all__) == EXPECTED
    for name in aworld_client.__all__:
        assert hasattr(aworld_client, name), name


def test_no_public_signature_exposes_generated_types() -> None:
    offenders = []
    for name in aworld_client.__all__:
        obj = getattr(aworld_client, name)
        if not inspect.isclass(obj):
            continue
        for attr, member in vars(obj).items():
            # to_proto / from_proto are the one deliberate edge to generated code.
            if attr.startswith("_") or attr in ("to_proto", "from_proto") or not callable(member):
                continue
            hints = typing.get_type_hints(member) if inspect.isfunction(member) else {}
            for hint in hints.values():
                if "_pb2" in getattr(hint, "__module__", ""):
                    offenders.append(f"{name}.{attr}")
    assert offenders == []
