"""SQLite event store: one WAL database file, one writer thread that commits in groups.

Tables:

* ``events``: one row per event, keyed by ``(task_id, seq)``: the event's protobuf bytes plus
  the columns queries filter on (session, message topic and sender) and its body kind and time;
* ``tasks``: the :class:`TaskRecord` index, written in the transaction of the events it is
  derived from, so a record never disagrees with the log;
* ``sessions``: each session's protobuf bytes plus its user and times, for listing.

Writes: :meth:`SqliteEventStore.append` puts the request on a queue and awaits a future. The
writer thread drains the queue, writes everything it drained in one transaction and commits
once (group commit), so N concurrent appends cost one commit, and one fsync when any of them
asked for ``sync``. A small ``enqueue`` (the event manager's, already batched) that finds the
writer with nothing to do is committed on the caller's thread instead (see ``_INLINE_MAX``).
Reads run on a small thread pool with their own connections; WAL lets them proceed while the
writer commits.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future as ThreadFuture
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

from aworld_client import (
    Event,
    MessageEmitted,
    Session,
    TaskStatus,
    TaskStatusChanged,
    TaskSubmitted,
)

from aworld_server.errors import FailedPrecondition, FieldViolation, InvalidArgument
from aworld_server.namespaces import DEFAULT_NAMESPACE, namespace_of
from aworld_server.storage._store import EventQuery, Page, TaskQuery, TaskRecord

__all__ = ["SqliteEventStore", "StoreStats"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA_VERSION: Final = 2

# Indexes on events are partial: an event without a session, topic or sender costs no index
# write. Queries repeat the `!= ''` term so the planner can prove the partial index applies.
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    task_id    TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    session_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    sender     TEXT    NOT NULL,
    time_us    INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    PRIMARY KEY (task_id, seq)
);
CREATE INDEX IF NOT EXISTS events_by_session ON events (session_id, task_id, seq)
    WHERE session_id != '';
CREATE INDEX IF NOT EXISTS events_by_topic ON events (topic, task_id, seq) WHERE topic != '';
CREATE INDEX IF NOT EXISTS events_by_sender ON events (sender, task_id, seq) WHERE sender != '';

CREATE TABLE IF NOT EXISTS tasks (
    task_id    TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    namespace  TEXT    NOT NULL DEFAULT 'default'
);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_by_request ON tasks (request_id) WHERE request_id != '';
CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks (created_us, task_id);
CREATE INDEX IF NOT EXISTS tasks_by_session ON tasks (session_id, created_us, task_id);
CREATE INDEX IF NOT EXISTS tasks_by_user ON tasks (user_id, created_us, task_id);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status);
CREATE INDEX IF NOT EXISTS tasks_by_namespace ON tasks (namespace, created_us, task_id);

CREATE TABLE IF NOT EXISTS sessions (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    data       BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_created ON sessions (created_us, id);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id, created_us, id);
"""

