import datetime

from aworld_client._proto.aworld.runtime.v1 import common_pb2 as _common_pb2
from aworld_client._proto.aworld.runtime.v1 import handler_pb2 as _handler_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectRequest(_message.Message):
    __slots__ = ("hello", "call_completed", "call_chunk", "heartbeat")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    CALL_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    CALL_CHUNK_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    call_completed: CallCompleted
    call_chunk: CallChunk
    heartbeat: Heartbeat
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., call_completed: _Optional[_Union[CallCompleted, _Mapping]] = ..., call_chunk: _Optional[_Union[CallChunk, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("welcome", "call", "cancel_call", "call_rejected")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    CANCEL_CALL_FIELD_NUMBER: _ClassVar[int]
    CALL_REJECTED_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    call: Call
    cancel_call: CancelCall
    call_rejected: CallRejected
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., call: _Optional[_Union[Call, _Mapping]] = ..., cancel_call: _Optional[_Union[CancelCall, _Mapping]] = ..., call_rejected: _Optional[_Union[CallRejected, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("worker_id", "handlers", "max_concurrency", "sdk", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HANDLERS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    SDK_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    handlers: _containers.RepeatedCompositeFieldContainer[_handler_pb2.HandlerSpec]
    max_concurrency: int
    sdk: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, worker_id: _Optional[str] = ..., handlers: _Optional[_Iterable[_Union[_handler_pb2.HandlerSpec, _Mapping]]] = ..., max_concurrency: _Optional[int] = ..., sdk: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("worker_id", "heartbeat_interval", "heartbeat_timeout")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    heartbeat_interval: _duration_pb2.Duration
    heartbeat_timeout: _duration_pb2.Duration
    def __init__(self, worker_id: _Optional[str] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., heartbeat_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Call(_message.Message):
    __slots__ = ("call_id", "attempt", "handler", "kind", "input", "deadline", "task_id", "session_id", "headers", "hook_point", "idempotency_key")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    HANDLER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    HOOK_POINT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    attempt: int
    handler: str
    kind: _handler_pb2.HandlerKind
    input: _common_pb2.Payload
    deadline: _timestamp_pb2.Timestamp
    task_id: str
    session_id: str
    headers: _containers.ScalarMap[str, str]
    hook_point: str
    idempotency_key: str
    def __init__(self, call_id: _Optional[str] = ..., attempt: _Optional[int] = ..., handler: _Optional[str] = ..., kind: _Optional[_Union[_handler_pb2.HandlerKind, str]] = ..., input: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_id: _Optional[str] = ..., session_id: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., hook_point: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CancelCall(_message.Message):
    __slots__ = ("call_id", "attempt", "reason")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    attempt: int
    reason: str
    def __init__(self, call_id: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CallRejected(_message.Message):
    __slots__ = ("call_id", "attempt", "reason")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    attempt: int
    reason: str
    def __init__(self, call_id: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CallCompleted(_message.Message):
    __slots__ = ("call_id", "attempt", "output", "failure", "pending_callback_id")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    PENDING_CALLBACK_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    attempt: int
    output: _common_pb2.Payload
    failure: _common_pb2.Failure
    pending_callback_id: str
    def __init__(self, call_id: _Optional[str] = ..., attempt: _Optional[int] = ..., output: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., failure: _Optional[_Union[_common_pb2.Failure, _Mapping]] = ..., pending_callback_id: _Optional[str] = ...) -> None: ...

class CallChunk(_message.Message):
    __slots__ = ("call_id", "attempt", "chunk")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    attempt: int
    chunk: _common_pb2.Payload
    def __init__(self, call_id: _Optional[str] = ..., attempt: _Optional[int] = ..., chunk: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("in_flight_call_ids",)
    IN_FLIGHT_CALL_IDS_FIELD_NUMBER: _ClassVar[int]
    in_flight_call_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, in_flight_call_ids: _Optional[_Iterable[str]] = ...) -> None: ...
