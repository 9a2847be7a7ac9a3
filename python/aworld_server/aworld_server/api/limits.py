"""Shape checks every request passes before a servicer sees it: one walk over the message,
linear in its size, that turns hostile-but-decodable input into INVALID_ARGUMENT with field
violations instead of an exception deep in the runtime.

What it checks, for any message type (so new RPCs are covered without a line here):

* ``google.protobuf.Timestamp``: years 0001-9999 and nanos in [0, 1e9), as the type defines;
* ``google.protobuf.Duration``: at most 10,000 years either way, nanos in (-1e9, 1e9) with
  the sign of the seconds;
* 64-bit integers: within +-2**53, the integers every SDK language (JavaScript's double
  included) represents exactly;
* doubles: finite;
* enums: a value this server knows (a newer client's value is refused, not guessed at);
* ``aworld.runtime.v1.Payload`` JSON: valid UTF-8 JSON nested at most ``max_json_depth``;
* repeated fields and maps: at most ``max_repeated`` entries.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from aworld_client import Task
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from aworld_server.config import Limits
from aworld_server.errors import FieldViolation, InvalidArgument

__all__ = ["check_request", "check_task", "json_depth"]

_MIN_TIMESTAMP = -62_135_596_800  # 0001-01-01T00:00:00Z
_MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z
_MAX_DURATION = 315_576_000_000  # 10,000 years
_MAX_SAFE_INT = 2**53
_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_DOUBLE = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}
_NANOS = 1_000_000_000


def check_request(message: Message, limits: Limits) -> None:
    """Raise InvalidArgument listing every field of ``message`` out of range."""
    problems: list[FieldViolation] = []
    _walk(message, "", limits, problems)
    if problems:
        raise InvalidArgument("invalid request", problems[:100])


def check_task(task: Task, limits: Limits) -> None:
    """The server's ceilings on one task: agents per swarm and steps."""
    problems: list[FieldViolation] = []
    agents = len(task.swarm.agents) if task.swarm else 0
    if agents > limits.max_agents:
        problems.append(
            FieldViolation("task.swarm.agents", f"more than {limits.max_agents} agents")
        )
    steps = task.conf.budgets.max_steps if task.conf and task.conf.budgets else 0
    if steps > limits.max_steps:
        problems.append(
            FieldViolation(
                "task.conf.budgets.max_steps", f"above this server's ceiling of {limits.max_steps}"
            )
        )
    if problems:
        raise InvalidArgument("the task exceeds this server's limits", problems)


def json_depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0), without recursion."""
    if not isinstance(value, dict | list):
        return 0
    depth, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        depth = max(depth, level)
        stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return depth


def _walk(message: Message, path: str, limits: Limits, problems: list[FieldViolation]) -> None:
    special = _special(message.DESCRIPTOR)
    if special:
        if special == _TIMESTAMP:
            _timestamp(message, path, problems)
        elif special == _DURATION:
            _duration(message, path, problems)
        elif message.WhichOneof("kind") == "json":
            _payload_json(message.json, path, limits, problems)  # type: ignore[attr-defined]
        return
    for field, value in message.ListFields():
        repeated, map_value, kind = _field_plan(field)
        if not repeated:
            if kind != _SKIP:
                where = f"{path}.{field.name}" if path else field.name
                _scalar_or_message(field, kind, value, where, limits, problems)
            continue
        where = f"{path}.{field.name}" if path else field.name
        if len(value) > limits.max_repeated:
            problems.append(FieldViolation(where, f"more than {limits.max_repeated} items"))
        elif map_value is not None:
            value_kind = _kind(map_value)
            if value_kind != _SKIP:
                for key in value:
                    _scalar_or_message(
                        map_value, value_kind, value[key], f"{where}[{key}]", limits, problems
                    )
        elif kind != _SKIP:
            for i, item in enumerate(value):
                _scalar_or_message(field, kind, item, f"{where}[{i}]", limits, problems)


_TIMESTAMP, _DURATION, _PAYLOAD = 1, 2, 3
_SPECIAL = {
    "google.protobuf.Timestamp": _TIMESTAMP,
    "google.protobuf.Duration": _DURATION,
    "aworld.runtime.v1.Payload": _PAYLOAD,
}


@functools.cache
def _special(descriptor: Descriptor) -> int:
    """Message types checked as a whole rather than field by field; 0 for the others."""
    return _SPECIAL.get(descriptor.full_name, 0)


# What a field's values are checked as; computed once per field (a hot path: every request).
_SKIP, _MESSAGE, _INT64_KIND, _DOUBLE_KIND, _ENUM = range(5)


@functools.cache
def _kind(field: FieldDescriptor) -> int:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _MESSAGE
    if field.type in _INT64:
        return _INT64_KIND
    if field.type in _DOUBLE:
        return _DOUBLE_KIND
    if field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        return _ENUM
    return _SKIP  # strings, bytes, bools, 32-bit integers: any value is in range


@functools.cache
def _field_plan(field: FieldDescriptor) -> tuple[bool, FieldDescriptor | None, int]:
    """(repeated, the value field when it is a map, the kind of its values)."""
    entry = field.message_type
    if field.is_repeated and entry is not None and entry.GetOptions().map_entry:
        return True, entry.fields_by_name["value"], _kind(field)
    return field.is_repeated, None, _kind(field)


def _scalar_or_message(
    field: FieldDescriptor,
    kind: int,
    value: Any,
    where: str,
    limits: Limits,
    problems: list[FieldViolation],
) -> None:
    if kind == _MESSAGE:
        _walk(value, where, limits, problems)
    elif kind == _INT64_KIND and not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        problems.append(FieldViolation(where, "must be within +-2**53"))
    elif kind == _DOUBLE_KIND and not math.isfinite(value):
        problems.append(FieldViolation(where, "must be a finite number"))
    elif kind == _ENUM:
        enum = field.enum_type
        if enum is not None and value not in enum.values_by_number:
            problems.append(FieldViolation(where, f"unknown {enum.name} value {value}"))


def _timestamp(message: Any, path: str, problems: list[FieldViolation]) -> None:
    if not _MIN_TIMESTAMP <= message.seconds <= _MAX_TIMESTAMP:
        problems.append(FieldViolation(path, "must be between years 0001 and 9999"))
    if not 0 <= message.nanos < _NANOS:
        problems.append(FieldViolation(f"{path}.nanos", "must be in [0, 999999999]"))


def _duration(message: Any, path: str, problems: list[FieldViolation]) -> None:
    seconds, nanos = message.seconds, message.nanos
    if not -_MAX_DURATION <= seconds <= _MAX_DURATION:
        problems.append(FieldViolation(path, "must be at most 10,000 years"))
    if not -_NANOS < nanos < _NANOS or (seconds > 0 > nanos) or (seconds < 0 < nanos):
        problems.append(
            FieldViolation(f"{path}.nanos", "must be in (-1e9, 1e9) with the sign of seconds")
        )


def _payload_json(text: str, path: str, limits: Limits, problems: list[FieldViolation]) -> None:
    where = f"{path}.json" if path else "json"
    try:
        value = json.loads(text)
    except RecursionError:
        problems.append(FieldViolation(where, f"nested deeper than {limits.max_json_depth}"))
        return
    except ValueError:
        problems.append(FieldViolation(where, "is not valid JSON"))
        return
    if json_depth(value) > limits.max_json_depth:
        problems.append(FieldViolation(where, f"nested deeper than {limits.max_json_depth}"))
