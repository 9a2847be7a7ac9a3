"""Message: what agents, tools and the runtime exchange while a task runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aworld_client._convert import ProtoEnum, ProtoModel, proto_enum, proto_model
from aworld_client._proto.aworld.runtime.v1 import message_pb2
from aworld_client.common import Payload

__all__ = ["Message", "MessageCategory"]


@proto_enum(message_pb2.MessageCategory)
class MessageCategory(ProtoEnum):
    """Which handler consumes a message (AWorld ``Message.category``)."""

    UNSPECIFIED = 0
    TASK = 1
    AGENT = 2
    TOOL = 3
    OUTPUT = 4
    CHUNK = 5
    HUMAN = 6
    HUMAN_RESPONSE = 7
    TOOL_CALLBACK = 8
    AGENT_CALLBACK = 9
    GROUP = 10
    CONTEXT = 11
    MEMORY = 12
    BACKGROUND_TASK = 13
    ERROR = 14


@proto_model(message_pb2.Message)
@dataclass(slots=True, kw_only=True)
class Message(ProtoModel):
    """One message of a task. ``task_id`` is a real field: routing never needs a live object."""

    id: str = ""
    task_id: str = ""
    session_id: str = ""
    category: MessageCategory = MessageCategory.UNSPECIFIED
    topic: str = ""
    sender: str = ""
    receiver: str = ""
    caller: str = ""
    priority: int = 0
    payload: Payload | None = None
    headers: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    causation_id: str = ""
