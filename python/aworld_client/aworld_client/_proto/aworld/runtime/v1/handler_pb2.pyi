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

class HandlerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HANDLER_KIND_UNSPECIFIED: _ClassVar[HandlerKind]
    HANDLER_KIND_TOOL: _ClassVar[HandlerKind]
    HANDLER_KIND_AGENT: _ClassVar[HandlerKind]
    HANDLER_KIND_HOOK: _ClassVar[HandlerKind]
    HANDLER_KIND_CALLBACK: _ClassVar[HandlerKind]
HANDLER_KIND_UNSPECIFIED: HandlerKind
HANDLER_KIND_TOOL: HandlerKind
HANDLER_KIND_AGENT: HandlerKind
HANDLER_KIND_HOOK: HandlerKind
HANDLER_KIND_CALLBACK: HandlerKind

class HandlerSpec(_message.Message):
    __slots__ = ("name", "kind", "description", "input_schema", "output_schema", "version", "idempotent", "default_timeout", "retry_policy", "hook_points", "schedule_to_start_timeout")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    HOOK_POINTS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_START_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: HandlerKind
    description: str
    input_schema: str
    output_schema: str
    version: str
    idempotent: bool
    default_timeout: _duration_pb2.Duration
    retry_policy: _common_pb2.RetryPolicy
    hook_points: _containers.RepeatedScalarFieldContainer[str]
    schedule_to_start_timeout: _duration_pb2.Duration
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[HandlerKind, str]] = ..., description: _Optional[str] = ..., input_schema: _Optional[str] = ..., output_schema: _Optional[str] = ..., version: _Optional[str] = ..., idempotent: _Optional[bool] = ..., default_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry_policy: _Optional[_Union[_common_pb2.RetryPolicy, _Mapping]] = ..., hook_points: _Optional[_Iterable[str]] = ..., schedule_to_start_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class HandlerInfo(_message.Message):
    __slots__ = ("spec", "local", "worker_count", "replica_ids")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    WORKER_COUNT_FIELD_NUMBER: _ClassVar[int]
    REPLICA_IDS_FIELD_NUMBER: _ClassVar[int]
    spec: HandlerSpec
    local: bool
    worker_count: int
    replica_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, spec: _Optional[_Union[HandlerSpec, _Mapping]] = ..., local: _Optional[bool] = ..., worker_count: _Optional[int] = ..., replica_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ("worker_id", "sdk", "handler_names", "max_concurrency", "in_flight", "connected_at", "last_seen_at", "labels", "replica_id")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    SDK_FIELD_NUMBER: _ClassVar[int]
    HANDLER_NAMES_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    sdk: str
    handler_names: _containers.RepeatedScalarFieldContainer[str]
    max_concurrency: int
    in_flight: int
    connected_at: _timestamp_pb2.Timestamp
    last_seen_at: _timestamp_pb2.Timestamp
    labels: _containers.ScalarMap[str, str]
    replica_id: str
    def __init__(self, worker_id: _Optional[str] = ..., sdk: _Optional[str] = ..., handler_names: _Optional[_Iterable[str]] = ..., max_concurrency: _Optional[int] = ..., in_flight: _Optional[int] = ..., connected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., replica_id: _Optional[str] = ...) -> None: ...
