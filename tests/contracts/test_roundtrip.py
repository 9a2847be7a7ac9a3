"""Every contract message round-trips through its domain type without losing anything."""

from __future__ import annotations

import itertools
from typing import Any

import aworld_client
import pytest
from aworld_client import _convert
from aworld_client.api import (  # noqa: F401  registers every file
    common_pb2,
    engine_service_pb2,
    event_pb2,
    handler_pb2,
    message_pb2,
    runtime_service_pb2,
    state_pb2,
    task_pb2,
    trajectory_pb2,
    worker_service_pb2,
)
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message_factory import GetMessageClass

PACKAGE = "aworld.runtime.v1"
# Messages with a native Python form instead of a domain class (see aworld_client._convert).
NATIVE = {"aworld.runtime.v1.HookNames"}
FILES = [
    f"aworld/runtime/v1/{name}.proto"
    for name in (
        "common",
        "engine_service",
        "event",
        "handler",
        "message",
        "runtime_service",
        "state",
        "task",
        "trajectory",
        "worker_service",
    )
]


def _all_messages() -> list[Descriptor]:
    pool = descriptor_pool.Default()
    found: list[Descriptor] = []
    for file_name in FILES:
        for message in pool.FindFileByName(file_name).message_types_by_name.values():
            found.append(message)
    return found


MESSAGES = [m for m in _all_messages() if m.full_name not in NATIVE]
_counter = itertools.count(1)


def _is_repeated(field: FieldDescriptor) -> bool:
    return _convert._is_repeated(field)


def _scalar(field: FieldDescriptor) -> Any:
    n = next(_counter)
    if field.type == FieldDescriptor.TYPE_STRING:
        return f"{field.name}-{n}"
    if field.type == FieldDescriptor.TYPE_BYTES:
        return bytes([n % 256, 0, 255])
    if field.type == FieldDescriptor.TYPE_BOOL:
        return True
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return n + 0.5
    if field.type == FieldDescriptor.TYPE_ENUM:
        values = [v.number for v in field.enum_type.values if v.number != 0]
        return values[n % len(values)]
    return n + (2**40 if field.cpp_type == FieldDescriptor.CPPTYPE_INT64 else 0)


def _fill(message: Any, depth: int = 0, oneof_choice: int = 0) -> Any:
    """Set every field (one member per oneof, chosen by oneof_choice) to a non-default value."""
    descriptor = message.DESCRIPTOR
    for field in descriptor.fields:
        oneof = field.containing_oneof
        in_real_oneof = oneof is not None and not _convert._is_synthetic(oneof)
        if in_real_oneof and oneof.fields[oneof_choice % len(oneof.fields)] is not field:
            continue
        if _convert._is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            target = getattr(message, field.name)
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                _fill(target[f"k{next(_counter)}"], depth + 1)
            else:
                target[f"k{next(_counter)}"] = _scalar(value_field)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth > 3:  # Failure.cause is recursive
                continue
            if _is_repeated(field):
                for _ in range(2):
                    _fill(getattr(message, field.name).add(), depth + 1)
            elif field.message_type.full_name == "google.protobuf.Timestamp":
                getattr(message, field.name).FromSeconds(1_700_000_000 + next(_counter))
                getattr(message, field.name).nanos = 123_456_000
            elif field.message_type.full_name == "google.protobuf.Duration":
                getattr(message, field.name).FromMilliseconds(1500 + next(_counter))
            else:
                _fill(getattr(message, field.name), depth + 1, oneof_choice)
        elif _is_repeated(field):
            getattr(message, field.name).extend([_scalar(field), _scalar(field)])
        else:
            setattr(message, field.name, _scalar(field))
    return message


def _variants(descriptor: Descriptor) -> int:
    """How many fills cover every member of every oneof in the message."""
    sizes = [len(o.fields) for o in descriptor.oneofs if not _convert._is_synthetic(o)]
    return max(sizes, default=1)


def test_every_message_has_a_domain_type() -> None:
    missing = [m.full_name for m in MESSAGES if _convert.domain_type_for(m.full_name) is None]
    assert missing == []


