"""Tasks from files and flags.

A task file is the task-file format of ``Task.from_dict`` (the protobuf JSON mapping of
``aworld.runtime.v1.Task``, where a ``Payload`` field may be a plain value), as JSON or YAML.
This module only reads files and turns errors into CLI messages; the format lives in the SDK.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aworld_client import AgentSpec, ModelConfig, Payload, Swarm, Task
from aworld_client._taskdata import parse_yaml

from aworld_server.cli._common import fail

__all__ = ["load_data", "load_task", "quick_task"]


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
        return parse_yaml(text)
    except ImportError:
        fail(f"{what} {path} looks like YAML; install PyYAML (pip install pyyaml) to read it")
    except ValueError as error:
        fail(f"{what} {path} is {error}")


def load_task(path: Path) -> Task:
    """A Task from a JSON or YAML file (see ``Task.from_dict`` for the format)."""
    data = load_data(path, "task file")
    if not isinstance(data, dict):
        fail(f"task file {path} must hold an object (a Task), not {type(data).__name__}")
    try:
        return Task.from_dict(data)
    except ValueError as error:
        fail(f"task file {path} is {error}")


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
