"""The store protocols: :class:`EventLog` (durable, per-task ordered event history),
:class:`TaskIndex` (task records derived from it, for listing and idempotency) and
:class:`SessionStore`; :class:`EventStore` is a store that is all three. An engine worker's
store forwards only the log (and reads), so it implements :class:`EventLog`, not the rest.

Durability levels, chosen per append:

* ``append(events)`` returns once the events are committed: they survive a crash of this
  process (SIGKILL), which is what runners wait for between steps;
* ``append(events, sync=True)`` also waits until the commit is flushed to disk (fsync): it
  survives an OS crash or power loss. Acknowledgements a client sees (a task accepted, a
  callback completed) use it.

Appends from concurrent tasks are batched into one transaction (group commit), so durability
does not cost one disk flush per event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from aworld_client import Event, Session, TaskStatus

__all__ = [
    "EventLog",
    "EventQuery",
    "EventStore",
    "Page",
    "PartialWrite",
    "SessionStore",
    "TaskIndex",
    "TaskQuery",
    "TaskRecord",
]


class PartialWrite(Exception):
    """Some tasks' events of one ``enqueue`` were not persisted; the other tasks' were.

    A store that writes tasks independently (an engine worker's, which forwards each task's
    events in its own call) raises it, so one task's failure is not reported as everyone's.
    Atomic stores (SQLite, memory) fail a whole write with its own error instead."""

    def __init__(self, failed: dict[str, BaseException]) -> None:
        super().__init__("; ".join(f"task {t}: {e}" for t, e in failed.items()))
        self.failed = failed


@dataclass(slots=True, kw_only=True)
class TaskRecord:
    """Index row of one task, maintained by the store from the task's events.

    Created by a ``TaskSubmitted`` event; ``status``/``updated_at`` follow every
    ``TaskStatusChanged`` event in the same transaction as the event itself.
    """

    task_id: str
    name: str = ""
    session_id: str = ""
    user_id: str = ""
    request_id: str = ""
    status: TaskStatus = TaskStatus.PENDING
    created_at: datetime
    updated_at: datetime
    namespace: str = "default"
    last_seq: int = 0


@dataclass(slots=True, kw_only=True)
class TaskQuery:
    """Filter and page for :meth:`TaskIndex.list_tasks`. Empty filters match everything."""

    session_id: str = ""
    user_id: str = ""
    namespace: str = ""
    statuses: Sequence[TaskStatus] = ()
    page_size: int = 50
    page_token: str = ""


@dataclass(slots=True, kw_only=True)
class EventQuery:
    """Filter for :meth:`EventLog.query_events`. Empty filters match everything.

    ``topic`` and ``sender`` match events whose body is a MessageEmitted with that message
    topic / sender.
    """

    task_id: str = ""
    session_id: str = ""
    topic: str = ""
    sender: str = ""
    limit: int = 1000


T = TypeVar("T")


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of results; ``next_page_token`` is empty on the last page."""

    items: list[T] = field(default_factory=list)
    next_page_token: str = ""


class EventLog(Protocol):
    """Durable, per-task ordered event history. Safe to call concurrently from one event loop."""

    async def open(self) -> None:
        """Create or open the storage (tables, files, connections). Idempotent."""

    async def close(self) -> None:
        """Flush pending writes and release resources. Pending appends complete first."""

    async def append(self, events: Sequence[Event], *, sync: bool = False) -> None:
        """Persist events in order; see the module docstring for what returning guarantees.

        Each event's ``(task_id, seq)`` must be new: a duplicate raises ``FailedPrecondition``
        and nothing of that call is written. A store that also keeps a :class:`TaskIndex`
        updates it in the same atomic step: a ``TaskSubmitted`` event creates the task's
        record (its ``request_id`` becomes findable); ``TaskStatusChanged`` updates it.
        """

    def enqueue(self, events: Sequence[Event], *, sync: bool = False) -> asyncio.Future[None]:
        """Queue an append without awaiting it; the future resolves as ``append`` would return.

        Appends are written in the order they are queued, so awaiting the future of a later
        append implies every earlier one is persisted too. A store that writes tasks
        independently may fail with :class:`PartialWrite`.
        """

    async def read(self, task_id: str, after_seq: int = 0, limit: int = 0) -> list[Event]:
        """The task's events with ``seq > after_seq`` in seq order; ``limit`` 0 means all."""

    async def last_seq(self, task_id: str) -> int:
        """The highest seq stored for the task, 0 when it has none."""

    async def query_events(self, query: EventQuery) -> list[Event]:
        """Events matching the filter, ordered by (task, seq)."""


class TaskIndex(Protocol):
    """Task records derived from the log (listing, idempotency, resuming after a restart)."""

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """The task's record, or None."""

    async def find_task_by_request_id(self, request_id: str) -> TaskRecord | None:
        """The task first submitted with this request id, or None."""

    async def list_tasks(self, query: TaskQuery) -> Page[TaskRecord]:
        """Task records, newest first, paged with an opaque token."""

    async def live_tasks(self) -> list[TaskRecord]:
        """Records of tasks whose status is not terminal (to resume after a restart)."""


class SessionStore(Protocol):
    """Sessions: the tasks they group and the state those tasks leave behind."""

    async def put_session(self, session: Session) -> None:
        """Create or replace a session (committed, as ``append`` without sync)."""

    async def get_session(self, session_id: str) -> Session | None:
        """The session, or None."""

    async def list_sessions(self, user_id: str, page_size: int, page_token: str) -> Page[Session]:
        """Sessions, newest first; ``user_id`` empty means all users."""


class EventStore(EventLog, TaskIndex, SessionStore, Protocol):
    """A store that is all three: the event log and, kept in the same atomic writes, the task
    index and the sessions (SQLite, memory, Redis). A caller that needs only one part types
    its argument with that part."""
