"""Redis event store: the event log, the task index and the sessions in one Redis, written by
one Lua script per group of appends so each group is atomic.

Keys (``{p}`` is the prefix, ``aworld:`` by default):

* ``{p}log:{task}``: a sorted set scored by seq; each member is the seq (20 digits) and ``:``
  then the event's protobuf bytes, so one ZRANGEBYSCORE reads a range of the log in order;
* ``{p}task:{task}``: the :class:`TaskRecord` (a hash); ``{p}req``: request id -> task id;
  ``{p}tasks`` and ``{p}tasks:{s|u|n}:{value}``: task ids scored by creation time (all, by
  session, user, namespace); ``{p}live``: the tasks whose status is not terminal;
* ``{p}ev:{s|t|n}:{value}``: the tasks with events of a session, message topic, sender (a
  query reads those tasks' logs: queries are rare audit tools, appends are the hot path);
* ``{p}session:{id}`` (a hash) and ``{p}sessions``, ``{p}sessions:u:{user}`` for listing;
* ``{p}epoch``: a random id written when the store first opens this Redis.

Writes: ``append`` queues the call and awaits a future; one writer coroutine sends everything
queued (up to ``_MAX_BATCH`` calls) as one EVALSHA (group commit). The script checks each call
before writing any of it — a seq already stored, a task submitted twice, a request id in use —
so a conflicting call fails alone with ``FailedPrecondition`` and writes nothing, while the
others of the group are written, records and indexes in the same atomic step as the events.

Fencing (replicas, ``aworld_server.replicas``): ``{p}fence:{task}`` is the task's latest lease
token. A call carries the writer's token for each of its tasks that it holds (``fences``), and
the script refuses a call for a task whose fence key holds another token (``AWORLD_FENCED``),
so a replica that lost a task's lease cannot write to its log; ``on_fenced`` tells it.

The epoch: ``open`` remembers the Redis's epoch in ``epoch_file`` (in the server's data dir).
Every write checks it inside its script, and reads check it in the same round trip, so a
Redis that lost its data — restarted without persistence, flushed, or another Redis at the
same address — is refused loudly (:class:`RedisDataLost`) instead of being taken for an empty
store, until an operator deletes the file. :meth:`check` is the health probe.

Durability is Redis's: ``append`` returns once Redis has applied the script, which survives
a crash of this process. Surviving a crash of Redis needs ``appendonly yes``; ``sync=True``
surviving power loss needs ``appendfsync always`` (Redis replies only after the fsync).
``open`` reads both settings into :attr:`RedisEventStore.persistence` and warns when an
acknowledged write could be lost (README, "Guarantees").

Keys are computed inside the script from the prefix: a standalone Redis, not Redis Cluster.
The script and its argument are in ``_redis_append``, the epoch file in ``_redis_epoch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from aworld_client import Event, Session, TaskStatus
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from aworld_server.errors import FailedPrecondition, Unavailable
from aworld_server.redis_client import connect
from aworld_server.storage._redis_append import APPEND_SCRIPT, call_fields, pack
from aworld_server.storage._redis_epoch import EpochFile, RedisDataLost
from aworld_server.storage._store import EventQuery, Page, PartialWrite, TaskQuery, TaskRecord
from aworld_server.storage.sqlite import (
    _DEFAULT_PAGE_SIZE,
    _decode_page_token,
    _encode_page_token,
    _from_us,
    _index_fields,
    _to_us,
)

__all__ = ["RedisEventStore", "RedisStoreStats"]

_log = logging.getLogger(__name__)

T = TypeVar("T")
V = TypeVar("V")

# Calls per script run. Small enough that, with many writers waiting, the writer serialises the
# next group while Redis runs this one (the two sides overlap on two cores: 79k events/s in
# bench_redis.py against 48k with 256), and Redis (single-threaded) never stalls for long.
_MAX_BATCH: Final = 64
_SCAN_CHUNK: Final = 200
# Loop turns redis-py needs to write a request (pool, connection, send) before the writer
# goes back to serialising the next group.
_TURNS_TO_SEND: Final = 4

_RECORD_FIELDS: Final = (
    "name",
    "session_id",
    "user_id",
    "request_id",
    "status",
    "created_us",
    "updated_us",
    "namespace",
)


@dataclass(slots=True)
class RedisStoreStats:
    """Counters of the writer since the store was created (for tests and benchmarks)."""

    events: int = 0
    """Events written."""
    commits: int = 0
    """Script runs; one per group of appends, not one per append."""


@dataclass(slots=True, eq=False)
class _Write:
    future: asyncio.Future[None]
    events: Sequence[Event]
    session: Session | None = None
    tasks: dict[str, list[Event]] | None = None  # split per task (fencing on), else None


def _split_by_task(events: Sequence[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for event in events:
        out.setdefault(event.task_id, []).append(event)
    return out


class RedisEventStore:
    """:class:`~aworld_server.storage.EventStore` in Redis (see the module docstring).

    ``client`` is a redis-py asyncio client (closed by :meth:`close`); ``epoch_file`` is
    where the Redis's epoch is remembered across restarts of this server.
    """

    def __init__(self, client: aioredis.Redis, *, epoch_file: Path, prefix: str = "aworld:"):
        self.client = client
        self.prefix = prefix
        self.epoch_file = Path(epoch_file)
        self._epochs = EpochFile(self.epoch_file)
        self.stats = RedisStoreStats()
        self.persistence = "unknown"
        """``appendonly``/``appendfsync`` as Redis reported them at open."""
        self.epoch = ""
        self._lost: RedisDataLost | None = None
        self._script = client.register_script(APPEND_SCRIPT)
        self._queue: list[_Write] = []
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self.fences: dict[str, str] = {}
        """Task id -> this writer's fencing token, for the tasks whose lease it holds (set by
        :class:`~aworld_server.runtime.leases.Leases`): the append script refuses a write whose
        token is not the task's latest. With any set, a write is sent as one call per task, so
        a refused task fails alone (``PartialWrite``)."""
        self.on_fenced: Callable[[str], None] | None = None
        """Told of each task whose write was refused because another replica took it over."""

    @classmethod
    def from_url(cls, url: str, *, epoch_file: Path, prefix: str = "aworld:") -> RedisEventStore:
        return cls(connect(url), epoch_file=epoch_file, prefix=prefix)

    # -- lifecycle --------------------------------------------------------------------------
    async def open(self) -> None:
        if self._writer is not None:
            return
        self.epoch = await self._adopt_epoch()
        self.persistence = await self._persistence()
        self._closing = False
        self._wake = asyncio.Event()
        self._writer = asyncio.create_task(self._write_loop(), name="redis-store:writer")

    async def close(self) -> None:
        writer = self._writer
        if writer is None:
            return
        self._closing = True
        assert self._wake is not None
        self._wake.set()
        await writer  # writes already queued complete first
        self._writer = None
        await self.client.aclose()

    async def check(self) -> None:
        """Raise unless Redis answers and still holds this store's epoch (health probes)."""
        if self._lost is not None:
            raise self._lost
        try:
            found = await _retrying(lambda: self.client.get(self._key("epoch")))
        except _UNREACHABLE as error:
            raise Unavailable(f"Redis unreachable: {error}") from error
        self._verify(found)

    async def _adopt_epoch(self) -> str:
        """The epoch this store works with: the remembered one, which Redis must still hold;
        on a first open, Redis's (another server's) or a new one."""
        key = self._key("epoch")
        remembered = self._epochs.read(self.prefix)
        try:
            if remembered:
                self._verify(await self.client.get(key), remembered)
                return remembered
            fresh = uuid.uuid4().hex
            await self.client.set(key, fresh, nx=True)
            found = await self.client.get(key)
        except RedisError as error:
            raise Unavailable(f"Redis unreachable: {error}") from error
        epoch = found.decode() if isinstance(found, bytes) else str(found)
        self._epochs.write(self.prefix, epoch)
        return epoch

    def _verify(self, found: Any, expected: str = "") -> None:
        expected = expected or self.epoch
        value = found.decode() if isinstance(found, bytes) else found
        if value == expected:
            return
        self._lost = self._epochs.lost(value, expected)
        _log.error("%s", self._lost)
        raise self._lost

    async def _persistence(self) -> str:
        try:
            settings = await self.client.config_get("append*")
        except ResponseError:  # CONFIG disabled (managed Redis): say so, do not guess
            return "unknown (CONFIG GET is not allowed)"
        appendonly = str(settings.get("appendonly", "?"))
        fsync = str(settings.get("appendfsync", "?"))
        if appendonly != "yes":
            _log.warning(
                "Redis runs without an AOF (appendonly %s): a Redis restart loses every "
                "acknowledged write, and this store will then refuse to start (epoch check)",
                appendonly,
            )
        elif fsync != "always":
            _log.warning(
                "Redis fsyncs its AOF %s: an OS crash or power loss can lose writes "
                "acknowledged with sync=True (appendfsync always makes them durable)",
                fsync,
            )
        return f"appendonly {appendonly}, appendfsync {fsync}"

    # -- writes -----------------------------------------------------------------------------
    async def append(self, events: Sequence[Event], *, sync: bool = False) -> None:
        await self.enqueue(events, sync=sync)

    def enqueue(self, events: Sequence[Event], *, sync: bool = False) -> asyncio.Future[None]:
        # ``sync`` asks nothing more of Redis than a plain write: its AOF policy decides (see
        # the module docstring), and open() warns when that policy is weaker.
        del sync
        return self._submit(_Write(asyncio.get_running_loop().create_future(), events))

    async def put_session(self, session: Session) -> None:
        future = asyncio.get_running_loop().create_future()
        await self._submit(_Write(future, (), session))

    def _submit(self, write: _Write) -> asyncio.Future[None]:
        if self._writer is None or self._closing or self._wake is None:
            write.future.set_exception(FailedPrecondition("event store is not open"))
        elif self._lost is not None:
            write.future.set_exception(self._lost)
        else:
            self._queue.append(write)
            self._wake.set()
        return write.future

    async def _write_loop(self) -> None:
        assert self._wake is not None
        sending: asyncio.Task[None] | None = None
        while True:
            if not self._queue:
                if sending is not None:  # the group on its way, then look again
                    await sending
                    sending = None
                elif self._closing:
                    return
                else:
                    await self._wake.wait()
                    self._wake.clear()
                continue
            batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
            # Serialising this group overlaps with Redis running the previous one (on
            # another core); one group at a time in Redis keeps groups in queue order.
            group = self._prepare(batch)
            if sending is not None:
                await sending
                sending = None
            if group is not None:
                sending = asyncio.create_task(self._commit(*group))
                for _ in range(_TURNS_TO_SEND):
                    await asyncio.sleep(0)  # let it put its request on the wire first

    def _prepare(self, batch: list[_Write]) -> tuple[list[_Write], list[Any]] | None:
        """The calls that could be serialised and the script's arguments for them."""
        now_us = _to_us(datetime.now(UTC))
        fields: list[Any] = [0]
        ready: list[_Write] = []
        calls = 0
        for write in batch:
            write.tasks = _split_by_task(write.events) if self.fences and write.events else None
            parts = [write.events] if write.tasks is None else list(write.tasks.values())
            try:
                serialised: list[Any] = []
                for events in parts:
                    serialised += call_fields(events, write.session, now_us, self.fences)
            except Exception as error:  # an event that cannot be serialised fails its call
                _settle(write.future, error)
                continue
            fields += serialised
            calls += len(parts)
            ready.append(write)
        if not ready:
            return None
        fields[0] = calls
        args = [self.epoch, self.prefix, pack(fields)]
        return ready, args

    async def _commit(self, ready: list[_Write], args: list[Any]) -> None:
        """Run the group's script and settle every caller's future, whatever happens (an
        unsettled future would make its caller wait forever)."""
        outcome: list[Any] | BaseException
        try:
            outcome = await self._run_script(args)
        except asyncio.CancelledError:
            for write in ready:
                _settle(write.future, FailedPrecondition("event store closed while writing"))
            raise
        except BaseException as error:  # unexpected: each caller gets the error
            outcome = error
        if not isinstance(outcome, list):
            for write in ready:
                _settle(write.future, outcome)
            return
        self.stats.commits += 1
        results = iter(outcome)
        for write in ready:
            if write.tasks is None:
                self._settle_call(write, write.events, next(results))
                continue
            failed: dict[str, BaseException] = {}
            for task_id, events in write.tasks.items():
                refused = self._refusal(events, next(results))
                if refused is not None:
                    failed[task_id] = refused
            if not failed:
                self.stats.events += len(write.events)
                _settle(write.future, None)
            elif len(write.tasks) == 1:
                _settle(write.future, next(iter(failed.values())))
            else:
                self.stats.events += sum(
                    len(events) for task_id, events in write.tasks.items() if task_id not in failed
                )
                _settle(write.future, PartialWrite(failed))

    def _settle_call(self, write: _Write, events: Sequence[Event], result: Any) -> None:
        error = self._refusal(events, result)
        if error is None:
            self.stats.events += len(events)
        _settle(write.future, error)

    def _refusal(self, events: Sequence[Event], result: Any) -> FailedPrecondition | None:
        """None for a call the script wrote, else why it refused it."""
        if result == 0:
            return None
        reason = result.decode() if isinstance(result, bytes) else str(result)
        tasks = sorted({e.task_id for e in events})
        if reason.startswith("AWORLD_FENCED") and self.on_fenced is not None:
            for task_id in tasks:
                self.on_fenced(task_id)
        return FailedPrecondition(f"append for task {', '.join(tasks)} rejected: {reason}")

    async def _run_script(self, args: list[Any]) -> list[Any] | BaseException:
        """The script's per-call results, or the error every call of the group gets."""
        # A group that may have run before its connection broke is sent again under the same
        # id: the script then answers with the outcome it recorded instead of running twice.
        keys = [self._key("epoch"), self._key(f"group:{uuid.uuid4().hex}")]
        try:
            return list(await _retrying(lambda: self._script(keys=keys, args=args)))
        except ResponseError as error:
            if "AWORLD_EPOCH" not in str(error):
                return error
            with contextlib.suppress(RedisDataLost):
                self._verify(await self.client.get(self._key("epoch")))
            return self._lost or RedisDataLost(str(error))
        except _UNREACHABLE as error:
            # Still unreachable after the retries: whether the group ran is unknown (a script
            # runs whole or not at all); a reader finds out.
            return Unavailable(f"Redis unreachable: {error}")

    # -- reads ------------------------------------------------------------------------------
    async def read(self, task_id: str, after_seq: int = 0, limit: int = 0) -> list[Event]:
        members = await self._read(
            lambda pipe: pipe.zrangebyscore(
                self._key(f"log:{task_id}"),
                f"({after_seq}",
                "+inf",
                start=0 if limit else None,
                num=limit or None,
            )
        )
        return [_event(m) for m in members]

    async def last_seq(self, task_id: str) -> int:
        top = await self._read(
            lambda pipe: pipe.zrevrange(self._key(f"log:{task_id}"), 0, 0, withscores=True)
        )
        return int(top[0][1]) if top else 0

    async def query_events(self, query: EventQuery) -> list[Event]:
        limit = query.limit if query.limit > 0 else None
        indexed = [
            (f"ev:s:{query.session_id}", query.session_id),
            (f"ev:t:{query.topic}", query.topic),
            (f"ev:n:{query.sender}", query.sender),
        ]
        out: list[Event] = []
        if query.task_id:
            candidates = self._task_events([query.task_id])
        elif index := next((key for key, value in indexed if value), None):
            candidates = self._indexed_events(self._key(index))
        else:
            all_tasks = await self._read(lambda pipe: pipe.zrange(self._key("tasks"), 0, -1))
            logs = {_text(k).removeprefix(self._key("log:")) for k in await self._log_keys()}
            candidates = self._task_events(sorted(logs | {_text(t) for t in all_tasks}))
        async for event in candidates:
            _, topic, sender = _index_fields(event)
            if (
                (not query.session_id or event.session_id == query.session_id)
                and (not query.topic or topic == query.topic)
                and (not query.sender or sender == query.sender)
            ):
                out.append(event)
                if limit is not None and len(out) >= limit:
                    break
        return out

    async def _log_keys(self) -> list[Any]:
        return [key async for key in self.client.scan_iter(match=f"{self._key('log:')}*")]

    async def _task_events(self, task_ids: list[str]) -> Any:
        for task_id in task_ids:
            for event in await self.read(task_id):
                yield event

    async def _indexed_events(self, key: str) -> Any:
        """The events of the tasks in an index, by (task, seq); the caller filters them."""
        start = b"-"
        while True:
            chunk = await self._command("zrangebylex", key, start, "+", start=0, num=_SCAN_CHUNK)
            if not chunk:
                return
            async for event in self._task_events([_text(t) for t in chunk]):
                yield event
            start = b"(" + chunk[-1]

    async def get_task(self, task_id: str) -> TaskRecord | None:
        records = await self._records([task_id])
        return records[0]

    async def find_task_by_request_id(self, request_id: str) -> TaskRecord | None:
        if not request_id:
            return None
        task_id = await self._read(lambda pipe: pipe.hget(self._key("req"), request_id))
        return None if task_id is None else await self.get_task(_text(task_id))

    async def list_tasks(self, query: TaskQuery) -> Page[TaskRecord]:
        if query.session_id:
            index = f"tasks:s:{query.session_id}"
        elif query.user_id:
            index = f"tasks:u:{query.user_id}"
        elif query.namespace:
            index = f"tasks:n:{query.namespace}"
        else:
            index = "tasks"
        statuses = set(query.statuses)

        def wanted(r: TaskRecord) -> bool:
            return (
                (not query.session_id or r.session_id == query.session_id)
                and (not query.user_id or r.user_id == query.user_id)
                and (not query.namespace or r.namespace == query.namespace)
                and (not statuses or r.status in statuses)
            )

        async def records(ids: list[str]) -> list[TaskRecord | None]:
            return await self._records(ids)

        return await self._page(
            self._key(index), query.page_size, query.page_token, records, wanted
        )

    async def live_tasks(self) -> list[TaskRecord]:
        ids = await self._read(lambda pipe: pipe.zrange(self._key("live"), 0, -1, withscores=True))
        ordered = sorted(ids, key=lambda item: (item[1], item[0]))
        found = await self._records([_text(i) for i, _ in ordered])
        return [r for r in found if r is not None and not r.status.is_terminal]

    async def get_session(self, session_id: str) -> Session | None:
        data = await self._read(lambda pipe: pipe.hget(self._key(f"session:{session_id}"), "data"))
        return None if data is None else Session.from_bytes(data)

    async def list_sessions(self, user_id: str, page_size: int, page_token: str) -> Page[Session]:
        index = f"sessions:u:{user_id}" if user_id else "sessions"

        async def sessions(ids: list[str]) -> list[Session | None]:
            keys = [self._key(f"session:{i}") for i in ids]
            found = await self._read_many(lambda pipe: [pipe.hget(k, "data") for k in keys])
            return [None if d is None else Session.from_bytes(d) for d in found]

        return await self._page(self._key(index), page_size, page_token, sessions, lambda _: True)

    # -- read helpers -----------------------------------------------------------------------
    def _key(self, suffix: str) -> str:
        return f"{self.prefix}{suffix}"

    async def _command(self, name: str, *args: Any, **options: Any) -> Any:
        return await self._read(lambda pipe: getattr(pipe, name)(*args, **options))

    async def _read(self, command: Callable[[Any], Any]) -> Any:
        (result,) = await self._read_many(lambda pipe: [command(pipe)])
        return result

    async def _read_many(self, commands: Callable[[Any], list[Any]]) -> list[Any]:
        """Run read commands in one round trip with a look at the epoch, so a Redis that lost
        its data is not read as an empty store."""
        if self._lost is not None:
            raise self._lost
        if not self.epoch:
            raise FailedPrecondition("event store is not open")

        async def attempt() -> list[Any]:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(self._key("epoch"))
                commands(pipe)
                return list(await pipe.execute())

        try:
            epoch, *results = await _retrying(attempt)
        except _UNREACHABLE as error:
            raise Unavailable(f"Redis unreachable: {error}") from error
        self._verify(epoch)
        return results

    async def _records(self, task_ids: list[str]) -> list[TaskRecord | None]:
        if not task_ids:
            return []

        def commands(pipe: Any) -> list[Any]:
            for task_id in task_ids:
                pipe.hmget(self._key(f"task:{task_id}"), _RECORD_FIELDS)
                pipe.zrevrange(self._key(f"log:{task_id}"), 0, 0, withscores=True)
            return []

        results = await self._read_many(commands)
        out: list[TaskRecord | None] = []
        for i, task_id in enumerate(task_ids):
            fields, top = results[2 * i], results[2 * i + 1]
            out.append(_record(task_id, fields, int(top[0][1]) if top else 0))
        return out

    async def _page(
        self,
        index: str,
        size: int,
        token: str,
        load: Callable[[list[str]], Awaitable[list[V | None]]],
        wanted: Callable[[V], bool],
    ) -> Page[V]:
        """Newest first by (score, id) in ``index``, after the key in ``token``."""
        size = size if size > 0 else _DEFAULT_PAGE_SIZE
        after = _decode_page_token(token)
        maximum: Any = "+inf" if after is None else after[0]
        items: list[tuple[int, str, V]] = []
        offset = 0
        while len(items) <= size:
            chunk = await self._command(
                "zrevrangebyscore",
                index,
                maximum,
                "-inf",
                start=offset,
                num=_SCAN_CHUNK,
                withscores=True,
            )
            if not chunk:
                break
            offset += len(chunk)
            keyed = [(int(score), _text(member)) for member, score in chunk]
            if after is not None:
                keyed = [k for k in keyed if k < after]
            loaded = await load([member for _, member in keyed])
            for (score, member), value in zip(keyed, loaded, strict=True):
                if value is not None and wanted(value):
                    items.append((score, member, value))
        page = Page([value for _, _, value in items[:size]])
        if len(items) > size:
            page.next_page_token = _encode_page_token(items[size - 1][0], items[size - 1][1])
        return page


_ATTEMPTS: Final = 5
_UNREACHABLE: Final = (RedisConnectionError, RedisTimeout)


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, again after a connection error (a pooled connection Redis closed when it
    restarted fails once), backing off up to about a second in all."""
    delay = 0.05
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await call()
        except _UNREACHABLE:
            if attempt == _ATTEMPTS:
                raise
        await asyncio.sleep(delay)  # backoff between attempts, not synchronisation
        delay *= 2
    raise AssertionError("unreachable")


def _event(member: bytes) -> Event:
    return Event.from_bytes(member[21:])  # after "<20-digit seq>:" (see APPEND_SCRIPT)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _record(task_id: str, fields: list[Any], last_seq: int) -> TaskRecord | None:
    if fields[0] is None:
        return None
    name, session_id, user_id, request_id, status, created, updated, namespace = (
        _text(f) for f in fields
    )
    return TaskRecord(
        task_id=task_id,
        name=name,
        session_id=session_id,
        user_id=user_id,
        request_id=request_id,
        status=TaskStatus(int(status)),
        created_at=_from_us(int(created)),
        updated_at=_from_us(int(updated)),
        namespace=namespace,
        last_seq=last_seq,
    )


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
