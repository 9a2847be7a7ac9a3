"""``ControlPlaneStore``: the EventStore of an engine worker's Runtime. The task's log lives at
the control plane; this store forwards to it over gRPC (state sync).

Writes are batched: events queued for a task while its previous AppendEvents call is in flight
(or in the same loop iteration) go out together in the next call, in order — one call per flush
of the runner's writes, not one per event. A write's future resolves once the control plane
has persisted it, so a runner's durability barriers (an event on record before a tool's side
effect) hold across processes. Reads of the log, the session and the task record use
RuntimeService; what the control plane does not take from engine workers (sessions, listings)
is a no-op or empty, as documented per method.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
from aworld_client import Event, Session, Task, TaskStatus
from aworld_client.api import engine_service_pb2 as engine_pb
from aworld_client.api import runtime_service_pb2 as runtime_pb
from aworld_client.engine_service import AppendEventsRequest
from aworld_client.runtime_service import GetTaskResponse

from aworld_server.engine_worker.control_plane import ControlPlane
from aworld_server.storage import EventQuery, Page, PartialWrite, TaskQuery, TaskRecord

__all__ = ["ControlPlaneStore"]

_MAX_BATCH = 256  # events per AppendEvents call, well under the default 4 MiB message limit
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
_APPEND_ATTEMPTS = 5


@dataclass(eq=False)
class _Outbox:
    """Events of one task waiting for the next AppendEvents call."""

    events: list[Event] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    sync: bool = False


class ControlPlaneStore:
    """Implements ``aworld_server.storage.EventStore`` by forwarding to a control plane."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.control_plane = control_plane
        self._outboxes: dict[str, _Outbox] = {}
        self._senders: set[asyncio.Task[None]] = set()
        self._last_seq: dict[str, int] = {}  # known log positions, to skip OpenTask calls
        self._tasks: dict[str, Task] = {}
        self.jobs: dict[str, str] = {}  # task id -> the job this worker runs it as

    async def open(self) -> None:
        """Nothing to open: the channel connects on first use."""

    async def close(self) -> None:
        """Wait for queued writes, then drop the known positions (the channel is shared)."""
        if self._senders:
            await asyncio.gather(*self._senders, return_exceptions=True)
        self._last_seq.clear()
        self._tasks.clear()

    def seed(self, task_id: str, last_seq: int) -> None:
        """Record a log position known without asking (a first job: just TaskSubmitted)."""
        self._last_seq[task_id] = last_seq

    def forget(self, task_id: str) -> None:
        """Drop what is cached about a task whose job ended on this worker."""
        self._last_seq.pop(task_id, None)
        self._tasks.pop(task_id, None)
        self.jobs.pop(task_id, None)

    # -- writes -------------------------------------------------------------------------
    async def append(self, events: Sequence[Event], *, sync: bool = False) -> None:
        await self.enqueue(events, sync=sync)

    def enqueue(self, events: Sequence[Event], *, sync: bool = False) -> asyncio.Future[None]:
        """Queue events (of one or more tasks); the future resolves once all are persisted at
        the control plane. Tasks are written independently: when some fail, it fails with
        :class:`PartialWrite` naming them (the others' events are persisted)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        by_task: dict[str, list[Event]] = {}
        for event in events:
            by_task.setdefault(event.task_id, []).append(event)
        if not by_task:
            done.set_result(None)
            return done
        remaining = len(by_task)
        failed: dict[str, BaseException] = {}

        def one_done(task_id: str, part: asyncio.Future[None]) -> None:
            nonlocal remaining
            remaining -= 1
            if part.cancelled():
                failed[task_id] = asyncio.CancelledError()
            elif (error := part.exception()) is not None:
                failed[task_id] = error
            if remaining or done.done():
                return
            if failed:
                done.set_exception(PartialWrite(failed))
            else:
                done.set_result(None)

        for task_id, task_events in by_task.items():
            part: asyncio.Future[None] = loop.create_future()
            part.add_done_callback(functools.partial(one_done, task_id))
            outbox = self._outboxes.get(task_id)
            if outbox is None:
                outbox = self._outboxes[task_id] = _Outbox()
                # Started on the next loop iteration: writes queued meanwhile join this call.
                sender = asyncio.create_task(self._send(task_id, outbox))
                self._senders.add(sender)
                sender.add_done_callback(self._senders.discard)
            outbox.events.extend(task_events)
            outbox.waiters.append(part)
            outbox.sync = outbox.sync or sync
        return done

    async def _send(self, task_id: str, outbox: _Outbox) -> None:
        try:
            while outbox.events:
                events, waiters, sync = outbox.events, outbox.waiters, outbox.sync
                outbox.events, outbox.waiters, outbox.sync = [], [], False
                try:
                    for start in range(0, len(events), _MAX_BATCH):
                        chunk = events[start : start + _MAX_BATCH]
                        self._last_seq[task_id] = await self._append(task_id, chunk, sync)
                except BaseException as error:
                    # Later events would leave a gap: fail every waiting write of the task.
                    for waiter in [*waiters, *outbox.waiters]:
                        if not waiter.done():
                            waiter.set_exception(error)
                    outbox.events.clear()
                    outbox.waiters.clear()
                    if isinstance(error, asyncio.CancelledError):
                        raise
                    return
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            if self._outboxes.get(task_id) is outbox:
                del self._outboxes[task_id]

    async def _append(self, task_id: str, events: list[Event], sync: bool) -> int:
        request = AppendEventsRequest(
            task_id=task_id, events=events, sync=sync, job_id=self.jobs.get(task_id, "")
        ).to_proto()
        delay = 0.05
        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            try:
                response = await self.control_plane.engine.AppendEvents(
                    request, metadata=self.control_plane.for_job(self.jobs.get(task_id, ""))
                )
                return int(response.last_seq)
            except grpc.aio.AioRpcError as error:
                # AppendEvents is idempotent, so a call that may have landed is safe to repeat.
                if error.code() not in _RETRYABLE or attempt == _APPEND_ATTEMPTS:
                    raise
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    # -- reads --------------------------------------------------------------------------
    async def read(self, task_id: str, after_seq: int = 0, limit: int = 0) -> list[Event]:
        events: list[Event] = []
        call = self.control_plane.runtime.StreamEvents(
            runtime_pb.StreamEventsRequest(task_id=task_id, after_seq=after_seq, replay_only=True),
            metadata=self.control_plane.for_job(self.jobs.get(task_id, "")),
        )
        try:
            async for response in call:
                events.append(Event.from_proto(response.event))
                if limit and len(events) >= limit:
                    break
        finally:
            call.cancel()
        return events

    async def last_seq(self, task_id: str) -> int:
        known = self._last_seq.get(task_id)
        if known is not None:
            return known
        try:
            response = await self.control_plane.engine.OpenTask(
                engine_pb.OpenTaskRequest(task_id=task_id),
                metadata=self.control_plane.for_job(self.jobs.get(task_id, "")),
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return 0
            raise
        self._tasks[task_id] = Task.from_proto(response.task)
        self._last_seq[task_id] = int(response.last_seq)
        return int(response.last_seq)

    async def get_task(self, task_id: str) -> TaskRecord | None:
        try:
            response = await self.control_plane.runtime.GetTask(
                runtime_pb.GetTaskRequest(task_id=task_id),
                metadata=self.control_plane.for_job(self.jobs.get(task_id, "")),
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        found = GetTaskResponse.from_proto(response)
        task = found.task or Task(id=task_id)
        now = datetime.now(UTC)
        return TaskRecord(
            task_id=task_id,
            name=task.name,
            session_id=task.session_id,
            user_id=task.user_id,
            status=found.response.status if found.response else TaskStatus.PENDING,
            created_at=found.created_at or now,
            updated_at=found.updated_at or now,
        )

    async def get_session(self, session_id: str) -> Session | None:
        try:
            response = await self.control_plane.runtime.GetSession(
                runtime_pb.GetSessionRequest(session_id=session_id),
                metadata=self.control_plane.metadata,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return Session.from_proto(response.session)

    async def put_session(self, session: Session) -> None:
        """Not synced: EngineService takes no session writes, so session state a task on an
        engine leaves behind stays on the worker (a known limit of engine tasks)."""

    # -- listings: the control plane answers these itself -------------------------------
    async def query_events(self, query: EventQuery) -> list[Event]:
        return (await self.read(query.task_id))[: query.limit] if query.task_id else []

    async def find_task_by_request_id(self, request_id: str) -> TaskRecord | None:
        return None  # submits (and their idempotency) happen at the control plane

    async def list_tasks(self, query: TaskQuery) -> Page[TaskRecord]:
        return Page()

    async def live_tasks(self) -> list[TaskRecord]:
        return []  # an engine worker resumes nothing on its own: the engine re-runs jobs

    async def list_sessions(self, user_id: str, page_size: int, page_token: str) -> Page[Session]:
        return Page()