_INSERT_EVENT: Final = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_TASK: Final = (
    "INSERT INTO tasks (task_id, name, session_id, user_id, request_id, status, created_us, "
    "updated_us, namespace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_STATUS: Final = "UPDATE tasks SET status = ?, updated_us = ? WHERE task_id = ?"
# A session put without created_at keeps the creation time it was first stored with.
_UPSERT_SESSION: Final = """
INSERT INTO sessions VALUES (:id, :user_id, COALESCE(:created_us, :now_us), :updated_us, :data)
ON CONFLICT (id) DO UPDATE SET
    user_id = excluded.user_id,
    created_us = COALESCE(:created_us, sessions.created_us),
    updated_us = excluded.updated_us,
    data = excluded.data
"""
_TASK_COLUMNS: Final = (
    "task_id, name, session_id, user_id, request_id, status, created_us, updated_us, namespace, "
    "(SELECT COALESCE(MAX(seq), 0) FROM events e WHERE e.task_id = t.task_id)"
)
_LIVE: Final = tuple(int(s) for s in TaskStatus if not s.is_terminal)
_DEFAULT_PAGE_SIZE: Final = 50
# Bounds one transaction, so the first append of a huge backlog is not held back by the rest.
_MAX_BATCH: Final = 1024
# An append of at most this many events, not fsynced, that finds the writer with nothing queued
# is committed on the caller's thread: handing it over and waking the caller's loop for the
# answer costs more than the commit (~0.1 ms per step of a task that waits for its events
# before each tool call). Bigger or fsynced appends, and any while the writer is busy, queue.
_INLINE_MAX: Final = 64
# How long a write waits for another connection's (another process's) write lock. An inline
# commit does not wait at all: it goes to the writer instead, so the loop never blocks on it.
_BUSY_TIMEOUT_S: Final = 30.0
# The writer connection checkpoints the WAL itself, on the writer thread (SQLite's automatic
# checkpoint would run inside whichever commit crosses its threshold, inline ones included, and
# stall the event loop), after this many commits or events, whichever comes first: about the
# 1000 pages of SQLite's default (a small commit writes ~4 pages, an event ~0.5).
_CHECKPOINT_COMMITS: Final = 250
_CHECKPOINT_EVENTS: Final = 2000


@dataclass(slots=True)
class StoreStats:
    """Counters of the writer since the store was created (for tests and benchmarks)."""

    events: int = 0
    """Events committed."""
    commits: int = 0
    """Transactions committed; one per group of appends, not one per append."""
    syncs: int = 0
    """Commits flushed to disk with fsync because an append in the group asked for ``sync``."""
    checkpoints: int = 0
    """WAL checkpoints, made by the writer thread."""


class SqliteEventStore:
    """:class:`~aworld_server.storage.EventStore` in one SQLite file (WAL mode).

    ``append`` returns after the commit (survives SIGKILL of this process); with ``sync=True``
    after the commit was fsynced (survives power loss). Cancelling an ``append`` does not
    withdraw it: the events may still be written. ``limit`` 0 in :class:`EventQuery` means
    no limit. ``readers`` is the number of read threads, each with its own connection.
    """

    def __init__(self, path: str | Path, *, readers: int = 4) -> None:
        self.path = Path(path)
        self.stats = StoreStats()
        self._readers = readers
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._sync_commits = False  # under _conn_lock: whether synchronous is FULL
        # The writer's connection, used by the writer thread and by inline appends, one at a
        # time (_conn_lock). _pending counts queued writes not yet committed: an append may go
        # inline only when it is 0, so it never overtakes an earlier queued one.
        self._conn: sqlite3.Connection | None = None
        self._conn_lock = threading.Lock()
        self._pending = 0
        self._pending_lock = threading.Lock()
        # Under _conn_lock: commits and events since the last checkpoint.
        self._since_checkpoint = (0, 0)

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        _private_file(self.path)
        ready: ThreadFuture[None] = ThreadFuture()
        writer = threading.Thread(
            target=self._write_loop, args=(ready,), name="aworld-store-writer", daemon=True
        )
        writer.start()
        await asyncio.wrap_future(ready)
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(self._readers, thread_name_prefix="aworld-store-read")
        self._writer = writer

    async def close(self) -> None:
        writer, pool = self._writer, self._pool
        if writer is None or pool is None:
            return
        # From here on new calls fail; everything queued before the stop marker is written.
        self._writer = self._pool = None
        self._queue.put(None)
        await asyncio.to_thread(writer.join)
        await asyncio.to_thread(pool.shutdown)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    # --- writes ---------------------------------------------------------------------------

    async def append(self, events: Sequence[Event], *, sync: bool = False) -> None:
        # Through the queue: concurrent appends of independent callers share commits.
        await self._enqueue(events, sync=sync, inline=False)

    def enqueue(self, events: Sequence[Event], *, sync: bool = False) -> asyncio.Future[None]:
        """As the store protocol says; for a caller that batches its appends already (the
        event manager: one per loop iteration), a small one may be committed at once."""
        return self._enqueue(events, sync=sync, inline=True)

    def _enqueue(
        self, events: Sequence[Event], *, sync: bool, inline: bool
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not events:
            future.set_result(None)
            return future
        if self._writer is None:
            raise FailedPrecondition("event store is not open")
        write = _Write(future, events, sync=sync)
        inline = inline and not sync and len(events) <= _INLINE_MAX
        if inline and self._claim_idle_writer():
            try:
                outcome = self._commit_now(write)
            finally:
                self._conn_lock.release()
            if outcome is not None:
                _settle(outcome.items())
                return future
        self._queue_write(write)
        return future

    def _commit_now(self, write: _Write) -> dict[_Write, BaseException | None] | None:
        """Commit one write on this thread (holding _conn_lock); None when another
        connection holds the file's write lock: then it is the writer's, which waits."""
        assert self._conn is not None
        try:
            outcome = self._write_batch(self._conn, [write], wait_for_lock=False)
        except _Busy:
            return None
        if self._checkpoint_due():
            checkpoint = _Write(asyncio.get_running_loop().create_future(), (), checkpoint=True)
            self._queue_write(checkpoint)
        return outcome

    def _claim_idle_writer(self) -> bool:
        """Take the writer's connection if nothing is queued or being written."""
        with self._pending_lock:
            return self._pending == 0 and self._conn_lock.acquire(blocking=False)

    def _queue_write(self, write: _Write) -> None:
        with self._pending_lock:
            self._pending += 1
        self._queue.put(write)

    async def put_session(self, session: Session) -> None:
        write = _Write(asyncio.get_running_loop().create_future(), (), session=session)
        await self._submit(write)

    async def _submit(self, write: _Write) -> None:
        if self._writer is None:
            raise FailedPrecondition("event store is not open")
        self._queue_write(write)
        await write.future

    # --- reads ----------------------------------------------------------------------------

    async def read(self, task_id: str, after_seq: int = 0, limit: int = 0) -> list[Event]:
        sql = "SELECT data FROM events WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        args = (task_id, after_seq, limit or -1)
        return await self._read(lambda c: [Event.from_bytes(r[0]) for r in c.execute(sql, args)])

    async def last_seq(self, task_id: str) -> int:
        sql = "SELECT COALESCE(MAX(seq), 0) FROM events WHERE task_id = ?"
        return await self._read(lambda c: int(c.execute(sql, (task_id,)).fetchone()[0]))

    async def query_events(self, query: EventQuery) -> list[Event]:
        where: list[str] = ["1"]
        args: list[Any] = []
        if query.task_id:
            where.append("task_id = ?")
            args.append(query.task_id)
        for column in ("session_id", "topic", "sender"):
            if value := getattr(query, column):
                where.append(f"{column} = ? AND {column} != ''")
                args.append(value)
        args.append(query.limit if query.limit > 0 else -1)
        sql = f"SELECT data FROM events WHERE {' AND '.join(where)} ORDER BY task_id, seq LIMIT ?"
        return await self._read(lambda c: [Event.from_bytes(r[0]) for r in c.execute(sql, args)])

    async def get_task(self, task_id: str) -> TaskRecord | None:
        return await self._one_task("task_id = ?", task_id)

    async def find_task_by_request_id(self, request_id: str) -> TaskRecord | None:
        if not request_id:
            return None
        return await self._one_task("request_id = ? AND request_id != ''", request_id)

    async def list_tasks(self, query: TaskQuery) -> Page[TaskRecord]:
        where: list[str] = ["1"]
        args: list[Any] = []
        for column in ("session_id", "user_id", "namespace"):
            if value := getattr(query, column):
                where.append(f"{column} = ?")
                args.append(value)
        if query.statuses:
            where.append(f"status IN ({', '.join('?' * len(query.statuses))})")
            args.extend(int(s) for s in query.statuses)
        after = _decode_page_token(query.page_token)
        if after is not None:
            where.append("(created_us, task_id) < (?, ?)")
            args.extend(after)
        size = query.page_size if query.page_size > 0 else _DEFAULT_PAGE_SIZE
        sql = (
            f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE {' AND '.join(where)} "
            f"ORDER BY created_us DESC, task_id DESC LIMIT {size + 1}"
        )
        rows = await self._read(lambda c: c.execute(sql, args).fetchall())
        page = Page([_record(r) for r in rows[:size]])
        if len(rows) > size:
            last = rows[size - 1]
            page.next_page_token = _encode_page_token(last[6], last[0])
        return page

    async def live_tasks(self) -> list[TaskRecord]:
        sql = (
            f"SELECT {_TASK_COLUMNS} FROM tasks t "
            f"WHERE status IN ({', '.join('?' * len(_LIVE))}) ORDER BY created_us, task_id"
        )
        return await self._read(lambda c: [_record(r) for r in c.execute(sql, _LIVE)])

    async def get_session(self, session_id: str) -> Session | None:
        sql = "SELECT data FROM sessions WHERE id = ?"
        row = await self._read(lambda c: c.execute(sql, (session_id,)).fetchone())
        return None if row is None else Session.from_bytes(row[0])

    async def list_sessions(self, user_id: str, page_size: int, page_token: str) -> Page[Session]:
        where: list[str] = ["1"]
        args: list[Any] = []
        if user_id:
            where.append("user_id = ?")
            args.append(user_id)
        after = _decode_page_token(page_token)
        if after is not None:
            where.append("(created_us, id) < (?, ?)")
            args.extend(after)
        size = page_size if page_size > 0 else _DEFAULT_PAGE_SIZE
        sql = (
            f"SELECT created_us, id, data FROM sessions WHERE {' AND '.join(where)} "
            f"ORDER BY created_us DESC, id DESC LIMIT {size + 1}"
        )
        rows = await self._read(lambda c: c.execute(sql, args).fetchall())
        page = Page([Session.from_bytes(r[2]) for r in rows[:size]])
        if len(rows) > size:
            page.next_page_token = _encode_page_token(rows[size - 1][0], rows[size - 1][1])
        return page

    async def _one_task(self, condition: str, value: str) -> TaskRecord | None:
        sql = f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE {condition}"
        row = await self._read(lambda c: c.execute(sql, (value,)).fetchone())
        return None if row is None else _record(row)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._pool is None:
            raise FailedPrecondition("event store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._reader()))

    def _reader(self) -> sqlite3.Connection:
        """This pool thread's read connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False only so close() can close it after the pool has stopped.
            conn = _connect(self.path, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    # --- writer thread --------------------------------------------------------------------

    def _write_loop(self, ready: ThreadFuture[None]) -> None:
        try:
            conn = _connect(self.path, check_same_thread=False)
            self._sync_commits = False  # _connect sets synchronous = NORMAL
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # see _CHECKPOINT_EVENTS
            _create_schema(conn)
        except BaseException as exc:
            ready.set_exception(exc)
            return
        self._conn = conn
        ready.set_result(None)
        try:
            stopping = False
            while not stopping:
                batch: list[_Write] = []
                item = self._queue.get()
                while item is not None:
                    batch.append(item)
                    if len(batch) == _MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                stopping = item is None
                if batch:
                    with self._conn_lock:
                        outcome = self._write_batch(conn, batch)
                        if self._checkpoint_due() or any(w.checkpoint for w in batch):
                            self._checkpoint(conn)
                    self._settle_threadsafe(outcome)
        finally:
            with self._conn_lock:
                self._conn = None
                conn.close()

    def _checkpoint_due(self) -> bool:
        commits, events = self._since_checkpoint
        return commits >= _CHECKPOINT_COMMITS or events >= _CHECKPOINT_EVENTS

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self.stats.checkpoints += 1
        except sqlite3.Error:  # e.g. busy: the next one goes on from where this one got
            logger.warning("WAL checkpoint failed", exc_info=True)
        self._since_checkpoint = (0, 0)

    def _settle_threadsafe(self, outcome: dict[_Write, BaseException | None]) -> None:
        """Resolve futures on their loops with one wake-up per loop, not one per caller. The
        writes stop counting as pending only there, after their futures: an inline commit of a
        later write must not settle (and be seen) before an earlier one."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Write, BaseException | None]]] = {}
        for write, exc in outcome.items():
            by_loop.setdefault(write.future.get_loop(), []).append((write, exc))
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._settled, results)
            except RuntimeError:  # a closed loop: nobody is waiting there any more
                self._written(len(results))

    def _settled(self, results: list[tuple[_Write, BaseException | None]]) -> None:
        _settle(results)
        self._written(len(results))

    def _written(self, count: int) -> None:
        with self._pending_lock:
            self._pending -= count

    def _write_batch(
        self, conn: sqlite3.Connection, batch: list[_Write], *, wait_for_lock: bool = True
    ) -> dict[_Write, BaseException | None]:
        """Write the batch in one transaction; every write's outcome (None: committed).
        Raises _Busy, having written nothing, when not ``wait_for_lock`` and another
        connection holds the write lock."""
        outcome: dict[_Write, BaseException | None] = {}
        # Checkpoint requests (of inline commits) have nothing to write: the writer loop
        # checkpoints after the batch.
        outcome.update(dict.fromkeys(w for w in batch if w.checkpoint))
        try:
            now_us = _to_us(datetime.now(UTC))
            ready: list[tuple[_Write, _Rows]] = []
            for write in batch:
                if write.checkpoint:
                    continue
                try:
                    ready.append((write, _rows_of(write, now_us)))
                except Exception as exc:  # an event that cannot be serialised fails its call
                    outcome[write] = exc
            if ready:
                outcome.update(self._commit(conn, ready, wait_for_lock))
        except _Busy:
            raise
        except BaseException as exc:
            # Unexpected (disk full, I/O error): nothing of the batch is committed. The futures
            # must be settled whatever happens, or their callers wait forever.
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            outcome.update((w, exc) for w in batch if outcome.get(w) is None)
        return outcome

    def _commit(
        self, conn: sqlite3.Connection, ready: list[tuple[_Write, _Rows]], wait_for_lock: bool
    ) -> dict[_Write, BaseException | None]:
        outcome: dict[_Write, BaseException | None] = {w: None for w, _ in ready}
        sync = any(w.sync for w, _ in ready)
        if sync != self._sync_commits:
            # FULL: this commit fsyncs the WAL. NORMAL: the OS writes it back later, which
            # survives a crash of this process but not of the machine.
            conn.execute(f"PRAGMA synchronous = {'FULL' if sync else 'NORMAL'}")
            self._sync_commits = sync
        if wait_for_lock:
            conn.execute("BEGIN IMMEDIATE")
        else:
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # locked by another connection
                raise _Busy from exc
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        try:
            _Rows.merged(r for _, r in ready).apply(conn)
        except sqlite3.IntegrityError:
            # Rare: some call conflicts. Redo call by call so only the offending calls fail.
            conn.execute("ROLLBACK")
            conn.execute("BEGIN IMMEDIATE")
            for write, rows in ready:
                conn.execute("SAVEPOINT one_call")
                try:
                    rows.apply(conn)
                except sqlite3.IntegrityError as exc:
                    conn.execute("ROLLBACK TO one_call")
                    outcome[write] = _conflict(write, exc)
                conn.execute("RELEASE one_call")
        conn.execute("COMMIT")
        self.stats.commits += 1
        self.stats.syncs += int(sync)
        committed = sum(len(w.events) for w, exc in outcome.items() if exc is None)
        self.stats.events += committed
        commits, events = self._since_checkpoint
        self._since_checkpoint = (commits + 1, events + committed)
        return outcome


@dataclass(slots=True, eq=False)
class _Write:
    """One caller's request to the writer thread: events to append or a session to put."""

    future: asyncio.Future[None]
    events: Sequence[Event]
    sync: bool = False
    session: Session | None = None
    checkpoint: bool = False  # a request to checkpoint the WAL (nothing to write)


class _Busy(Exception):
    """Another connection holds the database's write lock (an inline commit does not wait)."""


@dataclass(slots=True)
class _Rows:
    """The SQL parameters of one or more writes, in statement order."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    statuses: list[tuple[Any, ...]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def merged(cls, parts: Iterable[_Rows]) -> _Rows:
        out = cls()
        for part in parts:
            out.events += part.events
            out.tasks += part.tasks
            out.statuses += part.statuses
            out.sessions += part.sessions
        return out

    def apply(self, conn: sqlite3.Connection) -> None:
        # Records are inserted before status updates so a task submitted and started in the
        # same batch ends with its latest status.
        conn.executemany(_INSERT_EVENT, self.events)
        if self.tasks:
            conn.executemany(_INSERT_TASK, self.tasks)
        if self.statuses:
            conn.executemany(_UPDATE_STATUS, self.statuses)
        if self.sessions:
            conn.executemany(_UPSERT_SESSION, self.sessions)


def _rows_of(write: _Write, now_us: int) -> _Rows:
    rows = _Rows()
    for event in write.events:
        body = event.body
        time_us = _to_us(event.time) if event.time is not None else now_us
        if isinstance(body, TaskSubmitted):
            r = _submitted_record(event, body, _from_us(time_us))
            status = int(r.status)
            rows.tasks.append(
                (
                    r.task_id,
                    r.name,
                    r.session_id,
                    r.user_id,
                    r.request_id,
                    status,
                    time_us,
                    time_us,
                    r.namespace,
                )
            )
        elif isinstance(body, TaskStatusChanged):
            rows.statuses.append((int(body.status), time_us, event.task_id))
        kind, topic, sender = _index_fields(event)
        data = event.to_bytes()
        rows.events.append(
            (event.task_id, event.seq, event.session_id, kind, topic, sender, time_us, data)
        )
    if (s := write.session) is not None:
        rows.sessions.append(
            {
                "id": s.id,
                "user_id": s.user_id,
                "created_us": None if s.created_at is None else _to_us(s.created_at),
                "updated_us": now_us if s.updated_at is None else _to_us(s.updated_at),
                "now_us": now_us,
                "data": s.to_bytes(),
            }
        )
    return rows


def _conflict(write: _Write, exc: sqlite3.IntegrityError) -> FailedPrecondition:
    text = str(exc)
    if "tasks.request_id" in text:
        what = "request_id already used by another task"
    elif "tasks.task_id" in text:
        what = "task already submitted"
    else:
        what = "an event with the same (task_id, seq) already exists"
    tasks = sorted({e.task_id for e in write.events})
    return FailedPrecondition(f"append for task {', '.join(tasks)} rejected: {what}")


def _settle(results: Iterable[tuple[_Write, BaseException | None]]) -> None:
    for write, exc in results:
        future = write.future
        if future.done():  # the caller was cancelled
            continue
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)


def _private_file(path: Path) -> None:
    """Create the database file readable by its owner only (0600, in a 0700 directory) before
    SQLite opens it: task inputs and outputs live there, and SQLite gives its WAL and shared
    memory files the database file's permissions."""
    created = not path.parent.exists()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if created:
        path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):  # stores made before this kept 0644
            file.chmod(0o600)


def _connect(path: Path, *, check_same_thread: bool) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN/COMMIT), never implicit.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=check_same_thread, timeout=_BUSY_TIMEOUT_S
    )
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _create_schema(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > _SCHEMA_VERSION:
        raise FailedPrecondition(
            f"event store schema version {version} is newer than this server's {_SCHEMA_VERSION}"
        )
    # Version 2 added tasks.namespace; tasks stored before belong to the default namespace.
    upgrade = "ALTER TABLE tasks ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default';"
    conn.executescript(
        f"BEGIN; {upgrade if version == 1 else ''} {_SCHEMA} "
        f"PRAGMA user_version = {_SCHEMA_VERSION}; COMMIT;"
    )


def _record(row: Sequence[Any]) -> TaskRecord:
    task_id, name, session_id, user_id, request_id, status, created_us, updated_us, ns, last = row
    return TaskRecord(
        task_id=task_id,
        name=name,
        session_id=session_id,
        user_id=user_id,
        request_id=request_id,
        status=TaskStatus(status),
        created_at=_from_us(created_us),
        updated_at=_from_us(updated_us),
        namespace=ns,
        last_seq=last,
    )


# --- shared with MemoryEventStore, so both stores derive and page identically ---------------

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def _to_us(value: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC (as protobuf does)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def _from_us(us: int) -> datetime:
    return _EPOCH + us * _MICROSECOND


def _index_fields(event: Event) -> tuple[str, str, str]:
    """The event's body kind and, for a MessageEmitted, its message topic and sender."""
    body = event.body
    if isinstance(body, MessageEmitted) and body.message is not None:
        return "MessageEmitted", body.message.topic, body.message.sender
    return ("" if body is None else type(body).__name__), "", ""


def _submitted_record(event: Event, body: TaskSubmitted, at: datetime) -> TaskRecord:
    """The record a TaskSubmitted event creates; ``at`` is the event's time."""
    task = body.task
    return TaskRecord(
        task_id=event.task_id,
        name=task.name if task else "",
        session_id=(task.session_id if task else "") or event.session_id,
        user_id=task.user_id if task else "",
        request_id=body.request_id,
        namespace=namespace_of(task.headers) if task else DEFAULT_NAMESPACE,
        status=TaskStatus.PENDING,
        created_at=at,
        updated_at=at,
    )


def _encode_page_token(created_us: int, key: str) -> str:
    """An opaque token for the page after the item with this sort key."""
    raw = json.dumps([created_us, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_page_token(token: str) -> tuple[int, str] | None:
    """The sort key in ``token``; None for the first page. Raises InvalidArgument if garbled."""
    if not token:
        return None
    try:
        created_us, key = json.loads(base64.urlsafe_b64decode(token))
    except (ValueError, TypeError, binascii.Error):
        created_us = key = None
    if type(created_us) is not int or not isinstance(key, str):
        raise InvalidArgument(
            "invalid page token",
            [FieldViolation("page_token", "not a token returned by a previous call")],
        )
    return created_us, key
