"""``TaskReader``: every read of tasks, sessions and logs — the API's only way to read.

Reads come from the store (the log and the indexes derived from it), after flushing what the
task's run emitted, so a reader never sees less than the run has done.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from aworld_client import (
    Event,
    NodeGroup,
    RunNode,
    Session,
    Task,
    TaskResponse,
    TaskStatus,
    TaskStatusChanged,
    TaskSubmitted,
    TrajectoryItem,
)
from aworld_client.runtime_service import TaskSummary

from aworld_server.errors import NotFound
from aworld_server.events import EventManager
from aworld_server.state import fold_groups, fold_nodes
from aworld_server.storage import EventStore, Page, TaskQuery, TaskRecord
from aworld_server.trajectory import build_trajectory

__all__ = ["TaskReader", "TaskView", "summary_of"]

# A task's latest response is looked for this many events back from the end of its log.
_TAIL_EVENTS = 32


@dataclass(slots=True)
class TaskView:
    """A task as stored, with its current response."""

    task: Task
    response: TaskResponse
    created_at: datetime
    updated_at: datetime


def summary_of(record: TaskRecord) -> TaskSummary:
    """A task's line in a listing, from its index row."""
    return TaskSummary(
        id=record.task_id,
        name=record.name,
        session_id=record.session_id,
        user_id=record.user_id,
        status=record.status,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


class TaskReader:
    """Reads tasks, their logs and sessions."""

    def __init__(self, store: EventStore, events: EventManager) -> None:
        self._store = store
        self._events = events

    async def record(self, task_id: str) -> TaskRecord | None:
        """The task's index row (status, namespace, session, last seq), or None."""
        return await self._store.get_task(task_id)

    async def _existing(self, task_id: str) -> TaskRecord:
        record = await self._store.get_task(task_id)
        if record is None:
            raise NotFound(f"task {task_id}")
        return record

    async def find_by_request(self, request_id: str) -> TaskRecord | None:
        """The task first submitted with this request id, or None."""
        return await self._store.find_task_by_request_id(request_id)

    async def list_tasks(self, query: TaskQuery) -> Page[TaskRecord]:
        return await self._store.list_tasks(query)

    async def submitted(self, task_id: str) -> Task | None:
        """The task as submitted (the first event of its log), or None."""
        first = await self._store.read(task_id, limit=1)
        if first and isinstance(first[0].body, TaskSubmitted):
            return first[0].body.task
        return None

    async def get(self, task_id: str) -> TaskView:
        """The task and its latest response: two short reads, never the whole log."""
        record = await self._existing(task_id)
        task = await self.submitted(task_id) or Task(id=task_id)
        response = TaskResponse(id=task_id, status=record.status)
        tail = await self._store.read(task_id, after_seq=max(record.last_seq - _TAIL_EVENTS, 0))
        for event in reversed(tail):
            if isinstance(event.body, TaskStatusChanged) and event.body.response is not None:
                response = event.body.response
                break
        return TaskView(task, response, record.created_at, record.updated_at)

    async def state(self, task_id: str) -> tuple[TaskStatus, list[RunNode], list[NodeGroup]]:
        """The task's status and run-node tree, derived from its events."""
        record = await self._existing(task_id)
        await self._events.flush(task_id)
        nodes = fold_nodes(await self._store.read(task_id))
        return record.status, nodes, fold_groups(nodes)

    async def trajectory(self, task_id: str) -> list[TrajectoryItem]:
        """The task's trajectory, derived from its events."""
        await self._existing(task_id)
        await self._events.flush(task_id)
        return build_trajectory(await self._store.read(task_id))

    async def log(self, task_id: str, after_seq: int = 0, limit: int = 0) -> list[Event]:
        """Stored events of the task after ``after_seq`` (``limit`` 0: all)."""
        return await self._store.read(task_id, after_seq, limit)

    async def last_seq(self, task_id: str) -> int:
        return await self._store.last_seq(task_id)

    def stream(
        self, task_id: str, after_seq: int = 0, *, follow: bool = True
    ) -> AsyncIterator[Event]:
        """The task's events after ``after_seq``; with ``follow``, live until terminal."""
        return self._events.stream(task_id, after_seq, follow=follow)

    async def follow_to_end(self, task_id: str) -> TaskResponse:
        """Follow the log to the task's terminal event and return its response."""
        async for event in self._events.stream(task_id):
            if isinstance(event.body, TaskStatusChanged) and event.body.status.is_terminal:
                return event.body.response or TaskResponse(id=task_id, status=event.body.status)
        return (await self.get(task_id)).response

    async def session(self, session_id: str) -> Session | None:
        return await self._store.get_session(session_id)

    async def list_sessions(self, user_id: str, page_size: int, page_token: str) -> Page[Session]:
        return await self._store.list_sessions(user_id, page_size, page_token)
