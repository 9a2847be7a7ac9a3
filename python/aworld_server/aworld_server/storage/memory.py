"""In-memory event store: the EventStore contract without a disk, for tests and as a double."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

from aworld_client import Event, Session, TaskStatusChanged, TaskSubmitted

from aworld_server.errors import FailedPrecondition
from aworld_server.storage._store import EventQuery, Page, TaskQuery, TaskRecord
from aworld_server.storage.sqlite import (
    _DEFAULT_PAGE_SIZE,
    _decode_page_token,
    _encode_page_token,
    _index_fields,
    _submitted_record,
    _to_us,
)

__all__ = ["MemoryEventStore"]

V = TypeVar("V")


class _StoredEvent(NamedTuple):
    data: bytes
    session_id: str
    topic: str
    sender: str


class MemoryEventStore:
    """:class:`~aworld_server.storage.EventStore` in process memory; nothing survives the process.

    Same semantics as :class:`~aworld_server.storage.SqliteEventStore` (conflicts, records,
    ordering, paging), except that ``sync`` has no effect and the store needs no ``open``.
    Events and sessions are kept serialised, so reads return copies and an event that cannot
    be serialised fails its append, as with the real store.
    """

    def __init__(self) -> None:
        self._events: dict[str, dict[int, _StoredEvent]] = {}
        self._tasks: dict[str, TaskRecord] = {}
        self._task_by_request: dict[str, str] = {}
        # id -> (created_us, user_id, serialised session)
        self._sessions: dict[str, tuple[int, str, bytes]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def append(self, events: Sequence[Event], *, sync: bool = False) -> None:
        await self.enqueue(events, sync=sync)

    def enqueue(self, events: Sequence[Event], *, sync: bool = False) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            self._append(events)
        except BaseException as error:
            future.set_exception(error)
        else:
            future.set_result(None)
        return future

    def _append(self, events: Sequence[Event]) -> None:
        # Check and serialise everything before changing anything: a failing call writes nothing.
        stored = [self._stored(e) for e in events]
        seqs = {(e.task_id, e.seq) for e in events}
        if len(seqs) < len(events) or any(s in self._events.get(t, {}) for t, s in seqs):
            raise FailedPrecondition(
                f"append for task {_task_ids(events)} rejected: "
                "an event with the same (task_id, seq) already exists"
            )
        submitted = [e for e in events if isinstance(e.body, TaskSubmitted)]
        task_ids = [e.task_id for e in submitted]
        if len(set(task_ids)) < len(task_ids) or any(t in self._tasks for t in task_ids):
            raise FailedPrecondition(
                f"append for task {_task_ids(events)} rejected: task already submitted"
            )
        request_ids = [e.body.request_id for e in submitted if isinstance(e.body, TaskSubmitted)]
        request_ids = [r for r in request_ids if r]
        if len(set(request_ids)) < len(request_ids) or any(
            r in self._task_by_request for r in request_ids
        ):
            raise FailedPrecondition(
                f"append for task {_task_ids(events)} rejected: "
                "request_id already used by another task"
            )

        now = datetime.now(UTC)
        for event, row in zip(events, stored, strict=True):
            self._events.setdefault(event.task_id, {})[event.seq] = row
            at = event.time or now
            match event.body:
                case TaskSubmitted() as body:
                    record = _submitted_record(event, body, at)
                    self._tasks[event.task_id] = record
                    if body.request_id:
                        self._task_by_request[body.request_id] = event.task_id
                case TaskStatusChanged(status=status) if event.task_id in self._tasks:
                    record = self._tasks[event.task_id]
                    record.status, record.updated_at = status, at

    async def read(self, task_id: str, after_seq: int = 0, limit: int = 0) -> list[Event]:
        events = self._events.get(task_id, {})
        seqs = sorted(s for s in events if s > after_seq)
        return [Event.from_bytes(events[s].data) for s in seqs[: limit or None]]

    async def last_seq(self, task_id: str) -> int:
        return max(self._events.get(task_id, {}), default=0)

    async def query_events(self, query: EventQuery) -> list[Event]:
        task_ids = [query.task_id] if query.task_id else sorted(self._events)
        out: list[Event] = []
        for task_id in task_ids:
            events = self._events.get(task_id, {})
            for seq in sorted(events):
                row = events[seq]
                if (
                    (not query.session_id or row.session_id == query.session_id)
                    and (not query.topic or row.topic == query.topic)
                    and (not query.sender or row.sender == query.sender)
                ):
                    out.append(Event.from_bytes(row.data))
                    if len(out) == query.limit:
                        return out
        return out

    async def get_task(self, task_id: str) -> TaskRecord | None:
        record = self._tasks.get(task_id)
        return None if record is None else self._copy(record)

    async def find_task_by_request_id(self, request_id: str) -> TaskRecord | None:
        task_id = self._task_by_request.get(request_id)
        return None if task_id is None else await self.get_task(task_id)

    async def list_tasks(self, query: TaskQuery) -> Page[TaskRecord]:
        statuses = set(query.statuses)
        keyed = [
            ((_to_us(r.created_at), r.task_id), r)
            for r in self._tasks.values()
            if (not query.session_id or r.session_id == query.session_id)
            and (not query.user_id or r.user_id == query.user_id)
            and (not query.namespace or r.namespace == query.namespace)
            and (not statuses or r.status in statuses)
        ]
        page = _page(keyed, query.page_size, query.page_token)
        return Page([self._copy(r) for r in page.items], page.next_page_token)

    async def live_tasks(self) -> list[TaskRecord]:
        live = [r for r in self._tasks.values() if not r.status.is_terminal]
        live.sort(key=lambda r: (_to_us(r.created_at), r.task_id))
        return [self._copy(r) for r in live]

    async def put_session(self, session: Session) -> None:
        now = datetime.now(UTC)
        if session.created_at is not None:
            created_us = _to_us(session.created_at)
        elif session.id in self._sessions:
            created_us = self._sessions[session.id][0]
        else:
            created_us = _to_us(now)
        self._sessions[session.id] = (created_us, session.user_id, session.to_bytes())

    async def get_session(self, session_id: str) -> Session | None:
        stored = self._sessions.get(session_id)
        return None if stored is None else Session.from_bytes(stored[2])

    async def list_sessions(self, user_id: str, page_size: int, page_token: str) -> Page[Session]:
        keyed = [
            ((created_us, session_id), data)
            for session_id, (created_us, owner, data) in self._sessions.items()
            if not user_id or owner == user_id
        ]
        page = _page(keyed, page_size, page_token)
        return Page([Session.from_bytes(d) for d in page.items], page.next_page_token)

    def _stored(self, event: Event) -> _StoredEvent:
        _, topic, sender = _index_fields(event)
        return _StoredEvent(event.to_bytes(), event.session_id, topic, sender)

    def _copy(self, record: TaskRecord) -> TaskRecord:
        last_seq = max(self._events.get(record.task_id, {}), default=0)
        return dataclasses.replace(record, last_seq=last_seq)


def _page(keyed: list[tuple[tuple[int, str], V]], size: int, token: str) -> Page[V]:
    """Newest first by key, starting after the key in ``token``."""
    after = _decode_page_token(token)
    size = size if size > 0 else _DEFAULT_PAGE_SIZE
    keyed.sort(key=lambda kv: kv[0], reverse=True)
    if after is not None:
        keyed = [kv for kv in keyed if kv[0] < after]
    page = Page([v for _, v in keyed[:size]])
    if len(keyed) > size:
        page.next_page_token = _encode_page_token(*keyed[size - 1][0])
    return page


def _task_ids(events: Sequence[Event]) -> str:
    return ", ".join(sorted({e.task_id for e in events}))
