import datetime

from aworld_client._proto.aworld.runtime.v1 import common_pb2 as _common_pb2
from aworld_client._proto.aworld.runtime.v1 import message_pb2 as _message_pb2
from aworld_client._proto.aworld.runtime.v1 import state_pb2 as _state_pb2
from aworld_client._proto.aworld.runtime.v1 import task_pb2 as _task_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PermissionDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERMISSION_DECISION_UNSPECIFIED: _ClassVar[PermissionDecision]
    PERMISSION_DECISION_ALLOW: _ClassVar[PermissionDecision]
    PERMISSION_DECISION_DENY: _ClassVar[PermissionDecision]
    PERMISSION_DECISION_ASK: _ClassVar[PermissionDecision]

class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_UNSPECIFIED: _ClassVar[Phase]
    PHASE_PRE_RUN: _ClassVar[Phase]
    PHASE_DO_RUN: _ClassVar[Phase]
    PHASE_POST_RUN: _ClassVar[Phase]
PERMISSION_DECISION_UNSPECIFIED: PermissionDecision
PERMISSION_DECISION_ALLOW: PermissionDecision
PERMISSION_DECISION_DENY: PermissionDecision
PERMISSION_DECISION_ASK: PermissionDecision
PHASE_UNSPECIFIED: Phase
PHASE_PRE_RUN: Phase
PHASE_DO_RUN: Phase
PHASE_POST_RUN: Phase

class Event(_message.Message):
    __slots__ = ("task_id", "seq", "time", "session_id", "task_submitted", "status_changed", "message_emitted", "run_node_changed", "tool_call_started", "tool_call_finished", "llm_call_finished", "hook_decided", "input_requested", "input_provided", "lifecycle_phase")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_EMITTED_FIELD_NUMBER: _ClassVar[int]
    RUN_NODE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_STARTED_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FINISHED_FIELD_NUMBER: _ClassVar[int]
    LLM_CALL_FINISHED_FIELD_NUMBER: _ClassVar[int]
    HOOK_DECIDED_FIELD_NUMBER: _ClassVar[int]
    INPUT_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    INPUT_PROVIDED_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_PHASE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    seq: int
    time: _timestamp_pb2.Timestamp
    session_id: str
    task_submitted: TaskSubmitted
    status_changed: TaskStatusChanged
    message_emitted: MessageEmitted
    run_node_changed: RunNodeChanged
    tool_call_started: ToolCallStarted
    tool_call_finished: ToolCallFinished
    llm_call_finished: LlmCallFinished
    hook_decided: HookDecided
    input_requested: InputRequested
    input_provided: InputProvided
    lifecycle_phase: LifecyclePhase
    def __init__(self, task_id: _Optional[str] = ..., seq: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., session_id: _Optional[str] = ..., task_submitted: _Optional[_Union[TaskSubmitted, _Mapping]] = ..., status_changed: _Optional[_Union[TaskStatusChanged, _Mapping]] = ..., message_emitted: _Optional[_Union[MessageEmitted, _Mapping]] = ..., run_node_changed: _Optional[_Union[RunNodeChanged, _Mapping]] = ..., tool_call_started: _Optional[_Union[ToolCallStarted, _Mapping]] = ..., tool_call_finished: _Optional[_Union[ToolCallFinished, _Mapping]] = ..., llm_call_finished: _Optional[_Union[LlmCallFinished, _Mapping]] = ..., hook_decided: _Optional[_Union[HookDecided, _Mapping]] = ..., input_requested: _Optional[_Union[InputRequested, _Mapping]] = ..., input_provided: _Optional[_Union[InputProvided, _Mapping]] = ..., lifecycle_phase: _Optional[_Union[LifecyclePhase, _Mapping]] = ...) -> None: ...

class TaskSubmitted(_message.Message):
    __slots__ = ("task", "request_id")
    TASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    request_id: str
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class TaskStatusChanged(_message.Message):
    __slots__ = ("status", "reason", "response", "root_node", "phases")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ROOT_NODE_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    status: _task_pb2.TaskStatus
    reason: str
    response: _task_pb2.TaskResponse
    root_node: _state_pb2.RunNode
    phases: _containers.RepeatedCompositeFieldContainer[LifecyclePhase]
    def __init__(self, status: _Optional[_Union[_task_pb2.TaskStatus, str]] = ..., reason: _Optional[str] = ..., response: _Optional[_Union[_task_pb2.TaskResponse, _Mapping]] = ..., root_node: _Optional[_Union[_state_pb2.RunNode, _Mapping]] = ..., phases: _Optional[_Iterable[_Union[LifecyclePhase, _Mapping]]] = ...) -> None: ...

