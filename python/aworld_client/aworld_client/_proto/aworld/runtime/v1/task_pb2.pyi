import datetime

from aworld_client._proto.aworld.runtime.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_PENDING: _ClassVar[TaskStatus]
    TASK_STATUS_RUNNING: _ClassVar[TaskStatus]
    TASK_STATUS_INPUT_REQUIRED: _ClassVar[TaskStatus]
    TASK_STATUS_SUCCEEDED: _ClassVar[TaskStatus]
    TASK_STATUS_FAILED: _ClassVar[TaskStatus]
    TASK_STATUS_CANCELLED: _ClassVar[TaskStatus]
    TASK_STATUS_TIMED_OUT: _ClassVar[TaskStatus]
    TASK_STATUS_INTERRUPTED: _ClassVar[TaskStatus]

class ExecutionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_MODE_UNSPECIFIED: _ClassVar[ExecutionMode]
    EXECUTION_MODE_EVENT_DRIVEN: _ClassVar[ExecutionMode]
    EXECUTION_MODE_CALL_DRIVEN: _ClassVar[ExecutionMode]

class RunMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_MODE_UNSPECIFIED: _ClassVar[RunMode]
    RUN_MODE_ONE_WAY: _ClassVar[RunMode]
    RUN_MODE_INTERACTIVE: _ClassVar[RunMode]

class StreamingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STREAMING_MODE_UNSPECIFIED: _ClassVar[StreamingMode]
    STREAMING_MODE_CORE: _ClassVar[StreamingMode]
    STREAMING_MODE_CHUNK: _ClassVar[StreamingMode]
    STREAMING_MODE_OUTPUT: _ClassVar[StreamingMode]
    STREAMING_MODE_CHUNK_OUTPUT: _ClassVar[StreamingMode]
    STREAMING_MODE_ALL: _ClassVar[StreamingMode]

class SwarmTopology(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SWARM_TOPOLOGY_UNSPECIFIED: _ClassVar[SwarmTopology]
    SWARM_TOPOLOGY_SINGLE: _ClassVar[SwarmTopology]
    SWARM_TOPOLOGY_WORKFLOW: _ClassVar[SwarmTopology]
    SWARM_TOPOLOGY_HANDOFF: _ClassVar[SwarmTopology]
    SWARM_TOPOLOGY_TEAM: _ClassVar[SwarmTopology]

class ToolErrorPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_ERROR_POLICY_UNSPECIFIED: _ClassVar[ToolErrorPolicy]
    TOOL_ERROR_POLICY_OBSERVE: _ClassVar[ToolErrorPolicy]
    TOOL_ERROR_POLICY_FAIL_TASK: _ClassVar[ToolErrorPolicy]
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_PENDING: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_INPUT_REQUIRED: TaskStatus
TASK_STATUS_SUCCEEDED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_STATUS_CANCELLED: TaskStatus
TASK_STATUS_TIMED_OUT: TaskStatus
TASK_STATUS_INTERRUPTED: TaskStatus
EXECUTION_MODE_UNSPECIFIED: ExecutionMode
EXECUTION_MODE_EVENT_DRIVEN: ExecutionMode
EXECUTION_MODE_CALL_DRIVEN: ExecutionMode
RUN_MODE_UNSPECIFIED: RunMode
RUN_MODE_ONE_WAY: RunMode
RUN_MODE_INTERACTIVE: RunMode
STREAMING_MODE_UNSPECIFIED: StreamingMode
STREAMING_MODE_CORE: StreamingMode
STREAMING_MODE_CHUNK: StreamingMode
STREAMING_MODE_OUTPUT: StreamingMode
STREAMING_MODE_CHUNK_OUTPUT: StreamingMode
STREAMING_MODE_ALL: StreamingMode
SWARM_TOPOLOGY_UNSPECIFIED: SwarmTopology
SWARM_TOPOLOGY_SINGLE: SwarmTopology
SWARM_TOPOLOGY_WORKFLOW: SwarmTopology
SWARM_TOPOLOGY_HANDOFF: SwarmTopology
SWARM_TOPOLOGY_TEAM: SwarmTopology
TOOL_ERROR_POLICY_UNSPECIFIED: ToolErrorPolicy
TOOL_ERROR_POLICY_OBSERVE: ToolErrorPolicy
TOOL_ERROR_POLICY_FAIL_TASK: ToolErrorPolicy

class ModelConfig(_message.Message):
    __slots__ = ("provider", "model", "base_url", "temperature", "max_tokens", "options")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    provider: str
    model: str
    base_url: str
    temperature: float
    max_tokens: int
    options: _common_pb2.Payload
    def __init__(self, provider: _Optional[str] = ..., model: _Optional[str] = ..., base_url: _Optional[str] = ..., temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., options: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ...) -> None: ...

class AgentSpec(_message.Message):
    __slots__ = ("name", "description", "system_prompt", "model", "tool_names", "handoffs", "remote_handler", "mcp_servers", "a2a_url")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAMES_FIELD_NUMBER: _ClassVar[int]
    HANDOFFS_FIELD_NUMBER: _ClassVar[int]
    REMOTE_HANDLER_FIELD_NUMBER: _ClassVar[int]
    MCP_SERVERS_FIELD_NUMBER: _ClassVar[int]
    A2A_URL_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    system_prompt: str
    model: ModelConfig
    tool_names: _containers.RepeatedScalarFieldContainer[str]
    handoffs: _containers.RepeatedScalarFieldContainer[str]
    remote_handler: str
    mcp_servers: _containers.RepeatedScalarFieldContainer[str]
    a2a_url: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., system_prompt: _Optional[str] = ..., model: _Optional[_Union[ModelConfig, _Mapping]] = ..., tool_names: _Optional[_Iterable[str]] = ..., handoffs: _Optional[_Iterable[str]] = ..., remote_handler: _Optional[str] = ..., mcp_servers: _Optional[_Iterable[str]] = ..., a2a_url: _Optional[str] = ...) -> None: ...

