"""One task's view of the event log, with the durability rule in one named place.

The rule: **a side effect starts only once everything it depends on is on disk**. Events are
mostly written without waiting (group commit batches them); the few places that start
something outside the process — a tool attempt, a worker call, an answer a client sees —
call :meth:`TaskLog.barrier` first (or emit with ``sync``). So a crash can lose only events
no side effect acted on, and a replay never repeats an effect it has no record of.
"""

from __future__ import annotations

from collections.abc import Sequence

from aworld_client import Event, EventBody, Message, TaskResponse, TaskStatus, TaskStatusChanged

from aworld_server.events import EventManager

__all__ = ["TaskLog"]


class TaskLog:
    """Emits one task's events; ``barrier()`` waits until all of them are on disk."""

    __slots__ = ("_events", "task_id")

    def __init__(self, events: EventManager, task_id: str) -> None:
        self._events = events
        self.task_id = task_id

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

    async def set_status(self, status: TaskStatus, reason: str = "") -> None:
        """Record a non-terminal status change (INPUT_REQUIRED, back to RUNNING)."""
        response = TaskResponse(id=self.task_id, status=status, status_reason=reason)
        await self.emit(TaskStatusChanged(status=status, reason=reason, response=response))

    def mute(self) -> None:
        """Stop writing: a resumed run replays what the log already holds."""
        self._events.mute(self.task_id)

    def unmute(self) -> None:
        self._events.unmute(self.task_id)