class MessageEmitted(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: _message_pb2.Message
    def __init__(self, message: _Optional[_Union[_message_pb2.Message, _Mapping]] = ...) -> None: ...

class RunNodeChanged(_message.Message):
    __slots__ = ("node", "llm_call")
    NODE_FIELD_NUMBER: _ClassVar[int]
    LLM_CALL_FIELD_NUMBER: _ClassVar[int]
    node: _state_pb2.RunNode
    llm_call: LlmCallFinished
    def __init__(self, node: _Optional[_Union[_state_pb2.RunNode, _Mapping]] = ..., llm_call: _Optional[_Union[LlmCallFinished, _Mapping]] = ...) -> None: ...

class ToolCallStarted(_message.Message):
    __slots__ = ("call_id", "tool_name", "arguments", "attempt", "caller", "node_id", "worker_id", "node")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool_name: str
    arguments: _common_pb2.Payload
    attempt: int
    caller: str
    node_id: str
    worker_id: str
    node: _state_pb2.RunNode
    def __init__(self, call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., arguments: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., attempt: _Optional[int] = ..., caller: _Optional[str] = ..., node_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., node: _Optional[_Union[_state_pb2.RunNode, _Mapping]] = ...) -> None: ...

class ToolCallFinished(_message.Message):
    __slots__ = ("call_id", "tool_name", "attempt", "result", "failure", "duration", "will_retry", "node")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    WILL_RETRY_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool_name: str
    attempt: int
    result: _common_pb2.Payload
    failure: _common_pb2.Failure
    duration: _duration_pb2.Duration
    will_retry: bool
    node: _state_pb2.RunNode
    def __init__(self, call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., attempt: _Optional[int] = ..., result: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., failure: _Optional[_Union[_common_pb2.Failure, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., will_retry: _Optional[bool] = ..., node: _Optional[_Union[_state_pb2.RunNode, _Mapping]] = ...) -> None: ...

class LlmCallFinished(_message.Message):
    __slots__ = ("agent", "model", "usage", "duration", "failure", "attempt")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    model: str
    usage: _common_pb2.Usage
    duration: _duration_pb2.Duration
    failure: _common_pb2.Failure
    attempt: int
    def __init__(self, agent: _Optional[str] = ..., model: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., failure: _Optional[_Union[_common_pb2.Failure, _Mapping]] = ..., attempt: _Optional[int] = ...) -> None: ...

class HookDecided(_message.Message):
    __slots__ = ("point", "hook_name", "decision", "reason", "updated_input", "updated_output", "system_message", "failure")
    POINT_FIELD_NUMBER: _ClassVar[int]
    HOOK_NAME_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UPDATED_INPUT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    point: str
    hook_name: str
    decision: PermissionDecision
    reason: str
    updated_input: bool
    updated_output: bool
    system_message: str
    failure: _common_pb2.Failure
    def __init__(self, point: _Optional[str] = ..., hook_name: _Optional[str] = ..., decision: _Optional[_Union[PermissionDecision, str]] = ..., reason: _Optional[str] = ..., updated_input: _Optional[bool] = ..., updated_output: _Optional[bool] = ..., system_message: _Optional[str] = ..., failure: _Optional[_Union[_common_pb2.Failure, _Mapping]] = ...) -> None: ...

class InputRequested(_message.Message):
    __slots__ = ("callback_id", "prompt", "kind", "node_id")
    CALLBACK_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    callback_id: str
    prompt: _common_pb2.Payload
    kind: str
    node_id: str
    def __init__(self, callback_id: _Optional[str] = ..., prompt: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., kind: _Optional[str] = ..., node_id: _Optional[str] = ...) -> None: ...

class InputProvided(_message.Message):
    __slots__ = ("callback_id", "value", "failure")
    CALLBACK_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    callback_id: str
    value: _common_pb2.Payload
    failure: _common_pb2.Failure
    def __init__(self, callback_id: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., failure: _Optional[_Union[_common_pb2.Failure, _Mapping]] = ...) -> None: ...

class LifecyclePhase(_message.Message):
    __slots__ = ("phase", "ended", "runner", "engine", "time")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    phase: Phase
    ended: bool
    runner: str
    engine: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, phase: _Optional[_Union[Phase, str]] = ..., ended: _Optional[bool] = ..., runner: _Optional[str] = ..., engine: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
