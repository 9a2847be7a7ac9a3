"""Event: the persisted record of everything that happens to a task.

``Event.body`` holds exactly one of the body types below; match on its type::

    match event.body:
        case TaskStatusChanged(status=status) if status.is_terminal: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aworld_client._convert import ProtoEnum, ProtoModel, proto_enum, proto_model
from aworld_client._proto.aworld.runtime.v1 import event_pb2
from aworld_client.common import Failure, Payload, Usage
from aworld_client.message import Message
from aworld_client.state import RunNode
from aworld_client.task import Task, TaskResponse, TaskStatus

__all__ = [
    "Event",
    "EventBody",
    "HookDecided",
    "InputProvided",
    "InputRequested",
    "LifecyclePhase",
    "LlmCallFinished",
    "MessageEmitted",
    "PermissionDecision",
    "Phase",
    "RunNodeChanged",
    "TaskStatusChanged",
    "TaskSubmitted",
    "ToolCallFinished",
    "ToolCallStarted",
]


@proto_enum(event_pb2.PermissionDecision)
class PermissionDecision(ProtoEnum):
    """A permission hook's decision (AWorld ``permission_decision``)."""

    UNSPECIFIED = 0
    ALLOW = 1
    DENY = 2
    ASK = 3


@proto_enum(event_pb2.Phase)
class Phase(ProtoEnum):
    """Runner lifecycle phase."""

    UNSPECIFIED = 0
    PRE_RUN = 1
    DO_RUN = 2
    POST_RUN = 3


@proto_model(event_pb2.LifecyclePhase)
@dataclass(slots=True, kw_only=True)
class LifecyclePhase(ProtoModel):
    """A runner lifecycle phase began (ended=False) or ended."""

    phase: Phase = Phase.UNSPECIFIED
    ended: bool = False
    runner: str = ""
    engine: str = ""
    # Set when the phase is recorded inside a TaskStatusChanged (see ``phases`` there).
    time: datetime | None = None


@proto_model(event_pb2.LlmCallFinished)
@dataclass(slots=True, kw_only=True)
class LlmCallFinished(ProtoModel):
    """A model call finished."""

    agent: str = ""
    model: str = ""
    usage: Usage | None = None
    duration: timedelta | None = None
    failure: Failure | None = None
    attempt: int = 0


@proto_model(event_pb2.TaskSubmitted)
@dataclass(slots=True, kw_only=True)
class TaskSubmitted(ProtoModel):
    """The task was accepted (always seq 1)."""

    task: Task | None = None
    request_id: str = ""


@proto_model(event_pb2.TaskStatusChanged)
@dataclass(slots=True, kw_only=True)
class TaskStatusChanged(ProtoModel):
    """A status transition; ``response`` is complete when the status is terminal."""

    status: TaskStatus = TaskStatus.UNSPECIFIED
    reason: str = ""
    response: TaskResponse | None = None
    # The root run node and lifecycle phases that changed with this status (one event, not
    # several): the RUNNING that starts a run and the terminal status carry them.
    root_node: RunNode | None = None
    phases: list[LifecyclePhase] = field(default_factory=list)


@proto_model(event_pb2.MessageEmitted)
@dataclass(slots=True, kw_only=True)
class MessageEmitted(ProtoModel):
    """A message was emitted."""

    message: Message | None = None


@proto_model(event_pb2.RunNodeChanged)
@dataclass(slots=True, kw_only=True)
class RunNodeChanged(ProtoModel):
    """A run node as it is after a change."""

    node: RunNode | None = None
    # An AGENT node's terminal change carries the model call that decided the step.
    llm_call: LlmCallFinished | None = None


@proto_model(event_pb2.ToolCallStarted)
@dataclass(slots=True, kw_only=True)
class ToolCallStarted(ProtoModel):
    """A tool call attempt started."""

    call_id: str = ""
    tool_name: str = ""
    arguments: Payload | None = None
    attempt: int = 0
    caller: str = ""
    node_id: str = ""
    worker_id: str = ""
    # The TOOL node as it starts, when this attempt records that change too.
    node: RunNode | None = None


@proto_model(event_pb2.ToolCallFinished)
@dataclass(slots=True, kw_only=True)
class ToolCallFinished(ProtoModel):
    """A tool call attempt finished."""

    call_id: str = ""
    tool_name: str = ""
    attempt: int = 0
    result: Payload | None = None
    failure: Failure | None = None
    duration: timedelta | None = None
    will_retry: bool = False
    # The TOOL node as it ended, when this attempt ends the call.
    node: RunNode | None = None


@proto_model(event_pb2.HookDecided)
@dataclass(slots=True, kw_only=True)
class HookDecided(ProtoModel):
    """A hook ran; what it decided or how it failed."""

    point: str = ""
    hook_name: str = ""
    decision: PermissionDecision = PermissionDecision.UNSPECIFIED
    reason: str = ""
    updated_input: bool = False
    updated_output: bool = False
    system_message: str = ""
    failure: Failure | None = None


@proto_model(event_pb2.InputRequested)
@dataclass(slots=True, kw_only=True)
class InputRequested(ProtoModel):
    """The task waits for input or a callback."""

    callback_id: str = ""
    prompt: Payload | None = None
    kind: str = ""
    node_id: str = ""


@proto_model(event_pb2.InputProvided)
@dataclass(slots=True, kw_only=True)
class InputProvided(ProtoModel):
    """Input or a callback result arrived."""

    callback_id: str = ""
    value: Payload | None = None
    failure: Failure | None = None


EventBody = (
    TaskSubmitted
    | TaskStatusChanged
    | MessageEmitted
    | RunNodeChanged
    | ToolCallStarted
    | ToolCallFinished
    | LlmCallFinished
    | HookDecided
    | InputRequested
    | InputProvided
    | LifecyclePhase
)


@proto_model(event_pb2.Event)
@dataclass(slots=True, kw_only=True)
class Event(ProtoModel):
    """One event of a task: ``(task_id, seq)`` plus a typed body."""

    task_id: str = ""
    seq: int = 0
    time: datetime | None = None
    session_id: str = ""
    body: EventBody | None = None

    @property
    def is_terminal(self) -> bool:
        """True for the status change that ends the task (the last event of every stream)."""
        return isinstance(self.body, TaskStatusChanged) and self.body.status.is_terminal

    @property
    def run_node(self) -> RunNode | None:
        """The run node this event records as changed, if any: a RunNodeChanged's node, or a
        node carried by the event of the same moment (a tool call's start or end, the root
        node with a task status). Fold these in seq order to rebuild a task's tree."""
        body = self.body
        if isinstance(body, RunNodeChanged | ToolCallStarted | ToolCallFinished):
            return body.node
        if isinstance(body, TaskStatusChanged):
            return body.root_node
        return None

    @property
    def llm_call(self) -> LlmCallFinished | None:
        """The model call this event records, if any: an LlmCallFinished (a failed attempt, or
        a log written before model calls rode on their step), or the call an AGENT step's
        RunNodeChanged carries."""
        body = self.body
        if isinstance(body, LlmCallFinished):
            return body
        if isinstance(body, RunNodeChanged):
            return body.llm_call
        return None

    @property
    def phases(self) -> list[LifecyclePhase]:
        """Runner lifecycle phase boundaries this event records, in order: a LifecyclePhase,
        or those a TaskStatusChanged carries (each with its own ``time``)."""
        body = self.body
        if isinstance(body, LifecyclePhase):
            return [body]
        if isinstance(body, TaskStatusChanged):
            return body.phases
        return []
