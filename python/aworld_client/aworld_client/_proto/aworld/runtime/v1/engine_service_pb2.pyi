import datetime

from aworld_client._proto.aworld.runtime.v1 import common_pb2 as _common_pb2
from aworld_client._proto.aworld.runtime.v1 import event_pb2 as _event_pb2
from aworld_client._proto.aworld.runtime.v1 import handler_pb2 as _handler_pb2
from aworld_client._proto.aworld.runtime.v1 import task_pb2 as _task_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OpenTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class OpenTaskResponse(_message.Message):
    __slots__ = ("task", "last_seq")
    TASK_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    last_seq: int
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., last_seq: _Optional[int] = ...) -> None: ...

class AppendEventsRequest(_message.Message):
    __slots__ = ("task_id", "events", "sync", "job_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    sync: bool
    job_id: str
    def __init__(self, task_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ..., sync: _Optional[bool] = ..., job_id: _Optional[str] = ...) -> None: ...

class AppendEventsResponse(_message.Message):
    __slots__ = ("last_seq",)
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    last_seq: int
    def __init__(self, last_seq: _Optional[int] = ...) -> None: ...

class AppendEventStreamRequest(_message.Message):
    __slots__ = ("batch_id", "appends")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    APPENDS_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    appends: _containers.RepeatedCompositeFieldContainer[AppendEventsRequest]
    def __init__(self, batch_id: _Optional[int] = ..., appends: _Optional[_Iterable[_Union[AppendEventsRequest, _Mapping]]] = ...) -> None: ...

class AppendEventStreamResponse(_message.Message):
    __slots__ = ("batch_id", "results")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    results: _containers.RepeatedCompositeFieldContainer[AppendResult]
    def __init__(self, batch_id: _Optional[int] = ..., results: _Optional[_Iterable[_Union[AppendResult, _Mapping]]] = ...) -> None: ...

class AppendResult(_message.Message):
    __slots__ = ("task_id", "last_seq", "code", "message")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    last_seq: int
    code: int
    message: str
    def __init__(self, task_id: _Optional[str] = ..., last_seq: _Optional[int] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class CallHandlerRequest(_message.Message):
    __slots__ = ("call_id", "attempt", "name", "kind", "input", "task_id", "session_id", "headers", "hook_point", "require_idempotent", "schedule_to_start_timeout", "job_id")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    HOOK_POINT_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_START_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    attempt: int
    name: str
    kind: _handler_pb2.HandlerKind
    input: _common_pb2.Payload
    task_id: str
    session_id: str
    headers: _containers.ScalarMap[str, str]
    hook_point: str
    require_idempotent: bool
    schedule_to_start_timeout: _duration_pb2.Duration
    job_id: str
    def __init__(self, call_id: _Optional[str] = ..., attempt: _Optional[int] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[_handler_pb2.HandlerKind, str]] = ..., input: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., task_id: _Optional[str] = ..., session_id: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., hook_point: _Optional[str] = ..., require_idempotent: _Optional[bool] = ..., schedule_to_start_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class CallHandlerResponse(_message.Message):
    __slots__ = ("output", "failure", "pending_callback_id")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    PENDING_CALLBACK_ID_FIELD_NUMBER: _ClassVar[int]
    output: _common_pb2.Payload
    failure: _common_pb2.Failure
    pending_callback_id: str
    def __init__(self, output: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., failure: _Optional[_Union[_common_pb2.Failure, _Mapping]] = ..., pending_callback_id: _Optional[str] = ...) -> None: ...

class SaveSessionStateRequest(_message.Message):
    __slots__ = ("task_id", "state", "job_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    state: _common_pb2.Payload
    job_id: str
    def __init__(self, task_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class SaveSessionStateResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
