import datetime

from aworld_client._proto.aworld.runtime.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunNodeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_NODE_KIND_UNSPECIFIED: _ClassVar[RunNodeKind]
    RUN_NODE_KIND_TASK: _ClassVar[RunNodeKind]
    RUN_NODE_KIND_AGENT: _ClassVar[RunNodeKind]
    RUN_NODE_KIND_TOOL: _ClassVar[RunNodeKind]
    RUN_NODE_KIND_HOOK: _ClassVar[RunNodeKind]
    RUN_NODE_KIND_HUMAN: _ClassVar[RunNodeKind]
    RUN_NODE_KIND_SUB_TASK: _ClassVar[RunNodeKind]
    RUN_NODE_KIND_LLM: _ClassVar[RunNodeKind]

class RunNodeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_NODE_STATUS_UNSPECIFIED: _ClassVar[RunNodeStatus]
    RUN_NODE_STATUS_INIT: _ClassVar[RunNodeStatus]
    RUN_NODE_STATUS_RUNNING: _ClassVar[RunNodeStatus]
    RUN_NODE_STATUS_SUCCEEDED: _ClassVar[RunNodeStatus]
    RUN_NODE_STATUS_FAILED: _ClassVar[RunNodeStatus]
    RUN_NODE_STATUS_TIMED_OUT: _ClassVar[RunNodeStatus]
    RUN_NODE_STATUS_CANCELLED: _ClassVar[RunNodeStatus]
    RUN_NODE_STATUS_BREAKED: _ClassVar[RunNodeStatus]
RUN_NODE_KIND_UNSPECIFIED: RunNodeKind
RUN_NODE_KIND_TASK: RunNodeKind
RUN_NODE_KIND_AGENT: RunNodeKind
RUN_NODE_KIND_TOOL: RunNodeKind
RUN_NODE_KIND_HOOK: RunNodeKind
RUN_NODE_KIND_HUMAN: RunNodeKind
RUN_NODE_KIND_SUB_TASK: RunNodeKind
RUN_NODE_KIND_LLM: RunNodeKind
RUN_NODE_STATUS_UNSPECIFIED: RunNodeStatus
RUN_NODE_STATUS_INIT: RunNodeStatus
RUN_NODE_STATUS_RUNNING: RunNodeStatus
RUN_NODE_STATUS_SUCCEEDED: RunNodeStatus
RUN_NODE_STATUS_FAILED: RunNodeStatus
RUN_NODE_STATUS_TIMED_OUT: RunNodeStatus
RUN_NODE_STATUS_CANCELLED: RunNodeStatus
RUN_NODE_STATUS_BREAKED: RunNodeStatus

class RunNode(_message.Message):
    __slots__ = ("id", "task_id", "session_id", "parent_id", "kind", "name", "status", "attempt", "result", "failure", "created_at", "started_at", "ended_at", "group_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_id: str
    session_id: str
    parent_id: str
    kind: RunNodeKind
    name: str
    status: RunNodeStatus
    attempt: int
    result: _common_pb2.Payload
    failure: _common_pb2.Failure
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    group_id: str
    def __init__(self, id: _Optional[str] = ..., task_id: _Optional[str] = ..., session_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., kind: _Optional[_Union[RunNodeKind, str]] = ..., name: _Optional[str] = ..., status: _Optional[_Union[RunNodeStatus, str]] = ..., attempt: _Optional[int] = ..., result: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., failure: _Optional[_Union[_common_pb2.Failure, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., group_id: _Optional[str] = ...) -> None: ...

class NodeGroup(_message.Message):
    __slots__ = ("id", "task_id", "parent_node_id", "node_ids", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_id: str
    parent_node_id: str
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    status: RunNodeStatus
    def __init__(self, id: _Optional[str] = ..., task_id: _Optional[str] = ..., parent_node_id: _Optional[str] = ..., node_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[RunNodeStatus, str]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("id", "user_id", "created_at", "updated_at", "task_ids", "state")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    state: _common_pb2.Payload
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_ids: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ...) -> None: ...
