"""Task, its configuration and its response."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Self

from aworld_client._convert import ProtoEnum, ProtoModel, proto_enum, proto_model
from aworld_client._proto.aworld.runtime.v1 import task_pb2
from aworld_client.common import Failure, Payload, RetryPolicy, Usage

__all__ = [
    "AgentSpec",
    "Budgets",
    "ExecutionMode",
    "ModelConfig",
    "RunMode",
    "StreamingMode",
    "Swarm",
    "SwarmTopology",
    "Task",
    "TaskConfig",
    "TaskResponse",
    "TaskStatus",
    "ToolErrorPolicy",
]


@proto_enum(task_pb2.TaskStatus)
class TaskStatus(ProtoEnum):
    """Where a task is in its life; see :attr:`is_terminal` and :attr:`aworld_name`."""

    UNSPECIFIED = 0
    PENDING = 1
    RUNNING = 2
    INPUT_REQUIRED = 3
    SUCCEEDED = 4
    FAILED = 5
    CANCELLED = 6
    TIMED_OUT = 7
    INTERRUPTED = 8

    @property
    def is_terminal(self) -> bool:
        """True for statuses that never change again."""
        return self in _TERMINAL

    @property
    def aworld_name(self) -> str:
        """AWorld's status string ("init", "running", "success", ...)."""
        return _AWORLD_NAMES.get(self, "init")

    @classmethod
    def from_aworld_name(cls, name: str) -> TaskStatus:
        """Map an AWorld status string back; raises ValueError for unknown strings."""
        for status, aworld in _AWORLD_NAMES.items():
            if aworld == name:
                return status
        raise ValueError(f"unknown AWorld task status {name!r}")


_TERMINAL = frozenset(
    {
        TaskStatus.SUCCEEDED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.TIMED_OUT,
        TaskStatus.INTERRUPTED,
    }
)
_AWORLD_NAMES = {
    TaskStatus.PENDING: "init",
    TaskStatus.RUNNING: "running",
    TaskStatus.INPUT_REQUIRED: "input_required",
    TaskStatus.SUCCEEDED: "success",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
    TaskStatus.TIMED_OUT: "timeout",
    TaskStatus.INTERRUPTED: "interrupted",
}


@proto_enum(task_pb2.ExecutionMode)
class ExecutionMode(ProtoEnum):
    """Event-driven (default) or call-driven execution."""

    UNSPECIFIED = 0
    EVENT_DRIVEN = 1
    CALL_DRIVEN = 2


@proto_enum(task_pb2.RunMode)
class RunMode(ProtoEnum):
    """One-way (default) or interactive runs."""

    UNSPECIFIED = 0
    ONE_WAY = 1
    INTERACTIVE = 2


@proto_enum(task_pb2.StreamingMode)
class StreamingMode(ProtoEnum):
    """Which messages a streaming run returns (AWorld StreamingMode; default CORE)."""

    UNSPECIFIED = 0
    CORE = 1
    CHUNK = 2
    OUTPUT = 3
    CHUNK_OUTPUT = 4
    ALL = 5


@proto_enum(task_pb2.SwarmTopology)
class SwarmTopology(ProtoEnum):
    """How the agents of a swarm hand work to each other."""

    UNSPECIFIED = 0
    SINGLE = 1
    WORKFLOW = 2
    HANDOFF = 3
    TEAM = 4


@proto_enum(task_pb2.ToolErrorPolicy)
class ToolErrorPolicy(ProtoEnum):
    """What a failed tool call does to its task (default: the agent observes the error)."""

    UNSPECIFIED = 0
    OBSERVE = 1
    FAIL_TASK = 2


@proto_model(task_pb2.ModelConfig)
@dataclass(slots=True, kw_only=True)
class ModelConfig(ProtoModel):
    """Which model an agent's policy calls."""

    provider: str = ""
    model: str = ""
    base_url: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    options: Payload | None = None


