"""Models behind agent policies: the protocol every model implements, and the deterministic
scripted model used by tests, demos and benchmarks.

Conversations use the OpenAI chat shape (``{"role": ..., "content": ..., "tool_calls": ...}``)
because every OpenAI-compatible endpoint speaks it and it is easy to read in trajectories.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aworld_client import Usage

from aworld_server.ids import new_id

__all__ = ["ChunkSink", "Model", "ModelResponse", "ScriptedModel", "ToolCallRequest"]


@dataclass(slots=True)
class ToolCallRequest:
    """A call the model asked for. ``name`` may name a tool or (for hand-offs) an agent."""

    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=lambda: new_id()[:16])


@dataclass(slots=True)
class ModelResponse:
    """One model answer: text, tool calls, or both."""

    content: str = ""
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""


ChunkSink = Callable[[str], Awaitable[None]]


class Model(Protocol):
    """A chat model. ``tools`` are function declarations ``{"name", "description", "parameters"}``.

    A model that streams calls ``on_chunk`` with each text fragment as it arrives (the runtime
    turns them into CHUNK messages) and still returns the complete response.
    """

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        on_chunk: ChunkSink | None = None,
    ) -> ModelResponse: ...


Script = Sequence[dict[str, Any]] | Callable[[Sequence[dict[str, Any]]], dict[str, Any]]


class ScriptedModel:
    """A deterministic model that plays a script, for tests, demos and benchmarks.

    Each script step is ``{"content": "..."}`` and/or ``{"tool_calls": [{"name", "arguments"}]}``.
    The step played is chosen by how many assistant turns the conversation already has, so one
    instance serves any number of concurrent tasks. ``loop=True`` repeats the script forever
    (a model that never finishes); otherwise the last step repeats. The text
    ``{last_tool_output}`` in content or string arguments is replaced by the latest tool result,
    so data visibly flows through the run. A callable script gets the conversation and returns
    a step.
    """

    def __init__(self, script: Script, *, loop: bool = False, name: str = "scripted") -> None:
        if not callable(script) and not script:
            raise ValueError("a script needs at least one step")
        self.script = script
        self.loop = loop
        self.name = name

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ScriptedModel:
        """Build from ModelConfig.options: ``{"script": [...], "loop": false}``."""
        script = options.get("script")
        if not isinstance(script, list) or not all(isinstance(s, dict) for s in script):
            raise ValueError("scripted model options need a 'script' list of step objects")
        return cls(script, loop=bool(options.get("loop", False)))

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        on_chunk: ChunkSink | None = None,
    ) -> ModelResponse:
        if callable(self.script):
            step = self.script(messages)
        else:
            turn = sum(1 for m in messages if m.get("role") == "assistant")
            index = turn % len(self.script) if self.loop else min(turn, len(self.script) - 1)
            step = self.script[index]
        last_output = _last_tool_output(messages)
        calls = [
            ToolCallRequest(
                name=str(call["name"]),
                arguments=_substitute(call.get("arguments", {}), last_output),
            )
            for call in step.get("tool_calls", [])
        ]
        content = _substitute(step.get("content", ""), last_output)
        return ModelResponse(
            content=str(content),
            tool_calls=calls,
            usage=Usage(
                prompt_tokens=len(messages),
                completion_tokens=1,
                total_tokens=len(messages) + 1,
                llm_calls=1,
            ),
            model=self.name,
        )


def _last_tool_output(messages: Sequence[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "tool":
            return str(message.get("content", ""))
    return ""


def _substitute(value: Any, last_output: str) -> Any:
    if isinstance(value, str):
        if value == "{last_tool_output}":
            try:
                return json.loads(last_output)  # keep numbers numbers when a tool returned one
            except ValueError:
                return last_output
        return value.replace("{last_tool_output}", last_output)
    if isinstance(value, dict):
        return {k: _substitute(v, last_output) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, last_output) for v in value]
    return value
