"""Trajectories as a view of the event log, in AWorld's state-action-reward shape.

One item per agent step: the AGENT message addressed to the agent is the state, the agent's run
node result (its decision) is the action, and the final outcomes of the tool calls it made are
the reward. Event-driven and call-driven runs record the same messages, so they yield the same
shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from aworld_client import (
    Event,
    MessageCategory,
    MessageEmitted,
    Payload,
    RunNodeChanged,
    RunNodeKind,
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

__all__ = ["build_trajectory", "iter_jsonl", "write_jsonl"]


def build_trajectory(events: Iterable[Event]) -> list[TrajectoryItem]:
    """Fold a task's events (in seq order) into its trajectory."""
    items: list[TrajectoryItem] = []
    by_node: dict[str, TrajectoryItem] = {}
    call_item: dict[str, TrajectoryItem] = {}
    pending_input: dict[str, Payload | None] = {}
    task_name = ""
    previous_agent = ""
    for event in events:
        body = event.body
        if isinstance(body, TaskSubmitted) and body.task is not None:
            task_name = body.task.name
        elif isinstance(body, MessageEmitted) and body.message is not None:
            message = body.message
            if message.category == MessageCategory.AGENT:
                pending_input[message.receiver] = message.payload
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
                    state=TrajectoryState(input=pending_input.pop(node.name, None)),
                    action=TrajectoryAction(),
                    reward=TrajectoryReward(status="success"),
                )
                by_node[node.id] = item
                items.append(item)
                previous_agent = node.name
            if node.status.is_terminal:
                _set_action(item, node.result, failed=node.failure is not None)
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
