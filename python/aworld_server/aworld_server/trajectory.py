"""Trajectories as a view of the event log, in AWorld's state-action-reward shape.

One item per agent step: the AGENT message addressed to the agent is the state (its input, and
the conversation the agent's model saw: system prompt, inputs, tool results and its earlier
decisions, in the OpenAI chat shape), the agent's run node result (its decision) is the action,
and the final outcomes of the tool calls it made are the reward. Event-driven and call-driven
runs record the same messages, so they yield the same shape. (Conversation changes made by
hooks — ``updated_input`` at ``before_llm_call``, system messages — are not part of it.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from aworld_client import (
    Event,
    Message,
    MessageCategory,
    MessageEmitted,
    Payload,
    RunNodeChanged,
    RunNodeKind,
    Task,
    TaskSubmitted,
    ToolCall,
    ToolCallFinished,
    ToolCallStarted,
    TrajectoryAction,
    TrajectoryItem,
    TrajectoryMeta,
    TrajectoryReward,
    TrajectoryState,
)

from aworld_server.agents.topology import ToolResult
from aworld_server.events.messages import task_message

__all__ = ["REWARD_TOPIC", "build_trajectory", "iter_jsonl", "reward_message", "write_jsonl"]

REWARD_TOPIC = "__reward"  # a CONTEXT message: a reward hook's score of one step


def reward_message(task: Task, step: int, score: float) -> Message:
    """The record of a step's score (folded into its TrajectoryReward)."""
    payload = {"step": step, "score": score}
    return task_message(
        task.id,
        task.session_id,
        MessageCategory.CONTEXT,
        payload,
        sender="reward",
        topic=REWARD_TOPIC,
    )


def build_trajectory(events: Iterable[Event]) -> list[TrajectoryItem]:
    """Fold a task's events (in seq order) into its trajectory."""
    items: list[TrajectoryItem] = []
    by_node: dict[str, TrajectoryItem] = {}
    call_item: dict[str, TrajectoryItem] = {}
    pending_input: dict[str, Payload | None] = {}
    conversations: dict[str, list[dict[str, Any]]] = {}  # agent -> what its model has seen
    task_name = ""
    previous_agent = ""
    for event in events:
        body = event.body
        if isinstance(body, TaskSubmitted) and body.task is not None:
            task_name = body.task.name
            for spec in body.task.swarm.agents if body.task.swarm else []:
                prompt = [{"role": "system", "content": spec.system_prompt}]
                conversations[spec.name] = prompt if spec.system_prompt else []
        elif isinstance(body, MessageEmitted) and body.message is not None:
            message = body.message
            if message.category == MessageCategory.CONTEXT and message.topic == REWARD_TOPIC:
                scored = message.payload.value() if message.payload else {}
                step = int(scored.get("step", 0))
                reward = items[step - 1].reward if 0 < step <= len(items) else None
                if reward is not None:
                    reward.score = float(scored["score"])
            if message.category == MessageCategory.AGENT:
                pending_input[message.receiver] = message.payload
                seen = conversations.setdefault(message.receiver, [])
                seen.extend(_observation(message.payload))
        elif isinstance(body, RunNodeChanged) and body.node is not None:
            node = body.node
            if node.kind != RunNodeKind.AGENT:
                continue
            item = by_node.get(node.id)
            if item is None:
                item = TrajectoryItem(
                    meta=TrajectoryMeta(
                        session_id=event.session_id,
                        task_id=event.task_id,
                        task_name=task_name,
                        agent_id=node.name,
                        step=len(items) + 1,
                        execute_time=node.started_at,
                        pre_agent=previous_agent,
                    ),
                    state=TrajectoryState(
                        input=pending_input.pop(node.name, None),
                        messages=Payload.of(list(conversations.get(node.name, []))),
                    ),
                    action=TrajectoryAction(),
                    reward=TrajectoryReward(status="success"),
                )
                by_node[node.id] = item
                items.append(item)
                previous_agent = node.name
            if node.status.is_terminal:
                _set_action(item, node.result, failed=node.failure is not None)
                if item.action is not None and node.failure is None:
                    conversations.setdefault(node.name, []).append(_assistant(item.action))
        elif isinstance(body, ToolCallStarted):
            parent = _agent_item_for_tool(body, by_node)
            if parent is not None:
                call_item[body.call_id] = parent
        elif isinstance(body, ToolCallFinished) and not body.will_retry:
            item = call_item.pop(body.call_id, None)
            if item is not None and item.reward is not None:
                if body.failure is not None:
                    error = {"error": {"type": body.failure.type, "message": body.failure.message}}
                    item.reward.tool_outputs.append(Payload.of(error))
                    item.reward.status = "failed"
                else:
                    item.reward.tool_outputs.append(body.result or Payload.of(None))
    return items


def _observation(payload: Payload | None) -> list[dict[str, Any]]:
    """The chat messages an AGENT message puts in front of its agent (see runners.messages)."""
    data = payload.value() if payload is not None else None
    if not isinstance(data, dict):
        return []
    if "tool_results" in data:
        results = [ToolResult.from_json(r) for r in data["tool_results"]]
        return [
            {"role": "tool", "tool_call_id": r.call_id, "name": r.name, "content": r.as_text()}
            for r in results
        ]
    return [{"role": "user", "content": str(data.get("input", ""))}]


def _assistant(action: TrajectoryAction) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": action.content}
    if action.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {
                    "name": c.name,
                    "arguments": json.dumps(c.arguments.value() if c.arguments else {}),
                },
            }
            for c in action.tool_calls
        ]
    return message


def _agent_item_for_tool(
    started: ToolCallStarted, by_node: dict[str, TrajectoryItem]
) -> TrajectoryItem | None:
    # Tool nodes are children of the agent node of the step that called them; the started event
    # names the tool node, and the last agent item of the caller is the step that called it.
    for item in reversed(list(by_node.values())):
        if item.meta is not None and item.meta.agent_id == started.caller:
            return item
    return None


def _set_action(item: TrajectoryItem, result: Payload | None, *, failed: bool) -> None:
    decision: dict[str, Any] = result.value() if result is not None else {}
    if not isinstance(decision, dict):
        decision = {}
    calls = [
        ToolCall(
            id=c.get("id", ""), name=c.get("name", ""), arguments=Payload.of(c.get("arguments", {}))
        )
        for c in decision.get("tool_calls", [])
    ]
    item.action = TrajectoryAction(
        content=str(decision.get("content", "")), tool_calls=calls, is_agent_finished=not calls
    )
    if failed and item.reward is not None:
        item.reward.status = "failed"


def _jsonable(item: TrajectoryItem) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    data: dict[str, Any] = MessageToDict(item.to_proto(), preserving_proto_field_name=True)
    return data


def iter_jsonl(items: Iterable[TrajectoryItem]) -> Iterator[str]:
    """One JSON object per line (protobuf JSON mapping, proto field names)."""
    for item in items:
        yield json.dumps(_jsonable(item), ensure_ascii=False)


def write_jsonl(items: Iterable[TrajectoryItem], out: TextIO) -> int:
    """Write the trajectory as JSONL; return the number of lines."""
    count = 0
    for line in iter_jsonl(items):
        out.write(line + "\n")
        count += 1
    return count
