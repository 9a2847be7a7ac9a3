"""Request and response types of ``RuntimeService``.

Most users call :class:`aworld_client.Client` instead; these types are what it sends and
receives, and what servers and tests use to speak the protocol directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aworld_client._convert import ProtoModel, proto_model
from aworld_client._proto.aworld.runtime.v1 import runtime_service_pb2 as pb
from aworld_client.common import Failure, Payload
from aworld_client.event import Event
from aworld_client.handler import HandlerInfo, HandlerKind, WorkerInfo
from aworld_client.state import NodeGroup, RunNode, Session
from aworld_client.task import Task, TaskResponse, TaskStatus
from aworld_client.trajectory import TrajectoryItem

__all__ = [
    "CancelTaskRequest",
    "CancelTaskResponse",
    "CompleteCallbackRequest",
    "CompleteCallbackResponse",
    "GetSessionRequest",
    "GetSessionResponse",
    "GetTaskRequest",
    "GetTaskResponse",
    "GetTaskStateRequest",
    "GetTaskStateResponse",
    "GetTrajectoryRequest",
    "GetTrajectoryResponse",
    "InvokeHandlerRequest",
    "InvokeHandlerResponse",
    "ListHandlersRequest",
    "ListHandlersResponse",
    "ListSessionsRequest",
    "ListSessionsResponse",
    "ListTasksRequest",
    "ListTasksResponse",
    "ListWorkersRequest",
    "ListWorkersResponse",
    "ProvideInputRequest",
    "ProvideInputResponse",
    "RunTaskRequest",
    "RunTaskResponse",
    "StreamEventsRequest",
    "StreamEventsResponse",
    "SubmitTaskRequest",
    "SubmitTaskResponse",
    "TaskSummary",
]


@proto_model(pb.SubmitTaskRequest)
@dataclass(slots=True, kw_only=True)
class SubmitTaskRequest(ProtoModel):
    request_id: str = ""
    task: Task | None = None


@proto_model(pb.SubmitTaskResponse)
@dataclass(slots=True, kw_only=True)
class SubmitTaskResponse(ProtoModel):
    task_id: str = ""
    created: bool = False
    session_id: str = ""


@proto_model(pb.RunTaskRequest)
@dataclass(slots=True, kw_only=True)
class RunTaskRequest(ProtoModel):
    request_id: str = ""
    task: Task | None = None


@proto_model(pb.RunTaskResponse)
@dataclass(slots=True, kw_only=True)
class RunTaskResponse(ProtoModel):
    event: Event | None = None


@proto_model(pb.GetTaskRequest)
@dataclass(slots=True, kw_only=True)
class GetTaskRequest(ProtoModel):
    task_id: str = ""


@proto_model(pb.GetTaskResponse)
@dataclass(slots=True, kw_only=True)
class GetTaskResponse(ProtoModel):
    task: Task | None = None
    response: TaskResponse | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@proto_model(pb.ListTasksRequest)
@dataclass(slots=True, kw_only=True)
class ListTasksRequest(ProtoModel):
    page_size: int = 0
    page_token: str = ""
    session_id: str = ""
    user_id: str = ""
    statuses: list[TaskStatus] = field(default_factory=list)


@proto_model(pb.TaskSummary)
@dataclass(slots=True, kw_only=True)
class TaskSummary(ProtoModel):
    id: str = ""
    name: str = ""
    session_id: str = ""
    user_id: str = ""
    status: TaskStatus = TaskStatus.UNSPECIFIED
    created_at: datetime | None = None
    updated_at: datetime | None = None


@proto_model(pb.ListTasksResponse)
@dataclass(slots=True, kw_only=True)
class ListTasksResponse(ProtoModel):
    tasks: list[TaskSummary] = field(default_factory=list)
    next_page_token: str = ""


@proto_model(pb.CancelTaskRequest)
@dataclass(slots=True, kw_only=True)
class CancelTaskRequest(ProtoModel):
    request_id: str = ""
    task_id: str = ""
    reason: str = ""


@proto_model(pb.CancelTaskResponse)
@dataclass(slots=True, kw_only=True)
class CancelTaskResponse(ProtoModel):
    status: TaskStatus = TaskStatus.UNSPECIFIED


@proto_model(pb.StreamEventsRequest)
@dataclass(slots=True, kw_only=True)
class StreamEventsRequest(ProtoModel):
    task_id: str = ""
    after_seq: int = 0
    replay_only: bool = False


@proto_model(pb.StreamEventsResponse)
@dataclass(slots=True, kw_only=True)
class StreamEventsResponse(ProtoModel):
    event: Event | None = None


@proto_model(pb.GetTaskStateRequest)
@dataclass(slots=True, kw_only=True)
class GetTaskStateRequest(ProtoModel):
    task_id: str = ""
    page_size: int = 0
    page_token: str = ""


@proto_model(pb.GetTaskStateResponse)
@dataclass(slots=True, kw_only=True)
class GetTaskStateResponse(ProtoModel):
    status: TaskStatus = TaskStatus.UNSPECIFIED
    nodes: list[RunNode] = field(default_factory=list)
    groups: list[NodeGroup] = field(default_factory=list)
    next_page_token: str = ""


@proto_model(pb.GetTrajectoryRequest)
@dataclass(slots=True, kw_only=True)
class GetTrajectoryRequest(ProtoModel):
    task_id: str = ""
    page_size: int = 0
    page_token: str = ""


@proto_model(pb.GetTrajectoryResponse)
@dataclass(slots=True, kw_only=True)
class GetTrajectoryResponse(ProtoModel):
    items: list[TrajectoryItem] = field(default_factory=list)
    next_page_token: str = ""


@proto_model(pb.ProvideInputRequest)
@dataclass(slots=True, kw_only=True)
class ProvideInputRequest(ProtoModel):
    request_id: str = ""
    task_id: str = ""
    callback_id: str = ""
    value: Payload | None = None


@proto_model(pb.ProvideInputResponse)
@dataclass(slots=True, kw_only=True)
class ProvideInputResponse(ProtoModel):
    status: TaskStatus = TaskStatus.UNSPECIFIED


@proto_model(pb.CompleteCallbackRequest)
@dataclass(slots=True, kw_only=True)
class CompleteCallbackRequest(ProtoModel):
    request_id: str = ""
    task_id: str = ""
    callback_id: str = ""
    result: Payload | None = None
    failure: Failure | None = None


@proto_model(pb.CompleteCallbackResponse)
@dataclass(slots=True, kw_only=True)
class CompleteCallbackResponse(ProtoModel):
    status: TaskStatus = TaskStatus.UNSPECIFIED


@proto_model(pb.InvokeHandlerRequest)
@dataclass(slots=True, kw_only=True)
class InvokeHandlerRequest(ProtoModel):
    request_id: str = ""
    name: str = ""
    kind: HandlerKind = HandlerKind.UNSPECIFIED
    input: Payload | None = None
    timeout: timedelta | None = None
    headers: dict[str, str] = field(default_factory=dict)


@proto_model(pb.InvokeHandlerResponse)
@dataclass(slots=True, kw_only=True)
class InvokeHandlerResponse(ProtoModel):
    output: Payload | None = None
    failure: Failure | None = None
    attempts: int = 0


@proto_model(pb.ListHandlersRequest)
@dataclass(slots=True, kw_only=True)
class ListHandlersRequest(ProtoModel):
    kind: HandlerKind = HandlerKind.UNSPECIFIED


@proto_model(pb.ListHandlersResponse)
@dataclass(slots=True, kw_only=True)
class ListHandlersResponse(ProtoModel):
    handlers: list[HandlerInfo] = field(default_factory=list)


@proto_model(pb.ListWorkersRequest)
@dataclass(slots=True, kw_only=True)
class ListWorkersRequest(ProtoModel):
    handler_name: str = ""


@proto_model(pb.ListWorkersResponse)
@dataclass(slots=True, kw_only=True)
class ListWorkersResponse(ProtoModel):
    workers: list[WorkerInfo] = field(default_factory=list)


@proto_model(pb.GetSessionRequest)
@dataclass(slots=True, kw_only=True)
class GetSessionRequest(ProtoModel):
    session_id: str = ""


@proto_model(pb.GetSessionResponse)
@dataclass(slots=True, kw_only=True)
class GetSessionResponse(ProtoModel):
    session: Session | None = None


@proto_model(pb.ListSessionsRequest)
@dataclass(slots=True, kw_only=True)
class ListSessionsRequest(ProtoModel):
    page_size: int = 0
    page_token: str = ""
    user_id: str = ""


@proto_model(pb.ListSessionsResponse)
@dataclass(slots=True, kw_only=True)
class ListSessionsResponse(ProtoModel):
    sessions: list[Session] = field(default_factory=list)
    next_page_token: str = ""
