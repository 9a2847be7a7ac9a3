"""Execution state: run nodes, node groups and sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aworld_client._convert import ProtoEnum, ProtoModel, proto_enum, proto_model
from aworld_client._proto.aworld.runtime.v1 import state_pb2
from aworld_client.common import Failure, Payload

__all__ = ["NodeGroup", "RunNode", "RunNodeKind", "RunNodeStatus", "Session"]


@proto_enum(state_pb2.RunNodeKind)
class RunNodeKind(ProtoEnum):
    """What a run node stands for (AWorld ``busi_type``)."""

    UNSPECIFIED = 0
    TASK = 1
    AGENT = 2
    TOOL = 3
    HOOK = 4
    HUMAN = 5
    SUB_TASK = 6
    LLM = 7


@proto_enum(state_pb2.RunNodeStatus)
class RunNodeStatus(ProtoEnum):
    """Run node state machine: INIT -> RUNNING -> a terminal value."""

    UNSPECIFIED = 0
    INIT = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 4
    TIMED_OUT = 5
    CANCELLED = 6
    BREAKED = 7

    @property
    def is_terminal(self) -> bool:
        """True once the node can no longer change."""
        return self not in (RunNodeStatus.UNSPECIFIED, RunNodeStatus.INIT, RunNodeStatus.RUNNING)


@proto_model(state_pb2.RunNode)
@dataclass(slots=True, kw_only=True)
class RunNode(ProtoModel):
    """One node of a task's execution tree."""

    id: str = ""
    task_id: str = ""
    session_id: str = ""
    parent_id: str = ""
    kind: RunNodeKind = RunNodeKind.UNSPECIFIED
    name: str = ""
    status: RunNodeStatus = RunNodeStatus.UNSPECIFIED
    attempt: int = 0
    result: Payload | None = None
    failure: Failure | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    group_id: str = ""


@proto_model(state_pb2.NodeGroup)
@dataclass(slots=True, kw_only=True)
class NodeGroup(ProtoModel):
    """Run nodes that fan out together and are joined."""

    id: str = ""
    task_id: str = ""
    parent_node_id: str = ""
    node_ids: list[str] = field(default_factory=list)
    status: RunNodeStatus = RunNodeStatus.UNSPECIFIED


@proto_model(state_pb2.Session)
@dataclass(slots=True, kw_only=True)
class Session(ProtoModel):
    """Tasks of one conversation and their shared state."""

    id: str = ""
    user_id: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    task_ids: list[str] = field(default_factory=list)
    state: Payload | None = None
