"""One task's view of the event log, with the durability rule in one named place.

The rule: **a side effect starts only once everything it depends on is on disk**. Events are
mostly written without waiting (group commit batches them); the few places that start
something outside the process — a tool attempt, a worker call, an answer a client sees —
call :meth:`TaskLog.barrier` first (or emit with ``sync``). So a crash can lose only events
no side effect acted on, and a replay never repeats an effect it has no record of.

Runner lifecycle phase boundaries are not events of their own: :meth:`TaskLog.phase` notes one
(with its time) and the task's next status change carries it (``TaskStatusChanged.phases``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from aworld_client import (
    Event,
    EventBody,
    LifecyclePhase,
    Message,
    Phase,
    RunNode,
    TaskResponse,
    TaskStatus,
    TaskStatusChanged,
)

from aworld_server.events import EventManager

__all__ = ["TaskLog"]


class TaskLog:
    """Emits one task's events; ``barrier()`` waits until all of them are on disk."""

    __slots__ = ("_events", "_muted", "_phases", "task_id")

    def __init__(self, events: EventManager, task_id: str) -> None:
        self._events = events
        self.task_id = task_id
        self._phases: list[LifecyclePhase] = []  # noted, not recorded yet
        self._muted = False

    def emit_nowait(self, body: EventBody) -> Event:
        """Queue an event; it is on disk by the next barrier (or the run's end)."""
        return self._events.emit_nowait(self.task_id, body)

    async def emit(self, body: EventBody, *, sync: bool = False) -> Event:
        """Write an event and wait until it is committed (``sync``: flushed to disk)."""
        return await self._events.emit(self.task_id, body, sync=sync)

    async def emit_many(self, bodies: Sequence[EventBody]) -> None:
        await self._events.emit_many(self.task_id, bodies)

    async def emit_message(
        self, message: Message, *, durable: bool = True, publish: bool = True
    ) -> None:
        await self._events.emit_message(message, durable=durable, publish=publish)

    async def barrier(self) -> None:
        """Return once every event emitted so far is on disk: call before a side effect."""
        await self._events.flush(self.task_id)

    async def set_status(
        self, status: TaskStatus, reason: str = "", *, root_node: RunNode | None = None
    ) -> None:
        """Record a non-terminal status change (RUNNING, INPUT_REQUIRED, back to RUNNING),
        with the phase boundaries noted since the last one (and the root node, if it changed
        with it)."""
        response = TaskResponse(id=self.task_id, status=status, status_reason=reason)
        await self.emit(self.status_change(status, reason, response, root_node=root_node))

    def status_change(
        self,
        status: TaskStatus,
        reason: str,
        response: TaskResponse,
        *,
        root_node: RunNode | None = None,
    ) -> TaskStatusChanged:
        """A status change carrying the phase boundaries noted since the last one."""
        phases, self._phases = self._phases, []
        return TaskStatusChanged(
            status=status, reason=reason, response=response, root_node=root_node, phases=phases
        )

    def phase(self, phase: Phase, *, ended: bool, runner: str, engine: str) -> None:
        """Note a runner lifecycle phase boundary, now; the next status change records it.
        Nothing while replaying (the log has the first run's)."""
        if not self._muted:
            now = datetime.now(UTC)
            boundary = LifecyclePhase(
                phase=phase, ended=ended, runner=runner, engine=engine, time=now
            )
            self._phases.append(boundary)

    def mute(self) -> None:
        """Stop writing: a resumed run replays what the log already holds."""
        self._muted = True
        self._events.mute(self.task_id)

    def unmute(self) -> None:
        self._muted = False
        self._events.unmute(self.task_id)
