import datetime

from aworld_client._proto.aworld.runtime.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrajectoryItem(_message.Message):
    __slots__ = ("meta", "state", "action", "reward")
    META_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    meta: TrajectoryMeta
    state: TrajectoryState
    action: TrajectoryAction
    reward: TrajectoryReward
    def __init__(self, meta: _Optional[_Union[TrajectoryMeta, _Mapping]] = ..., state: _Optional[_Union[TrajectoryState, _Mapping]] = ..., action: _Optional[_Union[TrajectoryAction, _Mapping]] = ..., reward: _Optional[_Union[TrajectoryReward, _Mapping]] = ...) -> None: ...

class TrajectoryMeta(_message.Message):
    __slots__ = ("session_id", "task_id", "task_name", "agent_id", "step", "execute_time", "pre_agent")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    PRE_AGENT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    task_id: str
    task_name: str
    agent_id: str
    step: int
    execute_time: _timestamp_pb2.Timestamp
    pre_agent: str
    def __init__(self, session_id: _Optional[str] = ..., task_id: _Optional[str] = ..., task_name: _Optional[str] = ..., agent_id: _Optional[str] = ..., step: _Optional[int] = ..., execute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pre_agent: _Optional[str] = ...) -> None: ...

class TrajectoryState(_message.Message):
    __slots__ = ("input", "messages")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    input: _common_pb2.Payload
    messages: _common_pb2.Payload
    def __init__(self, input: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., messages: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("id", "name", "arguments")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    arguments: _common_pb2.Payload
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., arguments: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ...) -> None: ...

class TrajectoryAction(_message.Message):
    __slots__ = ("content", "tool_calls", "is_agent_finished")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    IS_AGENT_FINISHED_FIELD_NUMBER: _ClassVar[int]
    content: str
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    is_agent_finished: bool
    def __init__(self, content: _Optional[str] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ..., is_agent_finished: _Optional[bool] = ...) -> None: ...

class TrajectoryReward(_message.Message):
    __slots__ = ("tool_outputs", "status", "score")
    TOOL_OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    tool_outputs: _containers.RepeatedCompositeFieldContainer[_common_pb2.Payload]
    status: str
    score: float
    def __init__(self, tool_outputs: _Optional[_Iterable[_Union[_common_pb2.Payload, _Mapping]]] = ..., status: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...