class Swarm(_message.Message):
    __slots__ = ("topology", "agents", "root_agent")
    TOPOLOGY_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    ROOT_AGENT_FIELD_NUMBER: _ClassVar[int]
    topology: SwarmTopology
    agents: _containers.RepeatedCompositeFieldContainer[AgentSpec]
    root_agent: str
    def __init__(self, topology: _Optional[_Union[SwarmTopology, str]] = ..., agents: _Optional[_Iterable[_Union[AgentSpec, _Mapping]]] = ..., root_agent: _Optional[str] = ...) -> None: ...

class Budgets(_message.Message):
    __slots__ = ("max_steps", "max_tool_calls", "max_tokens", "max_wall_time")
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_WALL_TIME_FIELD_NUMBER: _ClassVar[int]
    max_steps: int
    max_tool_calls: int
    max_tokens: int
    max_wall_time: _duration_pb2.Duration
    def __init__(self, max_steps: _Optional[int] = ..., max_tool_calls: _Optional[int] = ..., max_tokens: _Optional[int] = ..., max_wall_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class HookNames(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class TaskConfig(_message.Message):
    __slots__ = ("execution_mode", "runner", "run_mode", "streaming_mode", "check_input", "budgets", "tool_error_policy", "extra", "schedule_to_start_timeout")
    EXECUTION_MODE_FIELD_NUMBER: _ClassVar[int]
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    RUN_MODE_FIELD_NUMBER: _ClassVar[int]
    STREAMING_MODE_FIELD_NUMBER: _ClassVar[int]
    CHECK_INPUT_FIELD_NUMBER: _ClassVar[int]
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    TOOL_ERROR_POLICY_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_START_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    execution_mode: ExecutionMode
    runner: str
    run_mode: RunMode
    streaming_mode: StreamingMode
    check_input: bool
    budgets: Budgets
    tool_error_policy: ToolErrorPolicy
    extra: _common_pb2.Payload
    schedule_to_start_timeout: _duration_pb2.Duration
    def __init__(self, execution_mode: _Optional[_Union[ExecutionMode, str]] = ..., runner: _Optional[str] = ..., run_mode: _Optional[_Union[RunMode, str]] = ..., streaming_mode: _Optional[_Union[StreamingMode, str]] = ..., check_input: _Optional[bool] = ..., budgets: _Optional[_Union[Budgets, _Mapping]] = ..., tool_error_policy: _Optional[_Union[ToolErrorPolicy, str]] = ..., extra: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., schedule_to_start_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("id", "name", "session_id", "user_id", "parent_task_id", "input", "swarm", "tool_names", "conf", "hooks", "retry_policy", "priority", "deadline", "engine", "headers", "group_id")
    class HooksEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: HookNames
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[HookNames, _Mapping]] = ...) -> None: ...
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    SWARM_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAMES_FIELD_NUMBER: _ClassVar[int]
    CONF_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    RETRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    session_id: str
    user_id: str
    parent_task_id: str
    input: _common_pb2.Payload
    swarm: Swarm
    tool_names: _containers.RepeatedScalarFieldContainer[str]
    conf: TaskConfig
    hooks: _containers.MessageMap[str, HookNames]
    retry_policy: _common_pb2.RetryPolicy
    priority: int
    deadline: _timestamp_pb2.Timestamp
    engine: str
    headers: _containers.ScalarMap[str, str]
    group_id: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., parent_task_id: _Optional[str] = ..., input: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., swarm: _Optional[_Union[Swarm, _Mapping]] = ..., tool_names: _Optional[_Iterable[str]] = ..., conf: _Optional[_Union[TaskConfig, _Mapping]] = ..., hooks: _Optional[_Mapping[str, HookNames]] = ..., retry_policy: _Optional[_Union[_common_pb2.RetryPolicy, _Mapping]] = ..., priority: _Optional[int] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., engine: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., group_id: _Optional[str] = ...) -> None: ...

class TaskResponse(_message.Message):
    __slots__ = ("id", "status", "answer", "failure", "usage", "time_cost", "trajectory_uri", "trace_id", "status_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_COST_FIELD_NUMBER: _ClassVar[int]
    TRAJECTORY_URI_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: TaskStatus
    answer: _common_pb2.Payload
    failure: _common_pb2.Failure
    usage: _common_pb2.Usage
    time_cost: _duration_pb2.Duration
    trajectory_uri: str
    trace_id: str
    status_reason: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., answer: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., failure: _Optional[_Union[_common_pb2.Failure, _Mapping]] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., time_cost: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., trajectory_uri: _Optional[str] = ..., trace_id: _Optional[str] = ..., status_reason: _Optional[str] = ...) -> None: ...
