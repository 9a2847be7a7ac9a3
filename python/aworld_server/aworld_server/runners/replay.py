"""Resuming a task from its event log (durable execution, as Temporal replays workflows).

A runner is deterministic given the outcomes of what it cannot decide itself: model calls,
tool calls and callbacks. Those outcomes are all in the log — an agent step's decision is the
result of its AGENT run node, a tool call's output the result of its TOOL node, a callback's
answer an InputProvided event. To resume, the runner simply runs again from the start with a
:class:`Replay` of the log: every step with a recorded outcome returns it without calling the
model or the tool, firing hooks or writing events, until the first step that has none. From
there on the run is live again, continuing the log's seqs.

This is what lets a restarted server resume RUNNING tasks without re-running finished tool
calls, and what lets a task waiting on a callback be dropped from memory entirely (parked) and
rebuilt when the answer arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aworld_client import (
    Event,
    Failure,
    InputProvided,
    InputRequested,
    LlmCallFinished,
    MessageCategory,
    MessageEmitted,
    RunNode,
    RunNodeKind,
    Task,
    TaskSubmitted,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)

__all__ = ["ContextSnapshot", "Replay", "RecordedCall"]

CONTEXT_TOPIC = "__context_snapshot"


@dataclass(slots=True)
class RecordedCall:
    """What the log knows about one tool call."""

    node: RunNode  # the TOOL node as last recorded (RUNNING if the call never finished)
    attempts: int = 0  # the highest attempt recorded as started (0: never sent)
    in_flight: bool = False  # that attempt was sent and no outcome of it was recorded
    failed: int = 0  # attempts recorded as failed: the retry budget they used up
    callback: InputRequested | None = None
    arguments: Any = None  # as last sent (after hooks), None if never sent


@dataclass(slots=True)
class ContextSnapshot:
    """Task- and session-level key-values as of the last snapshot in the log."""

    values: dict[str, Any] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)


class Replay:
    """The recorded outcomes of one task's log, consumed in order by a re-running runner."""

    def __init__(self, events: Iterable[Event]) -> None:
        self.task: Task | None = None
        self.root: RunNode | None = None
        self.last_seq = 0
        self._steps: list[tuple[RunNode, Usage]] = []
        self._usage_by_agent: dict[str, list[Usage]] = {}
        self.calls: dict[str, RecordedCall] = {}
        self.answers: dict[str, tuple[Any, Failure | None]] = {}
        self.snapshot: ContextSnapshot | None = None
        # Callbacks of agent steps (a human deciding on a model call), by agent node id, for
        # steps that have not finished.
        self._step_callbacks: dict[str, InputRequested] = {}
        self._next_step = 0
        # Tool nodes are named by their call id (see TaskExecution.tool_node_id), which links a
        # call's node, attempts and callback without any other index.
        node_of_call: dict[str, str] = {}  # call id -> its TOOL node id
        for event in events:
            self.last_seq = event.seq
            body = event.body
            # A node change may ride on the event of the same moment (Event.run_node): the
            # root with a status, a TOOL node with its call's start or end.
            node = event.run_node
            if node is not None:
                self._node_changed(node, event)
            if isinstance(body, TaskSubmitted):
                self.task = body.task
            elif isinstance(body, LlmCallFinished) and body.failure is None:
                # A log written before model calls rode on their step's node.
                self._usage_by_agent.setdefault(body.agent, []).append(body.usage or Usage())
            elif isinstance(body, ToolCallStarted) and body.node_id in self.calls:
                recorded = self.calls[body.node_id]
                recorded.attempts = max(recorded.attempts, body.attempt)
                recorded.in_flight = True
                if body.arguments is not None:
                    recorded.arguments = body.arguments.value()
                node_of_call[body.call_id] = body.node_id
            elif isinstance(body, ToolCallFinished) and body.call_id in node_of_call:
                recorded = self.calls[node_of_call[body.call_id]]
                if body.attempt >= recorded.attempts:
                    recorded.in_flight = False
                if body.failure is not None:
                    recorded.failed += 1
            elif isinstance(body, InputRequested) and body.node_id in self.calls:
                self.calls[body.node_id].callback = body
            elif isinstance(body, InputRequested):
                self._step_callbacks[body.node_id] = body
            elif isinstance(body, InputProvided):
                self.answers[body.callback_id] = (
                    body.value.value() if body.value is not None else None,
                    body.failure,
                )
            elif isinstance(body, MessageEmitted) and body.message is not None:
                message = body.message
                if message.category == MessageCategory.CONTEXT and message.topic == CONTEXT_TOPIC:
                    data = message.payload.value() if message.payload else {}
                    self.snapshot = ContextSnapshot(data.get("values", {}), data.get("session", {}))

    def _node_changed(self, node: RunNode, event: Event) -> None:
        if node.kind == RunNodeKind.TASK and self.root is None:
            self.root = node
        elif node.kind == RunNodeKind.AGENT and node.status.is_terminal:
            self._step_callbacks.pop(node.id, None)
            if node.failure is None:
                call = event.llm_call  # the model call that decided the step, if it rode along
                if call is not None:
                    usage = call.usage or Usage()
                else:
                    usages = self._usage_by_agent.get(node.name, [])
                    usage = usages.pop(0) if usages else Usage()
                self._steps.append((node, usage))
        elif node.kind == RunNodeKind.TOOL:
            recorded = self.calls.get(node.id)
            if recorded is None:
                self.calls[node.id] = RecordedCall(node)
            else:
                recorded.node = node

    # -- agent steps ----------------------------------------------------------------------
    def next_step(self, agent: str) -> tuple[dict[str, Any], Usage] | None:
        """The recorded decision and usage of the next agent step, or None when live."""
        if self._next_step >= len(self._steps):
            return None
        node, usage = self._steps[self._next_step]
        if node.name != agent:
            raise RuntimeError(
                f"replay diverged: step {self._next_step + 1} was {node.name}, now {agent}"
            )
        self._next_step += 1
        decision = node.result.value() if node.result is not None else {}
        return (decision if isinstance(decision, dict) else {}), usage

    @property
    def steps_left(self) -> int:
        return len(self._steps) - self._next_step

    # -- tool calls ---------------------------------------------------------------------
    def finished_call(self, node_id: str) -> RunNode | None:
        """The terminal TOOL node of a call that finished before, or None."""
        recorded = self.calls.get(node_id)
        if recorded is None or not recorded.node.status.is_terminal:
            return None
        return recorded.node

    def open_call(self, node_id: str) -> RecordedCall | None:
        """A call that started but never finished (it was waiting, or the process died)."""
        recorded = self.calls.get(node_id)
        if recorded is None or recorded.node.status.is_terminal:
            return None
        return recorded

    def pending_callbacks(self) -> list[InputRequested]:
        """Callbacks requested by open calls and unfinished steps, and not answered yet."""
        of_calls = [
            c.callback
            for c in self.calls.values()
            if c.callback is not None and not c.node.status.is_terminal
        ]
        return [
            c
            for c in [*of_calls, *self._step_callbacks.values()]
            if c.callback_id not in self.answers
        ]
