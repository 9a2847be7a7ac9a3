import datetime

from aworld_client._proto.aworld.runtime.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_CATEGORY_UNSPECIFIED: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_TASK: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_AGENT: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_TOOL: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_OUTPUT: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_CHUNK: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_HUMAN: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_HUMAN_RESPONSE: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_TOOL_CALLBACK: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_AGENT_CALLBACK: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_GROUP: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_CONTEXT: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_MEMORY: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_BACKGROUND_TASK: _ClassVar[MessageCategory]
    MESSAGE_CATEGORY_ERROR: _ClassVar[MessageCategory]
MESSAGE_CATEGORY_UNSPECIFIED: MessageCategory
MESSAGE_CATEGORY_TASK: MessageCategory
MESSAGE_CATEGORY_AGENT: MessageCategory
MESSAGE_CATEGORY_TOOL: MessageCategory
MESSAGE_CATEGORY_OUTPUT: MessageCategory
MESSAGE_CATEGORY_CHUNK: MessageCategory
MESSAGE_CATEGORY_HUMAN: MessageCategory
MESSAGE_CATEGORY_HUMAN_RESPONSE: MessageCategory
MESSAGE_CATEGORY_TOOL_CALLBACK: MessageCategory
MESSAGE_CATEGORY_AGENT_CALLBACK: MessageCategory
MESSAGE_CATEGORY_GROUP: MessageCategory
MESSAGE_CATEGORY_CONTEXT: MessageCategory
MESSAGE_CATEGORY_MEMORY: MessageCategory
MESSAGE_CATEGORY_BACKGROUND_TASK: MessageCategory
MESSAGE_CATEGORY_ERROR: MessageCategory

class Message(_message.Message):
    __slots__ = ("id", "task_id", "session_id", "category", "topic", "sender", "receiver", "caller", "priority", "payload", "headers", "created_at", "causation_id")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_id: str
    session_id: str
    category: MessageCategory
    topic: str
    sender: str
    receiver: str
    caller: str
    priority: int
    payload: _common_pb2.Payload
    headers: _containers.ScalarMap[str, str]
    created_at: _timestamp_pb2.Timestamp
    causation_id: str
    def __init__(self, id: _Optional[str] = ..., task_id: _Optional[str] = ..., session_id: _Optional[str] = ..., category: _Optional[_Union[MessageCategory, str]] = ..., topic: _Optional[str] = ..., sender: _Optional[str] = ..., receiver: _Optional[str] = ..., caller: _Optional[str] = ..., priority: _Optional[int] = ..., payload: _Optional[_Union[_common_pb2.Payload, _Mapping]] = ..., headers: _Optional[_Mapping[str, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., causation_id: _Optional[str] = ...) -> None: ...
