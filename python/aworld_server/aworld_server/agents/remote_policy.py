"""``RemotePolicy``: an agent whose policy is a remote AGENT handler (``AgentSpec.remote_handler``)
served by a worker in any language, taking its steps in a swarm like a model-backed agent.

The handler gets ``{"agent", "step", "observation", "messages", "tools"}`` — the conversation
in the OpenAI chat shape, with the system prompt first, and the function declarations it may
call — and answers with its decision: a string (a final answer) or
``{"content": str, "tool_calls": [{"name", "arguments", "id"?}], "usage": {...}?}``. Its
failures are handler failures: retried by the task's retry policy like a model's, and never
shown to another agent as if it had answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aworld_client import Failure, Usage

from aworld_server.agents.model import ChunkSink, ModelResponse, ToolCallRequest
from aworld_server.errors import HandlerFailed

__all__ = ["RemotePolicy", "decision_of"]

Invoke = Callable[[dict[str, Any]], Awaitable[Any]]


class RemotePolicy:
    """A Model whose answers come from the remote AGENT handler ``handler``."""

    def __init__(self, agent: str, handler: str, invoke: Invoke) -> None:
        self.agent = agent
        self.handler = handler
        self._invoke = invoke

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        on_chunk: ChunkSink | None = None,
    ) -> ModelResponse:
        step = 1 + sum(1 for m in messages if m.get("role") == "assistant")
        observation = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") != "system"),
            "",
        )
        answer = await self._invoke(
            {
                "agent": self.agent,
                "step": step,
                "observation": observation,
                "messages": list(messages),
                "tools": list(tools),
            }
        )
        return decision_of(answer, self.handler)


def decision_of(answer: Any, handler: str) -> ModelResponse:
    """A remote policy's answer as a model response; a malformed one is a non-retryable
    failure of the handler (the worker answered, wrongly)."""
    if isinstance(answer, str):
        return ModelResponse(content=answer, usage=Usage(llm_calls=1), model=handler)
    if not isinstance(answer, dict):
        raise _malformed(handler, f"answered {type(answer).__name__}, not a string or object")
    calls = answer.get("tool_calls") or []
    if not isinstance(calls, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls
    ):
        raise _malformed(handler, "tool_calls must be a list of {name, arguments} objects")
    usage = answer.get("usage") or {}
    if not isinstance(usage, dict):
        raise _malformed(handler, "usage must be an object")
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return ModelResponse(
        content=str(answer.get("content") or ""),
        tool_calls=[
            ToolCallRequest(name=c["name"], arguments=dict(c.get("arguments") or {}), id=c["id"])
            if c.get("id")
            else ToolCallRequest(name=c["name"], arguments=dict(c.get("arguments") or {}))
            for c in calls
        ],
        usage=Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            llm_calls=1,
        ),
        model=handler,
    )


def _malformed(handler: str, what: str) -> HandlerFailed:
    return HandlerFailed(
        Failure(
            type="MalformedAgentDecision",
            message=f"remote agent {handler} {what}",
            non_retryable=True,
            source=handler,
        )
    )
