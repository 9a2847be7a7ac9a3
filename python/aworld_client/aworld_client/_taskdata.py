"""Tasks from plain data: the task-file format shared by ``Task.from_dict`` and the CLI.

A task is the protobuf JSON mapping of ``aworld.runtime.v1.Task`` (camelCase or proto field
names). One shorthand keeps it writable by hand: a ``Payload`` field (``input``, a model's
``options``, ...) may be a plain value — a string becomes a text payload, anything else a JSON
payload — instead of the ``{"json": "<encoded JSON>"}`` the strict mapping wants::

    {"input": "What is 17 + 25?",
     "swarm": {"agents": [{"name": "solver", "toolNames": ["add"],
                           "model": {"provider": "scripted",
                                     "options": {"script": [...]}}}]}}
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from aworld_client._proto.aworld.runtime.v1 import common_pb2, task_pb2

__all__ = ["parse_yaml", "task_proto_from_dict"]

_PAYLOAD = common_pb2.Payload.DESCRIPTOR.full_name
_PAYLOAD_KEYS = {"json", "text", "data", "mediaType", "media_type"}


def task_proto_from_dict(data: Mapping[str, Any]) -> task_pb2.Task:
    """The Task message for ``data``; ValueError says which field is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a task must be an object, not {type(data).__name__}")
    message = task_pb2.Task()
    try:
        json_format.ParseDict(_expand_payloads(dict(data), task_pb2.Task.DESCRIPTOR), message)
    except json_format.ParseError as error:
        raise ValueError(f"not a valid Task: {' '.join(str(error).split())}") from None
    return message


def parse_yaml(text: str) -> Any:
    """Parse YAML with PyYAML (``pip install 'aworld-client[yaml]'``); ValueError when invalid."""
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        raise ImportError(
            "reading YAML needs PyYAML: pip install 'aworld-client[yaml]' (or pyyaml)"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"not valid YAML: {' '.join(str(error).split())}") from None


def _expand_payloads(data: Any, descriptor: Any) -> Any:
    """Rewrite plain values in Payload fields as Payload objects, recursively.

    ``descriptor`` is typed loosely: upb and pure-Python descriptors are different classes.
    """
    if not isinstance(data, dict):
        return data
    fields = {**{f.json_name: f for f in descriptor.fields}, **descriptor.fields_by_name}
    out: dict[str, Any] = {}
    for key, value in data.items():
        field = fields.get(key)
        if field is None or field.type != FieldDescriptor.TYPE_MESSAGE:
            out[key] = value
            continue
        message_type = field.message_type
        if message_type.GetOptions().map_entry:
            value_field = message_type.fields_by_name["value"]
            if value_field.type == FieldDescriptor.TYPE_MESSAGE and isinstance(value, dict):
                value = {k: _expand_one(v, value_field.message_type) for k, v in value.items()}
            out[key] = value
        elif field.is_repeated and isinstance(value, list):
            out[key] = [_expand_one(v, message_type) for v in value]
        else:
            out[key] = _expand_one(value, message_type)
    return out


def _expand_one(value: Any, descriptor: Any) -> Any:
    if descriptor.full_name != _PAYLOAD:
        return _expand_payloads(value, descriptor)
    is_payload = (
        isinstance(value, dict)
        and value.keys() <= _PAYLOAD_KEYS
        and len(value.keys() & {"json", "text", "data"}) == 1
    )
    if is_payload or value is None:
        return value
    if isinstance(value, str):
        return {"text": value}
    return {"json": json.dumps(value, ensure_ascii=False)}
