"""The event manager: every event of a task goes through here — persisted, then published, then
streamed — with a per-task monotonic ``seq``.

Streams replay stored events after a seq and then follow live ones, with no gap and no
duplicate between the two phases: live events are kept in a short per-task tail, and a reader
that falls behind the tail reads the store instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aworld_client import Event, EventBody, Message, MessageEmitted, TaskStatus, TaskStatusChanged
from aworld_client._convert import ProtoModel

from aworld_server.errors import FailedPrecondition
from aworld_server.events.bus import EventBus
from aworld_server.storage import EventQuery, EventStore, PartialWrite

__all__ = ["CommitObserver", "EventManager"]

logger = logging.getLogger(__name__)

_TAIL_SIZE = 64

CommitObserver = Callable[[Sequence[Event], float], None]
"""Told of each commit: the events made durable, and the commit's duration in seconds."""


@dataclass(eq=False)
class _TaskLog:
    """Live state of one task's log in this process."""

    session_id: str
    next_seq: int
    stored_seq: int = 0  # the last seq known to be in the store
    events: list[Event] = field(default_factory=list)  # recent events, contiguous, seq order
    waiters: list[asyncio.Future[None]] = field(default_factory=list)  # streams waiting for more
    ended: bool = False
    last_write: asyncio.Future[None] | None = None
    muted: bool = False  # replaying: events are already in the log

    def add(self, event: Event) -> None:
        if _is_waiting(event):
            # A task parked on a callback may wait for days: keep nothing but the position.
            # Streams that fall behind the (now empty) tail read the store instead.
            self.events.clear()
        self.events.append(event)
        self.stored_seq = event.seq
        if len(self.events) > _TAIL_SIZE:
            del self.events[: len(self.events) - _TAIL_SIZE]
        if event.is_terminal:
            self.ended = True
        self.wake()

    def wake(self) -> None:
        """Wake every stream waiting for more (an event arrived, or the log closed)."""
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()

    async def changed(self) -> None:
        """Wait until the next event is added."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        await waiter

    def after(self, seq: int) -> list[Event] | None:
        """Stored events with seq > ``seq`` if the tail still holds them all, else None (read
        the store: the tail is short, and empty after a restart or while the task is parked)."""
        if seq >= self.stored_seq:
            return []
        if not self.events or seq + 1 < self.events[0].seq:
            return None
        return self.events[seq + 1 - self.events[0].seq :]


def _is_waiting(event: Event) -> bool:
    body = event.body
    return isinstance(body, TaskStatusChanged) and body.status == TaskStatus.INPUT_REQUIRED


@dataclass(eq=False, slots=True)
class _Batch:
    """Events of many tasks written in one store call. Each task has its own future, so a
    store that fails one task's part (PartialWrite) fails only that task's writers."""

    events: list[tuple[str, _TaskLog, Event]] = field(default_factory=list)
    done: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    sync: bool = False

    def future(self, task_id: str) -> asyncio.Future[None]:
        done = self.done.get(task_id)
        if done is None:
            done = self.done[task_id] = asyncio.get_running_loop().create_future()
            # Fire-and-forget emits never await it; whoever does (a flush, the next awaited
            # emit) still gets the error. This only keeps the loop from logging it as lost.
            done.add_done_callback(_retrieved)
        return done


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class EventManager:
    """Assigns seqs, persists, publishes and streams the events of tasks."""

    def __init__(self, store: EventStore, bus: EventBus) -> None:
        self.store = store
        self.bus = bus
        self._logs: dict[str, _TaskLog] = {}
        self._batch: _Batch | None = None
        # Streams of unfinished tasks not open here yet (e.g. just after a restart, before
        # they resume), woken when the task opens.
        self._openings: dict[str, list[asyncio.Future[None]]] = {}
        self._observers: list[CommitObserver] = []
        # Replicas: a stream of an unfinished task that is not open here (it runs on another
        # replica) reads the store every ``poll_interval`` seconds instead of waiting for it
        # to open here. None: wait (one server runs every task).
        self.poll_interval: float | None = None

    def observe(self, observer: CommitObserver) -> None:
        """Call ``observer(events, seconds)`` after each commit to the store, with the events
        it made durable and how long the commit took (metrics). It runs on the event loop
        after every commit, so it must be quick; what it raises is logged and dropped."""
        self._observers.append(observer)

    async def open_task(self, task_id: str, session_id: str, *, new: bool = False) -> None:
        """Start tracking a task in this process (new, or resumed from its stored log).
        ``new``: the caller knows the task has no stored events (its id was just generated)."""
        if task_id not in self._logs:
            last = 0 if new else await self.store.last_seq(task_id)
            if task_id not in self._logs:
                self._logs[task_id] = _TaskLog(session_id, next_seq=last + 1, stored_seq=last)
                for opened in self._openings.pop(task_id, []):
                    if not opened.done():
                        opened.set_result(None)

    def mute(self, task_id: str) -> None:
        """Stop writing the task's events (a resumed run replaying its log)."""
        self._log(task_id).muted = True

    def unmute(self, task_id: str) -> None:
        """Write the task's events again, continuing its seqs."""
        self._log(task_id).muted = False

    def close_task(self, task_id: str) -> None:
        """Stop tracking a finished task. Streams still reading its tail finish from it; new
        streams read the store."""
        log = self._logs.pop(task_id, None)
        if log is not None:
            log.wake()  # streams waiting on it go on from the store

    def _log(self, task_id: str) -> _TaskLog:
        log = self._logs.get(task_id)
        if log is None:
            raise KeyError(f"task {task_id} is not open in this event manager")
        return log

    def emit_nowait(self, task_id: str, body: EventBody) -> Event:
        """Queue an event for persistence and return it with its seq, without waiting.

        Events are written in seq order, so awaiting :meth:`flush` (or a later :meth:`emit`)
        guarantees this one is persisted too. Streams see it once it is persisted.
        """
        event = self._make(task_id, body)
        self._write(task_id, [event], sync=False)
        return event

    async def emit(self, task_id: str, body: EventBody, *, sync: bool = False) -> Event:
        """Persist an event and return it once it is stored (fsynced when ``sync``)."""
        event = self._make(task_id, body)
        # Shielded: the write is shared with other callers' events (one batch), so cancelling
        # this caller must not cancel it for them.
        await asyncio.shield(self._write(task_id, [event], sync=sync))
        return event

    async def emit_many(
        self, task_id: str, bodies: Sequence[EventBody], *, sync: bool = False
    ) -> list[Event]:
        """Persist several events of one task in one write."""
        events = [self._make(task_id, body) for body in bodies]
        await asyncio.shield(self._write(task_id, events, sync=sync))
        return events

    async def emit_message(
        self, message: Message, *, publish: bool = True, durable: bool = True
    ) -> Event:
        """Persist a MessageEmitted event, then publish the message on the bus.

        ``durable=False`` publishes without waiting for the write (which is still ordered before
        every later write and flush). The event-driven runner uses it: its own handlers flush
        before any side effect, so nothing irreversible acts on an unwritten message, and each
        step saves two round trips to the store. Client streams still see the message only
        once it is on disk.
        """
        if durable:
            event = await self.emit(message.task_id, MessageEmitted(message=message))
        else:
            event = self.emit_nowait(message.task_id, MessageEmitted(message=message))
        if publish:
            await self.bus.publish(message)
        return event

    async def ingest(self, task_id: str, events: Sequence[Event], *, sync: bool = False) -> int:
        """Append events produced elsewhere (an engine worker running the task's runner) to the
        task's log, keeping their seqs; live streams see them like local ones.

        Idempotent for retries: an event already stored under its seq with the same content is
        skipped. A different event under a stored seq, or a gap, is FailedPrecondition.
        Returns the task's last seq.
        """
        if task_id not in self._logs:
            session_id = events[0].session_id if events else ""
            await self.open_task(task_id, session_id)
        log = self._log(task_id)
        if log.last_write is not None and any(e.seq < log.next_seq for e in events):
            # Sent again (a broken stream, a retried call) while the first copy may still be
            # on its way to the store: let it land, so the comparison below finds it.
            with contextlib.suppress(Exception):
                await asyncio.shield(log.last_write)
        fresh: list[Event] = []
        for event in sorted(events, key=lambda e: e.seq):
            if event.task_id != task_id:
                raise FailedPrecondition(f"event {event.seq} belongs to task {event.task_id}")
            if event.seq < log.next_seq:
                stored = await self.store.read(task_id, after_seq=event.seq - 1, limit=1)
                # Compared as re-encoded domain values: an event may carry the bytes it
                # arrived as (``to_bytes``), which need not be byte-identical to ours.
                if not stored or ProtoModel.to_bytes(stored[0]) != ProtoModel.to_bytes(event):
                    raise FailedPrecondition(
                        f"task {task_id} already has a different event at seq {event.seq}"
                    )
                continue
            expected = log.next_seq + len(fresh)
            if event.seq != expected:
                raise FailedPrecondition(
                    f"task {task_id}: expected seq {expected}, got {event.seq}"
                )
            fresh.append(event)
        log.next_seq += len(fresh)
        if fresh:
            await asyncio.shield(self._write(task_id, fresh, sync=sync))
        last = log.next_seq - 1
        if log.ended:
            self.close_task(task_id)
        return last

    async def flush(self, task_id: str) -> None:
        """Wait until every event emitted so far for the task is persisted."""
        log = self._logs.get(task_id)
        if log is not None and log.last_write is not None:
            await asyncio.shield(log.last_write)

    def _make(self, task_id: str, body: EventBody) -> Event:
        log = self._log(task_id)
        if log.muted:
            return Event(task_id=task_id, seq=0, session_id=log.session_id, body=body)
        seq = log.next_seq
        log.next_seq += 1
        return Event(
            task_id=task_id, seq=seq, time=datetime.now(UTC), session_id=log.session_id, body=body
        )

    def _write(self, task_id: str, events: list[Event], *, sync: bool) -> asyncio.Future[None]:
        log = self._log(task_id)
        if log.muted:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        batch = self._batch
        if batch is None:
            # Everything emitted until the loop gets back to its queue goes to the store as
            # one append: one hand-off to the writer for many events and many tasks.
            batch = self._batch = _Batch()
            asyncio.get_running_loop().call_soon(self._flush_batch)
        for event in events:
            batch.events.append((task_id, log, event))
        batch.sync = batch.sync or sync
        done = log.last_write = batch.future(task_id)
        return done

    def _flush_batch(self) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            return
        started = time.perf_counter()
        try:
            write = self.store.enqueue([event for _, _, event in batch.events], sync=batch.sync)
        except Exception as error:  # e.g. the store was closed
            for done in batch.done.values():
                done.set_exception(error)
            return

        def persisted(write: asyncio.Future[None]) -> None:
            failed: dict[str, BaseException] = {}
            if write.cancelled():
                failed = dict.fromkeys(batch.done, asyncio.CancelledError())
            elif isinstance(error := write.exception(), PartialWrite):
                failed = error.failed
            elif error is not None:
                failed = dict.fromkeys(batch.done, error)
            for task_id, log, event in batch.events:  # persist, then stream
                if task_id not in failed:
                    log.add(event)
            for task_id, done in batch.done.items():
                if done.done():
                    continue
                problem = failed.get(task_id)
                if isinstance(problem, asyncio.CancelledError):
                    done.cancel()
                elif problem is not None:
                    done.set_exception(problem)
                else:
                    done.set_result(None)
            if self._observers:
                committed = [event for task_id, _, event in batch.events if task_id not in failed]
                if committed:
                    self._notify(committed, started)

        write.add_done_callback(persisted)

    def _notify(self, events: list[Event], started: float) -> None:
        elapsed = time.perf_counter() - started
        for observer in self._observers:
            try:
                observer(events, elapsed)
            except Exception:
                logger.exception("event observer %r failed", observer)

    async def _opened(self, task_id: str) -> None:
        """Wait until an unfinished task that is not running here yet opens (a resume, the
        sweeper, an engine's first append), so its stream does not end without its end."""
        if task_id in self._logs:
            return
        opened = asyncio.get_running_loop().create_future()
        waiting = self._openings.setdefault(task_id, [])
        waiting.append(opened)
        try:
            if self.poll_interval is None:
                await opened
            else:  # the caller reads the store again after the interval
                await asyncio.wait([opened], timeout=self.poll_interval)
        finally:
            if opened in waiting:
                waiting.remove(opened)
            if not waiting and self._openings.get(task_id) is waiting:
                del self._openings[task_id]

    async def query(self, query: EventQuery) -> list[Event]:
        """Stored events by task, session, message topic or sender (audit and replay tools)."""
        return await self.store.query_events(query)

    async def stream(
        self, task_id: str, after_seq: int = 0, *, follow: bool = True
    ) -> AsyncIterator[Event]:
        """Events of a task with seq > ``after_seq``; with ``follow``, live ones until the
        terminal event (which is always the last one yielded)."""
        last = after_seq
        ended = False  # the index said the task ended: one more read of the store, then stop
        while True:
            log = self._logs.get(task_id)
            batch = log.after(last) if log is not None else None
            if batch is None:
                batch = await self.store.read(task_id, after_seq=last)
            for event in batch:
                yield event
                last = event.seq
                if event.is_terminal:
                    return
            if not follow:
                return
            if log is None:
                if batch:
                    continue
                if ended:
                    return  # ended before the position asked for
                record = await self.store.get_task(task_id)
                if record is None:
                    return
                if record.status.is_terminal:
                    # It may have ended (elsewhere) after the read above: read its end.
                    ended = True
                    continue
                await self._opened(task_id)
                continue
            if log.ended and log.stored_seq <= last:
                return  # ended; the caller asked to start past its end
            if log.stored_seq <= last:
                await log.changed()
