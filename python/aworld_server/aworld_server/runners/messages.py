"""Actions as messages, and back.

The event-driven runner carries every action on the bus as a message; the call-driven runner
records the same messages without publishing them. Both logs therefore read alike and yield the
same trajectory. Payload shapes (JSON):

* AGENT  (receiver = agent): ``{"input": str}`` or ``{"tool_results": [...]}``, plus
  ``"handoff": {"id", "name", "arguments"}`` when reached by a hand-off;
* TOOL   (sender = agent):   ``{"tool_calls": [{"id", "name", "arguments"}]}``;
* OUTPUT (sender = agent):   ``{"answer": str}``;
* TASK, topic ``__finished``: ``{"answer": str, "agent": str}``.
"""

from __future__ import annotations

from typing import Any

from aworld_client import Message, MessageCategory

from aworld_server.agents.model import ToolCallRequest
from aworld_server.agents.topology import (
    Action,
    Finish,
    RunAgent,
    RunTools,
    ToolResult,
    ToolResults,
    UserInput,
)
from aworld_server.events.messages import task_message

__all__ = ["FINISHED", "action_from_message", "action_message", "finished_message"]

FINISHED = "__finished"


def _call_json(call: ToolCallRequest) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": call.arguments}


def _call_from(data: dict[str, Any]) -> ToolCallRequest:
    return ToolCallRequest(name=data["name"], arguments=data.get("arguments", {}), id=data["id"])


def action_message(task_id: str, session_id: str, action: Action) -> Message:
    """The message that carries ``action``."""
    if isinstance(action, RunAgent):
        observation = action.observation
        if isinstance(observation, UserInput):
            payload: dict[str, Any] = {"input": observation.content}
            sender = observation.sender
        else:
            payload = {"tool_results": [r.to_json() for r in observation.results]}
            sender = "tools"
        if action.handoff is not None:
            payload["handoff"] = _call_json(action.handoff)
        return task_message(
            task_id,
            session_id,
            MessageCategory.AGENT,
            payload,
            sender=sender,
            receiver=action.agent,
        )
    if isinstance(action, RunTools):
        payload = {"tool_calls": [_call_json(c) for c in action.calls]}
        return task_message(task_id, session_id, MessageCategory.TOOL, payload, sender=action.agent)
    return task_message(
        task_id, session_id, MessageCategory.OUTPUT, {"answer": action.answer}, sender=action.agent
    )


def finished_message(task_id: str, session_id: str, finish: Finish) -> Message:
    """The TASK message that ends an event-driven run."""
    payload = {"answer": finish.answer, "agent": finish.agent}
    return task_message(
        task_id, session_id, MessageCategory.TASK, payload, sender=finish.agent, topic=FINISHED
    )


def action_from_message(message: Message) -> Action:
    """The action a message carries (inverse of :func:`action_message`)."""
    data = message.payload.value() if message.payload is not None else {}
    if message.category == MessageCategory.AGENT:
        handoff = _call_from(data["handoff"]) if "handoff" in data else None
        if "tool_results" in data:
            results = [ToolResult.from_json(r) for r in data["tool_results"]]
            return RunAgent(message.receiver, ToolResults(results), handoff=handoff)
        return RunAgent(message.receiver, UserInput(data["input"], message.sender), handoff=handoff)
    if message.category == MessageCategory.TOOL:
        return RunTools(message.sender, [_call_from(c) for c in data["tool_calls"]])
    if message.category in (MessageCategory.OUTPUT, MessageCategory.TASK):
        return Finish(data.get("answer", ""), data.get("agent", message.sender))
    raise ValueError(f"no action in a {message.category.name} message")
