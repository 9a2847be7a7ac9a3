"""Message types of ``WorkerService.Connect``, the bidirectional worker stream.

``ConnectRequest.kind`` (worker -> server) and ``ConnectResponse.kind`` (server -> worker) hold
exactly one of the message types below. Most users run :class:`aworld_client.Worker` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aworld_client._convert import ProtoModel, proto_model
from aworld_client._proto.aworld.runtime.v1 import worker_service_pb2 as pb
from aworld_client.common import Failure, Payload
from aworld_client.handler import HandlerKind, HandlerSpec

__all__ = [
    "Call",
    "CallChunk",
    "CallCompleted",
    "CallRejected",
    "CancelCall",
    "ConnectRequest",
    "ConnectResponse",
    "Heartbeat",
    "Hello",
    "Welcome",
]


@proto_model(pb.Hello)
@dataclass(slots=True, kw_only=True)
class Hello(ProtoModel):
    worker_id: str = ""
    handlers: list[HandlerSpec] = field(default_factory=list)
    max_concurrency: int = 0
    sdk: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@proto_model(pb.Welcome)
@dataclass(slots=True, kw_only=True)
class Welcome(ProtoModel):
    worker_id: str = ""
    heartbeat_interval: timedelta | None = None
    heartbeat_timeout: timedelta | None = None


@proto_model(pb.Call)
@dataclass(slots=True, kw_only=True)
class Call(ProtoModel):
    call_id: str = ""
    attempt: int = 0
    handler: str = ""
    kind: HandlerKind = HandlerKind.UNSPECIFIED
    input: Payload | None = None
    deadline: datetime | None = None
    task_id: str = ""
    session_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    hook_point: str = ""
    idempotency_key: str = ""


@proto_model(pb.CancelCall)
@dataclass(slots=True, kw_only=True)
class CancelCall(ProtoModel):
    call_id: str = ""
    attempt: int = 0
    reason: str = ""


@proto_model(pb.CallRejected)
@dataclass(slots=True, kw_only=True)
class CallRejected(ProtoModel):
    call_id: str = ""
    attempt: int = 0
    reason: str = ""


@proto_model(pb.CallCompleted)
@dataclass(slots=True, kw_only=True)
class CallCompleted(ProtoModel):
    """``outcome`` is a Payload (success), a Failure, or a str (pending callback id)."""

    call_id: str = ""
    attempt: int = 0
    outcome: Payload | Failure | str | None = None


@proto_model(pb.CallChunk)
@dataclass(slots=True, kw_only=True)
class CallChunk(ProtoModel):
    call_id: str = ""
    attempt: int = 0
    chunk: Payload | None = None


@proto_model(pb.Heartbeat)
@dataclass(slots=True, kw_only=True)
class Heartbeat(ProtoModel):
    in_flight_call_ids: list[str] = field(default_factory=list)


@proto_model(pb.ConnectRequest)
@dataclass(slots=True, kw_only=True)
class ConnectRequest(ProtoModel):
    kind: Hello | CallCompleted | CallChunk | Heartbeat | None = None


@proto_model(pb.ConnectResponse)
@dataclass(slots=True, kw_only=True)
class ConnectResponse(ProtoModel):
    kind: Welcome | Call | CancelCall | CallRejected | None = None