@proto_model(task_pb2.AgentSpec)
@dataclass(slots=True, kw_only=True)
class AgentSpec(ProtoModel):
    """One agent of a swarm."""

    name: str = ""
    description: str = ""
    system_prompt: str = ""
    model: ModelConfig | None = None
    tool_names: list[str] = field(default_factory=list)
    handoffs: list[str] = field(default_factory=list)
    remote_handler: str = ""
    mcp_servers: list[str] = field(default_factory=list)
    a2a_url: str = ""


@proto_model(task_pb2.Swarm)
@dataclass(slots=True, kw_only=True)
class Swarm(ProtoModel):
    """The agents of a task and their topology."""

    topology: SwarmTopology = SwarmTopology.UNSPECIFIED
    agents: list[AgentSpec] = field(default_factory=list)
    root_agent: str = ""


@proto_model(task_pb2.Budgets)
@dataclass(slots=True, kw_only=True)
class Budgets(ProtoModel):
    """Limits of one task; 0 / None means the documented default or unlimited."""

    max_steps: int = 0
    max_tool_calls: int = 0
    max_tokens: int = 0
    max_wall_time: timedelta | None = None


@proto_model(task_pb2.TaskConfig)
@dataclass(slots=True, kw_only=True)
class TaskConfig(ProtoModel):
    """Run options of a task (AWorld ``Task.conf``)."""

    execution_mode: ExecutionMode = ExecutionMode.UNSPECIFIED
    runner: str = ""
    run_mode: RunMode = RunMode.UNSPECIFIED
    streaming_mode: StreamingMode = StreamingMode.UNSPECIFIED
    check_input: bool = False
    budgets: Budgets | None = None
    tool_error_policy: ToolErrorPolicy = ToolErrorPolicy.UNSPECIFIED
    extra: Payload | None = None
    schedule_to_start_timeout: timedelta | None = None


@proto_model(task_pb2.Task)
@dataclass(slots=True, kw_only=True)
class Task(ProtoModel):
    """A unit of work: an input, the agents that work on it and how to run them.

    ``input`` (like every Payload field, e.g. ``ModelConfig.options``) also takes a plain
    value: a string becomes a text payload, any other JSON value a JSON payload. Load a task
    file with :meth:`from_json`, :meth:`from_yaml` or, for parsed data, :meth:`from_dict`.
    """

    id: str = ""
    name: str = ""
    session_id: str = ""
    user_id: str = ""
    parent_task_id: str = ""
    input: Payload | None = None
    swarm: Swarm | None = None
    tool_names: list[str] = field(default_factory=list)
    conf: TaskConfig | None = None
    hooks: dict[str, list[str]] = field(default_factory=dict)
    retry_policy: RetryPolicy | None = None
    priority: int = 0
    deadline: datetime | None = None
    engine: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    group_id: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A task from plain data in the task-file format: the protobuf JSON mapping of
        ``Task`` (camelCase or snake_case names), where a Payload field may be a plain value.
        ValueError names the field that does not fit."""
        from aworld_client._taskdata import task_proto_from_dict

        return cls.from_proto(task_proto_from_dict(data))

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """A task from JSON text (see :meth:`from_dict`); ValueError when it is not one."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
            ) from None
        return cls.from_dict(data)

    @classmethod
    def from_yaml(cls, text: str) -> Self:
        """A task from YAML text (see :meth:`from_dict`); needs PyYAML
        (``pip install 'aworld-client[yaml]'``)."""
        from aworld_client._taskdata import parse_yaml

        return cls.from_dict(parse_yaml(text))


@proto_model(task_pb2.TaskResponse)
@dataclass(slots=True, kw_only=True)
class TaskResponse(ProtoModel):
    """The outcome of a task; final once ``status.is_terminal``."""

    id: str = ""
    status: TaskStatus = TaskStatus.UNSPECIFIED
    answer: Payload | None = None
    failure: Failure | None = None
    usage: Usage | None = None
    time_cost: timedelta | None = None
    trajectory_uri: str = ""
    trace_id: str = ""
    status_reason: str = ""

    @property
    def success(self) -> bool:
        """AWorld's ``TaskResponse.success``."""
        return self.status == TaskStatus.SUCCEEDED

    @property
    def msg(self) -> str:
        """AWorld's ``TaskResponse.msg``: the failure message, or empty."""
        return self.failure.message if self.failure else ""
