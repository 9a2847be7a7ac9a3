"""Tasks from files and flags.

A task file is the protobuf JSON mapping of ``aworld.runtime.v1.Task`` (``google.protobuf.
json_format``; camelCase or proto field names), as JSON or YAML. One shorthand keeps files
writable by hand: a ``Payload`` field (``input``, a model's ``options``, ...) may be given as a
plain value — a string becomes a text payload, anything else a JSON payload — instead of the
``{"json": "<encoded JSON>"}`` the strict mapping wants::

    {"input": "What is 17 + 25?",
     "swarm": {"agents": [{"name": "solver", "toolNames": ["add"],
                           "model": {"provider": "scripted",
                                     "options": {"script": [...]}}}]}}
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from aworld_client import AgentSpec, ModelConfig, Payload, Swarm, Task
from aworld_client._proto.aworld.runtime.v1 import common_pb2, task_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from aworld_server.cli._common import fail

__all__ = ["load_data", "load_task", "quick_task"]

_PAYLOAD = common_pb2.Payload.DESCRIPTOR.full_name
_PAYLOAD_KEYS = {"json", "text", "data", "mediaType", "media_type"}


def load_data(path: Path, what: str) -> Any:
    """Parse a JSON or YAML file (by extension; JSON first when unsure)."""
    if not path.is_file():
        fail(
            f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {what} {path}: {error}")
    if path.suffix.lower() in (".yaml", ".yml"):
        return _yaml(text, path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if path.suffix.lower() == ".json":
            fail(
                f"{what} {path} is not valid JSON: {error.msg} (line {error.lineno}, "
                f"column {error.colno})"
            )
        return _yaml(text, path, what)


def _yaml(text: str, path: Path, what: str) -> Any:
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        fail(f"{what} {path} looks like YAML; install PyYAML (pip install pyyaml) to read it")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        fail(f"{what} {path} is not valid YAML: {' '.join(str(error).split())}")


def load_task(path: Path) -> Task:
    """A Task from a JSON or YAML file (see the module docstring for the format)."""
    data = load_data(path, "task file")
    if not isinstance(data, dict):
        fail(f"task file {path} must hold an object (a Task), not {type(data).__name__}")
    message = task_pb2.Task()
    try:
        json_format.ParseDict(_expand_payloads(data, task_pb2.Task.DESCRIPTOR), message)
    except json_format.ParseError as error:
        fail(f"task file {path} is not a valid Task: {' '.join(str(error).split())}")
    return Task.from_proto(message)


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


def quick_task(
    *,
    input: str,
    script: Path | None,
    model: str,
    tools: list[str],
    agent: str,
    system_prompt: str,
) -> Task:
    """A one-agent task from ``aworld run`` flags: a scripted model (``--script``, a JSON or YAML
    list of steps) or an OpenAI-compatible one (``--model``)."""
    if script is not None and model:
        fail("give either --script (a scripted model) or --model (an OpenAI-compatible one)")
    if script is not None:
        steps = load_data(script, "script file")
        if isinstance(steps, dict) and "script" in steps:
            steps = steps["script"]
        if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
            fail(
                f"script file {script} must hold a non-empty list of steps like "
                '{"content": "..."} or {"tool_calls": [{"name": ..., "arguments": {...}}]}'
            )
        config = ModelConfig(provider="scripted", options=Payload.of({"script": steps}))
    elif model:
        config = ModelConfig(provider="openai", model=model)
    else:
        fail(
            "--input needs a model: --script FILE (scripted) or --model NAME "
            "(OpenAI-compatible, key from OPENAI_API_KEY on the server)"
        )
    spec = AgentSpec(name=agent, system_prompt=system_prompt, model=config, tool_names=tools)
    return Task(input=Payload.from_text(input), swarm=Swarm(agents=[spec]))