def test_every_enum_has_a_domain_type() -> None:
    pool = descriptor_pool.Default()
    enums = [e for f in FILES for e in pool.FindFileByName(f).enum_types_by_name.values()]
    assert enums, "no enums found"
    assert [e.full_name for e in enums if _convert.domain_type_for(e.full_name) is None] == []


@pytest.mark.parametrize("descriptor", MESSAGES, ids=lambda d: d.name)
def test_fully_populated_message_round_trips(descriptor: Descriptor) -> None:
    domain = _convert.domain_type_for(descriptor.full_name)
    assert domain is not None and issubclass(domain, _convert.ProtoModel)
    pb_class = GetMessageClass(descriptor)
    for choice in range(_variants(descriptor)):
        original = _fill(pb_class(), oneof_choice=choice)
        value = domain.from_proto(original)
        assert value.to_proto() == original
        assert type(value).from_bytes(original.SerializeToString()) == value


@pytest.mark.parametrize("descriptor", MESSAGES, ids=lambda d: d.name)
def test_empty_message_round_trips_with_absent_fields(descriptor: Descriptor) -> None:
    domain = _convert.domain_type_for(descriptor.full_name)
    assert domain is not None and issubclass(domain, _convert.ProtoModel)
    empty = GetMessageClass(descriptor)()
    value = domain.from_proto(empty)
    assert value.to_proto() == empty
    assert value.to_bytes() == b""


def test_unknown_enum_values_survive_a_round_trip() -> None:
    original = task_pb2.TaskResponse(id="t", status=99)
    response = aworld_client.TaskResponse.from_proto(original)
    assert int(response.status) == 99
    assert response.status.name == "UNKNOWN_99"
    assert not response.status.is_terminal
    assert response.to_proto() == original


def test_absent_and_zero_optional_fields_are_distinct() -> None:
    absent = aworld_client.ModelConfig.from_proto(task_pb2.ModelConfig(provider="openai"))
    zero = aworld_client.ModelConfig.from_proto(task_pb2.ModelConfig(temperature=0.0))
    assert absent.temperature is None and absent.max_tokens is None
    assert zero.temperature == 0.0
    assert zero.to_proto().HasField("temperature")
    assert not absent.to_proto().HasField("temperature")


def test_absent_message_fields_are_none_and_stay_absent() -> None:
    task = aworld_client.Task.from_proto(task_pb2.Task(id="t"))
    assert task.input is None and task.swarm is None and task.deadline is None
    assert not task.to_proto().HasField("input")


def test_oneof_body_is_one_typed_attribute() -> None:
    event = aworld_client.Event(
        task_id="t", seq=3, body=aworld_client.ToolCallStarted(call_id="c", tool_name="add")
    )
    pb = event.to_proto()
    assert pb.WhichOneof("body") == "tool_call_started"
    back = aworld_client.Event.from_proto(pb)
    assert isinstance(back.body, aworld_client.ToolCallStarted)
    assert back == event


def test_oneof_rejects_a_value_of_the_wrong_type() -> None:
    event = aworld_client.Event(task_id="t", body=aworld_client.Usage())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a member of oneof"):
        event.to_proto()


def test_payload_keeps_json_values_exact() -> None:
    big = 2**63 - 1
    payload = aworld_client.Payload.of({"n": big, "s": "héllo", "l": [1, None, True]})
    back = aworld_client.Payload.from_bytes(payload.to_bytes())
    assert back.value() == {"n": big, "s": "héllo", "l": [1, None, True]}
    assert aworld_client.Payload.from_text("hi").value() == "hi"
    assert aworld_client.Payload.from_bytes_value(b"\x00\x01").value() == b"\x00\x01"
    with pytest.raises(ValueError):
        aworld_client.Payload(json="1", text="x")


def test_task_status_maps_to_aworld_strings() -> None:
    statuses = aworld_client.TaskStatus
    assert statuses.SUCCEEDED.aworld_name == "success"
    assert statuses.TIMED_OUT.aworld_name == "timeout"
    assert statuses.from_aworld_name("interrupted") is statuses.INTERRUPTED
    with pytest.raises(ValueError):
        statuses.from_aworld_name("done")
