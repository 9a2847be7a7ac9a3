"""Request and response types of ``EngineService`` (engine workers keeping the control plane in
sync). Engine plugins use these; most users never do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from aworld_client._convert import ProtoModel, proto_model
from aworld_client._proto.aworld.runtime.v1 import engine_service_pb2 as pb
from aworld_client.common import Failure, Payload
from aworld_client.event import Event
from aworld_client.handler import HandlerKind
from aworld_client.task import Task

__all__ = [
    "AppendEventsRequest",
    "AppendEventStreamRequest",
    "AppendEventStreamResponse",
    "AppendEventsResponse",
    "AppendResult",
    "CallHandlerRequest",
    "CallHandlerResponse",
    "OpenTaskRequest",
    "OpenTaskResponse",
    "SaveSessionStateRequest",
    "SaveSessionStateResponse",
]


@proto_model(pb.OpenTaskRequest)
@dataclass(slots=True, kw_only=True)
class OpenTaskRequest(ProtoModel):
    task_id: str = ""


@proto_model(pb.OpenTaskResponse)
@dataclass(slots=True, kw_only=True)
class OpenTaskResponse(ProtoModel):
    task: Task | None = None
    last_seq: int = 0


@proto_model(pb.AppendEventsRequest)
@dataclass(slots=True, kw_only=True)
class AppendEventsRequest(ProtoModel):
    task_id: str = ""
    events: list[Event] = field(default_factory=list)
    sync: bool = False
    job_id: str = ""


@proto_model(pb.AppendEventsResponse)
@dataclass(slots=True, kw_only=True)
class AppendEventsResponse(ProtoModel):
    last_seq: int = 0


@proto_model(pb.AppendEventStreamRequest)
@dataclass(slots=True, kw_only=True)
class AppendEventStreamRequest(ProtoModel):
    batch_id: int = 0
    appends: list[AppendEventsRequest] = field(default_factory=list)


@proto_model(pb.AppendResult)
@dataclass(slots=True, kw_only=True)
class AppendResult(ProtoModel):
    task_id: str = ""
    last_seq: int = 0
    code: int = 0  # a google.rpc.Code value; 0 (OK) when the append succeeded
    message: str = ""


@proto_model(pb.AppendEventStreamResponse)
@dataclass(slots=True, kw_only=True)
class AppendEventStreamResponse(ProtoModel):
    batch_id: int = 0
    results: list[AppendResult] = field(default_factory=list)


@proto_model(pb.CallHandlerRequest)
@dataclass(slots=True, kw_only=True)
class CallHandlerRequest(ProtoModel):
    call_id: str = ""
    attempt: int = 0
    name: str = ""
    kind: HandlerKind = HandlerKind.UNSPECIFIED
    input: Payload | None = None
    task_id: str = ""
    session_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    hook_point: str = ""
    require_idempotent: bool = False
    schedule_to_start_timeout: timedelta | None = None
    job_id: str = ""


@proto_model(pb.CallHandlerResponse)
@dataclass(slots=True, kw_only=True)
class CallHandlerResponse(ProtoModel):
    """``outcome`` is a Payload (success), a Failure, or a str (pending callback id)."""

    outcome: Payload | Failure | str | None = None


@proto_model(pb.SaveSessionStateRequest)
@dataclass(slots=True, kw_only=True)
class SaveSessionStateRequest(ProtoModel):
    task_id: str = ""
    state: Payload | None = None
    job_id: str = ""


@proto_model(pb.SaveSessionStateResponse)
@dataclass(slots=True, kw_only=True)
class SaveSessionStateResponse(ProtoModel):
    pass
