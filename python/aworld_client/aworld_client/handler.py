"""Handler declarations and connected workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aworld_client._convert import ProtoEnum, ProtoModel, proto_enum, proto_model
from aworld_client._proto.aworld.runtime.v1 import handler_pb2
from aworld_client.common import RetryPolicy

__all__ = ["HandlerInfo", "HandlerKind", "HandlerSpec", "WorkerInfo"]


@proto_enum(handler_pb2.HandlerKind)
class HandlerKind(ProtoEnum):
    """What a handler does."""

    UNSPECIFIED = 0
    TOOL = 1
    AGENT = 2
    HOOK = 3
    CALLBACK = 4


@proto_model(handler_pb2.HandlerSpec)
@dataclass(slots=True, kw_only=True)
class HandlerSpec(ProtoModel):
    """Declaration of a tool, agent, hook or callback handler."""

    name: str = ""
    kind: HandlerKind = HandlerKind.UNSPECIFIED
    description: str = ""
    input_schema: str = ""
    output_schema: str = ""
    version: str = ""
    idempotent: bool = False
    default_timeout: timedelta | None = None
    retry_policy: RetryPolicy | None = None
    hook_points: list[str] = field(default_factory=list)
    schedule_to_start_timeout: timedelta | None = None


@proto_model(handler_pb2.HandlerInfo)
@dataclass(slots=True, kw_only=True)
class HandlerInfo(ProtoModel):
    """A registered handler and where it is served."""

    spec: HandlerSpec | None = None
    local: bool = False
    worker_count: int = 0
    replica_ids: list[str] = field(default_factory=list)


@proto_model(handler_pb2.WorkerInfo)
@dataclass(slots=True, kw_only=True)
class WorkerInfo(ProtoModel):
    """A connected worker."""

    worker_id: str = ""
    sdk: str = ""
    handler_names: list[str] = field(default_factory=list)
    max_concurrency: int = 0
    in_flight: int = 0
    connected_at: datetime | None = None
    last_seen_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)
    replica_id: str = ""
