"""``RunState``: what the pieces of one run (agent steps, tool calls, callback waits) share.

Kept apart from the behaviour so each piece depends on this state and on nothing of the others
it does not call, and a newcomer finds every per-run variable in one place.
"""

from __future__ import annotations

from typing import Any

from aworld_client import (
    Failure,
    MessageCategory,
    MessageEmitted,
    RunNode,
    Task,
    TaskConfig,
    Usage,
)
from opentelemetry import trace

from aworld_server.agents.topology import SwarmController
from aworld_server.context import Context
from aworld_server.events.messages import task_message
from aworld_server.hooks import HookRunner
from aworld_server.runners.budget import Limits
from aworld_server.runners.context import RunContext
from aworld_server.runners.replay import CONTEXT_TOPIC, Replay
from aworld_server.runners.task_log import TaskLog

__all__ = ["RunState"]


class RunState:
    """The mutable state of one task run, and the two moves every piece needs: leaving replay
    (:meth:`go_live`) and recording the context a replay cannot rebuild (:meth:`snapshot`)."""

    def __init__(self, ctx: RunContext, task: Task, context: Context) -> None:
        self.ctx = ctx
        self.task = task
        self.context = context
        self.conf = task.conf or TaskConfig()
        self.limits = Limits.of(self.conf.budgets)
        self.log = TaskLog(ctx.events, task.id)
        self.hooks = HookRunner(
            task,
            context,
            invoker=ctx.handlers,
            events=ctx.events,
            global_hooks=ctx.registry.global_hooks,
            session_hooks=ctx.sessions.hooks(task.session_id),
        )
        self.controller = SwarmController(task.swarm) if task.swarm is not None else None
        self.root: RunNode | None = None
        self.current_agent_node: RunNode | None = None
        self.current_step_span: trace.Span = trace.INVALID_SPAN
        self.replay: Replay | None = None
        # Answers to callbacks found in the log on resume, consumed by the waits they answer.
        self.recorded_answers: dict[str, tuple[Any, Failure | None]] = {}
        # Callbacks an earlier run of this task already announced and nobody answered yet.
        self.announced: set[str] = set()
        self.tools_in_flight = 0
        self.last_content = ""
        self.last_tool_output = ""
        self._snapshot_session: dict[str, Any] = {}

    @property
    def task_id(self) -> str:
        return self.task.id

    @property
    def usage(self) -> Usage:
        return self.context.usage

    def go_live(self) -> None:
        """Leave replay: restore the last context snapshot and write events again."""
        replay = self.replay
        if replay is None:
            return
        self.replay = None
        self.recorded_answers = dict(replay.answers)
        self.announced = {c.callback_id for c in replay.pending_callbacks()}
        if replay.snapshot is not None:
            for key, value in replay.snapshot.values.items():
                self.context[key] = value
            self.context.session.update(replay.snapshot.session)
        self.hooks.muted = False
        self.log.unmute()

    def snapshot(self, *, if_changed: bool = False) -> None:
        """Record task and session key-values, which a replay cannot rebuild (tools are not
        re-run), so a resumed run starts from them."""
        values, session = self.context.local_changes, self.context.session
        if not values and not session:
            return
        if if_changed and not self.context.dirty and session == self._snapshot_session:
            return
        self.context.dirty = False
        self._snapshot_session = dict(session)
        message = task_message(
            self.task_id,
            self.task.session_id,
            MessageCategory.CONTEXT,
            {"values": dict(values), "session": session},
            sender="runtime",
            topic=CONTEXT_TOPIC,
        )
        self.log.emit_nowait(MessageEmitted(message=message))
