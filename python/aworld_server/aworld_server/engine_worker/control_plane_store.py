"""``ControlPlaneStore``: the store of an engine worker's Runtime. The task's log lives at the
control plane; this store forwards to it over gRPC (state sync).

What it really implements is the :class:`~aworld_server.storage.EventLog` (appends and reads of
the task's log) plus what a run needs of the rest: its task record, and its session (read,
and the state it leaves behind saved). Writes are
batched: events queued for a task while its previous append is in flight (or in the same
loop iteration) go out together in the next append, in order — one append per flush of
the runner's writes, not one per event; appends of all tasks share one stream
(:class:`AppendStream`). A write's future resolves once the control plane has
persisted it, so a runner's durability barriers (an event on record before a tool's side
effect) hold across processes.

The rest of :class:`~aworld_server.storage.EventStore` exists only because the engine-side
Runtime takes a whole store; nothing on an engine worker may call it, and each such method
raises :class:`FailedPrecondition` saying so instead of answering with made-up data. The
session state a run leaves behind is saved at the control plane (EngineService
SaveSessionState, fenced by the task's job like its appends); a state left as it was read
is not sent again.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from aworld_client import Event, Session, Task, TaskStatus
from aworld_client.api import engine_service_pb2 as engine_pb
from aworld_client.api import runtime_service_pb2 as runtime_pb
from aworld_client.engine_service import AppendEventsRequest, SaveSessionStateRequest
from aworld_client.runtime_service import GetTaskResponse

from aworld_server.engine_worker.append_stream import AppendStream
from aworld_server.engine_worker.control_plane import ControlPlane
from aworld_server.errors import FailedPrecondition
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
    """An :class:`~aworld_server.storage.EventLog` forwarding to a control plane (see the module
    docstring for the parts of ``EventStore`` it refuses)."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.control_plane = control_plane
        self.appends = AppendStream(control_plane)
        self._outboxes: dict[str, _Outbox] = {}
        self._senders: set[asyncio.Task[None]] = set()
        self._last_seq: dict[str, int] = {}  # known log positions, to skip OpenTask calls
        self._tasks: dict[str, Task] = {}
        # Session state as read from the control plane, to tell an unchanged write-back (a
        # no-op) from a change that cannot be forwarded.
        self._session_states: dict[str, Any] = {}
        self._session_of: dict[str, str] = {}  # task id -> its session, from its events
        self._sessions: dict[str, Session] = {}  # sessions jobs brought (``seed_session``)
        self.jobs: dict[str, str] = {}  # task id -> the job this worker runs it as

    async def open(self) -> None:
        """Nothing to open: the channel connects on first use."""

    async def close(self) -> None:
        """Wait for queued writes, then drop the known positions (the channel is shared)."""
        if self._senders:
            await asyncio.gather(*self._senders, return_exceptions=True)
        await self.appends.close()
        self._last_seq.clear()
        self._tasks.clear()
        self._session_states.clear()
        self._session_of.clear()
        self._sessions.clear()

    def seed(self, task_id: str, last_seq: int) -> None:
        """Record a log position known without asking (a first job: just TaskSubmitted)."""
        self._last_seq[task_id] = last_seq

    def seed_session(self, task_id: str, session: Session) -> None:
        """Record a task's session as its job brought it (read instead of asking), until the
        task is forgotten."""
        self._sessions[session.id] = session
        self._session_of[task_id] = session.id
        self._session_states[session.id] = _state(session)

    def forget(self, task_id: str) -> None:
        """Drop what is cached about a task whose job ended on this worker."""
        session_id = self._session_of.get(task_id)
        if session_id is not None:
            self._sessions.pop(session_id, None)
        self._last_seq.pop(task_id, None)
        self._tasks.pop(task_id, None)
        self._session_of.pop(task_id, None)
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
            if event.session_id:
                self._session_of[event.task_id] = event.session_id
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
        # On the worker's one append stream, which sends again what a broken stream left
        # unanswered (appends are idempotent by seq).
        request = AppendEventsRequest(
            task_id=task_id, events=events, sync=sync, job_id=self.jobs.get(task_id, "")
        ).to_proto()
        return await self.appends.append(request)

    @staticmethod
    async def _retrying(call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()``, again after UNAVAILABLE or DEADLINE_EXCEEDED, backing off."""
        delay = 0.05
        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            try:
                return await call()
            except grpc.aio.AioRpcError as error:
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
        seeded = self._sessions.get(session_id)
        if seeded is not None:
            return seeded
        try:
            response = await self.control_plane.runtime.GetSession(
                runtime_pb.GetSessionRequest(session_id=session_id),
                metadata=self.control_plane.metadata,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        session = Session.from_proto(response.session)
        self._session_states[session_id] = _state(session)
        return session

    async def put_session(self, session: Session) -> None:
        """Save the session state a task of this worker leaves behind at the control plane
        (SaveSessionState, as that task's job). A write-back of the state as it was read is
        skipped: there is nothing new to save."""
        if _state(session) == self._session_states.get(session.id):
            return
        # Saved as a task of this worker in that session (its events said which session).
        task_id = next(
            (t for t, s in self._session_of.items() if s == session.id and t in self.jobs), ""
        )
        if not task_id or session.state is None:
            raise FailedPrecondition(
                f"session {session.id}: no task of this engine worker belongs to it, so its "
                "state cannot be saved from here"
            )
        job_id = self.jobs[task_id]
        request = SaveSessionStateRequest(
            task_id=task_id, state=session.state, job_id=job_id
        ).to_proto()
        # Saving the same state again is harmless, so a call that may have landed is retried.
        await self._retrying(
            lambda: self.control_plane.engine.SaveSessionState(
                request, metadata=self.control_plane.for_job(job_id)
            )
        )
        self._session_states[session.id] = _state(session)

    # -- not for engine workers: the control plane answers these itself ---------------------
    async def query_events(self, query: EventQuery) -> list[Event]:
        if not query.task_id:
            raise _not_here("queries across tasks")
        return (await self.read(query.task_id))[: query.limit]

    async def find_task_by_request_id(self, request_id: str) -> TaskRecord | None:
        raise _not_here("submits (and their request ids)")

    async def list_tasks(self, query: TaskQuery) -> Page[TaskRecord]:
        raise _not_here("task listings")

    async def live_tasks(self) -> list[TaskRecord]:
        raise _not_here("resuming tasks (the engine re-runs lost jobs)")

    async def list_sessions(self, user_id: str, page_size: int, page_token: str) -> Page[Session]:
        raise _not_here("session listings")


def _not_here(what: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"{what}: not available on an engine worker, only at the control plane"
    )


def _state(session: Session) -> Any:
    """The session state's value (a dict, usually); None for none."""
    return None if session.state is None else session.state.value()
