"""Trajectories in AWorld's state-action-reward shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aworld_client._convert import ProtoModel, proto_model
from aworld_client._proto.aworld.runtime.v1 import trajectory_pb2
from aworld_client.common import Payload

__all__ = [
    "ToolCall",
    "TrajectoryAction",
    "TrajectoryItem",
    "TrajectoryMeta",
    "TrajectoryReward",
    "TrajectoryState",
]


@proto_model(trajectory_pb2.TrajectoryMeta)
@dataclass(slots=True, kw_only=True)
class TrajectoryMeta(ProtoModel):
    """Who took a step, when, and where in the task."""

    session_id: str = ""
    task_id: str = ""
    task_name: str = ""
    agent_id: str = ""
    step: int = 0
    execute_time: datetime | None = None
    pre_agent: str = ""


@proto_model(trajectory_pb2.TrajectoryState)
@dataclass(slots=True, kw_only=True)
class TrajectoryState(ProtoModel):
    """What the agent saw."""

    input: Payload | None = None
    messages: Payload | None = None


@proto_model(trajectory_pb2.ToolCall)
@dataclass(slots=True, kw_only=True)
class ToolCall(ProtoModel):
    """A tool call requested by a policy."""

    id: str = ""
    name: str = ""
    arguments: Payload | None = None


@proto_model(trajectory_pb2.TrajectoryAction)
@dataclass(slots=True, kw_only=True)
class TrajectoryAction(ProtoModel):
    """What the agent did."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    is_agent_finished: bool = False


@proto_model(trajectory_pb2.TrajectoryReward)
@dataclass(slots=True, kw_only=True)
class TrajectoryReward(ProtoModel):
    """What the step produced."""

    tool_outputs: list[Payload] = field(default_factory=list)
    status: str = ""
    score: float | None = None


@proto_model(trajectory_pb2.TrajectoryItem)
@dataclass(slots=True, kw_only=True)
class TrajectoryItem(ProtoModel):
    """One agent step."""

    meta: TrajectoryMeta | None = None
    state: TrajectoryState | None = None
    action: TrajectoryAction | None = None
    reward: TrajectoryReward | None = None
