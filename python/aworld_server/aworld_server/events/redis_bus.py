"""``RedisEventBus``: the :class:`~aworld_server.events.bus.EventBus` on Redis Streams.

Each task has one stream (``{prefix}bus:{task_id}``) read through one consumer group; every bus
instance is a consumer of its own name. What a consumer takes it holds in the group's pending
entries list (PEL) until it is done with it:

* ``consume`` reads every entry not yet delivered into a local heap and hands out the lowest
  ``(priority, stream id)`` — the memory bus's (priority, arrival) order. The entry handed out
  is acknowledged (XACK, then XDEL so the stream holds only live entries) when the consumer asks
  for the next one or closes the task: a consumer that dies while handling it has it delivered
  again. A consumer with nothing to take waits for a publish from its own process (woken at
  once) and otherwise looks again every half second; it never holds a pooled connection in a
  blocking read, so thousands of waiting tasks cost no connections.
* While a consumer holds entries it refreshes them (XCLAIM ... JUSTID) every third of
  ``claim_idle``; a dead consumer stops refreshing, and after ``claim_idle`` the next
  ``consume`` of the task, by any bus instance, takes its entries over (XAUTOCLAIM). An entry
  delivered ``max_deliveries`` times and taken over once more — one that keeps killing its
  consumers — goes to the dead-letter stream (``{prefix}bus:dead-letter``) instead.
* ``publish`` waits while the task has ``capacity`` entries not handed out yet (back-pressure,
  checked atomically with the XADD), so a stream never grows past its bound and nothing is
  trimmed away.

``pending`` stays synchronous (the runner's stall check and the metrics gauge call it): it is
the count Redis returned to this instance's last publish or consume for the task — exact while
one process publishes and consumes a task's messages, as a runner does. Subscriptions see the
messages published through this instance. A runner that resumes a task after a crash rebuilds
its messages from the event log, so it does not rely on what a dead run left in the stream.

Keys are computed inside the scripts from the prefix: a standalone Redis (or one hash slot),
not Redis Cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import socket
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Final

import redis.asyncio as aioredis
from aworld_client import Message, MessageCategory

from aworld_server.errors import FailedPrecondition
from aworld_server.events.bus import Subscription
from aworld_server.redis_client import connect, stop_loop

__all__ = ["DeadLetter", "RedisEventBus"]

_log = logging.getLogger(__name__)

_GROUP: Final = "runners"
# Longest wait of an idle consumer before it looks at the stream again (publishes from other
# processes; publishes from this one wake it at once).
_POLL: Final = 0.5

# KEYS: stream, inhand. ARGV: group, capacity, priority, message bytes.
# Returns the entries not handed out after the add, or -1 - that count when full.
_PUBLISH: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
end
local queued = redis.call('XLEN', KEYS[1]) - redis.call('HLEN', KEYS[2])
if queued >= tonumber(ARGV[2]) then return -1 - queued end
redis.call('XADD', KEYS[1], '*', 'p', ARGV[3], 'm', ARGV[4])
return queued + 1
"""

# Acknowledge the entry handed out before (ARGV[3], may be ''), take over entries idle for
# ARGV[5] ms (dead-lettering those delivered more than ARGV[6] times), then read new entries.
# KEYS: stream, inhand, dead-letter. ARGV: group, consumer, ack id, count, min idle ms,
# max deliveries, dead-letter max length, task id.
# Returns {queued, entries...} where each entry is {id, fields}.
_FETCH: Final = """
local stream, inhand, dead = KEYS[1], KEYS[2], KEYS[3]
local group, me = ARGV[1], ARGV[2]
if ARGV[3] ~= '' then
  redis.call('XACK', stream, group, ARGV[3])
  redis.call('XDEL', stream, ARGV[3])
  redis.call('HDEL', inhand, me)
end
if redis.call('EXISTS', stream) == 0 then
  redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
end
local out = {}
local claimed = redis.call('XAUTOCLAIM', stream, group, me, ARGV[5], '0-0', 'COUNT', ARGV[4])
local holders = redis.call('HGETALL', inhand)
for _, entry in ipairs(claimed[2]) do
  local id = entry[1]
  for i = 1, #holders, 2 do
    if holders[i + 1] == id then redis.call('HDEL', inhand, holders[i]) end
  end
  local info = redis.call('XPENDING', stream, group, id, id, 1)
  local deliveries = info[1] and info[1][4] or 1
  if deliveries > tonumber(ARGV[6]) then
    local f = entry[2]
    redis.call('XADD', dead, 'MAXLEN', '~', ARGV[7], '*', 'task_id', ARGV[8], 'id', id,
      'deliveries', deliveries, f[1], f[2], f[3], f[4])
    redis.call('XACK', stream, group, id)
    redis.call('XDEL', stream, id)
  else
    table.insert(out, entry)
  end
end
local new = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', ARGV[4], 'STREAMS', stream, '>')
if new then
  for _, entry in ipairs(new[1][2]) do table.insert(out, entry) end
end
table.insert(out, 1, redis.call('XLEN', stream) - redis.call('HLEN', inhand))
return out
"""

# Hand out ARGV[4] (acknowledging ARGV[3] first, may be ''), if this consumer still holds it.
# KEYS: stream, inhand. ARGV: group, consumer, ack id, id. Returns {held (0/1), queued}.
_HAND_OUT: Final = """
local stream, inhand, group, me = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
if ARGV[3] ~= '' then
  redis.call('XACK', stream, group, ARGV[3])
  redis.call('XDEL', stream, ARGV[3])
  redis.call('HDEL', inhand, me)
end
local info = redis.call('XPENDING', stream, group, ARGV[4], ARGV[4], 1)
local held = 0
if info[1] and info[1][2] == me then
  redis.call('HSET', inhand, me, ARGV[4])
  held = 1
end
return {held, redis.call('XLEN', stream) - redis.call('HLEN', inhand)}
"""

# Reset the idle time of the entries this consumer still holds (without counting a delivery);
# returns the ids it no longer holds (taken over by another consumer).
# KEYS: stream. ARGV: group, consumer, ids...
_KEEP_ALIVE: Final = """
local lost = {}
for i = 3, #ARGV do
  local info = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if info[1] and info[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message taken off a task's stream after too many deliveries."""

    task_id: str
    entry_id: str
    deliveries: int
    message: Message


@dataclass(eq=False)
class _Held:
    """What this consumer holds of one task: entries read but not handed out (a heap by
    (priority, stream id)), and the one handed out, acknowledged on the next take."""

    heap: list[tuple[int, tuple[int, int], str, bytes]] = field(default_factory=list)
    in_hand: str = ""
    subscriptions: list[Subscription] = field(default_factory=list)
    putters: list[asyncio.Future[None]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # a publish from here
    closed: bool = False

    def ids(self) -> list[str]:
        return [entry[2] for entry in self.heap] + ([self.in_hand] if self.in_hand else [])


class RedisEventBus:
    """Event bus on Redis Streams (see the module docstring). Call :meth:`aclose` when done."""

    kind: ClassVar[str] = "redis"

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "aworld:",
        capacity: int = 10_000,
        claim_idle: timedelta = timedelta(seconds=30),
        max_deliveries: int = 5,
        dead_letter_max: int = 10_000,
        consumer: str = "",
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")
        if claim_idle <= timedelta(0):
            raise ValueError("claim_idle must be positive")
        self.client = client
        self.prefix = prefix
        self.capacity = capacity
        self.claim_idle = claim_idle
        self.max_deliveries = max_deliveries
        self.dead_letter_max = dead_letter_max
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.dead_letter_key = f"{prefix}bus:dead-letter"
        self._publish = client.register_script(_PUBLISH)
        self._fetch = client.register_script(_FETCH)
        self._hand_out = client.register_script(_HAND_OUT)
        self._keep_alive = client.register_script(_KEEP_ALIVE)
        self._held: dict[str, _Held] = {}
        self._queued: dict[str, int] = {}  # as Redis last said, for the synchronous pending()
        self._keeper: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisEventBus:
        return cls(connect(url), **options)

    def _keys(self, task_id: str) -> tuple[str, str]:
        stream = f"{self.prefix}bus:{task_id}"
        return stream, f"{stream}:inhand"

    def _task(self, task_id: str) -> _Held:
        held = self._held.get(task_id)
        if held is None:
            held = self._held[task_id] = _Held()
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_held(), name="redis-bus:keep-alive")
        return held

    # -- EventBus -------------------------------------------------------------------------
    async def publish(self, message: Message) -> None:
        if not message.task_id:
            raise ValueError("message.task_id is required")
        task_id = message.task_id
        held = self._task(task_id)
        data = message.to_bytes()
        delay = 0.005
        while True:
            result = int(
                await self._publish(
                    keys=list(self._keys(task_id)),
                    args=[_GROUP, self.capacity, message.priority, data],
                )
            )
            if result >= 0:
                self._queued[task_id] = result
                break
            self._queued[task_id] = -1 - result
            # Full: wait for a take here (woken at once) or elsewhere (polled, backing off).
            waiter = asyncio.get_running_loop().create_future()
            held.putters.append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), delay)
            if waiter in held.putters:
                held.putters.remove(waiter)
            delay = min(delay * 2, 0.2)
            if held.closed or self._held.get(task_id) is not held:
                raise FailedPrecondition(f"task {task_id} ended while publishing")
        held.arrived.set()
        for subscription in held.subscriptions:
            if subscription.matches(message):
                subscription._queue.put_nowait(message)

    async def consume(self, task_id: str) -> Message:
        held = self._task(task_id)
        stream, inhand = self._keys(task_id)
        while True:
            if not held.heap:
                await self._fill(task_id, held, block=True)
                continue
            _, _, entry_id, data = heapq.heappop(held.heap)
            kept, queued = await self._hand_out(
                keys=[stream, inhand], args=[_GROUP, self.consumer, held.in_hand, entry_id]
            )
            held.in_hand = ""
            self._queued[task_id] = int(queued)
            if int(kept):
                held.in_hand = entry_id
                _wake(held.putters)
                return Message.from_bytes(data)
            # Taken over by another consumer while we held it (we stalled): theirs now.

    def subscribe(
        self,
        task_id: str,
        categories: Collection[MessageCategory] = (),
        topics: Collection[str] = (),
    ) -> Subscription:
        subscription = Subscription(frozenset(categories), frozenset(topics))
        self._task(task_id).subscriptions.append(subscription)
        return subscription

    def pending(self, task_id: str) -> int:
        return self._queued.get(task_id, 0)

    async def close_task(self, task_id: str) -> None:
        held = self._held.pop(task_id, None)
        self._queued.pop(task_id, None)
        await self.client.delete(*self._keys(task_id))
        if held is None:
            return
        held.closed = True
        held.arrived.set()
        for subscription in held.subscriptions:
            subscription._queue.put_nowait(None)
        _wake(held.putters)  # blocked publishers wake up and see the task is gone

    # -- beyond the protocol ---------------------------------------------------------------
    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The oldest ``count`` dead-lettered messages (for operators and tests)."""
        out = []
        entries: Any = await self.client.xrange(self.dead_letter_key, count=count)
        for _, fields in entries:
            out.append(
                DeadLetter(
                    task_id=fields[b"task_id"].decode(),
                    entry_id=fields[b"id"].decode(),
                    deliveries=int(fields[b"deliveries"]),
                    message=Message.from_bytes(fields[b"m"]),
                )
            )
        return out

    async def aclose(self) -> None:
        """Stop refreshing held entries and close the connection pool. Entries still held are
        taken over by another consumer after ``claim_idle``."""
        self._closing = True
        if self._keeper is not None:
            await stop_loop(self._keeper)  # bounded: redis-py can swallow the cancel
            self._keeper = None
        await self.client.aclose()

    # -- internals --------------------------------------------------------------------------
    async def _fill(self, task_id: str, held: _Held, *, block: bool) -> None:
        """Acknowledge what was handed out, take over dead consumers' entries, read new
        ones; when there are none and ``block``, wait for one (bounded, to look for dead
        consumers' entries again)."""
        stream, inhand = self._keys(task_id)
        idle_ms = int(self.claim_idle.total_seconds() * 1000)
        reply = await self._fetch(
            keys=[stream, inhand, self.dead_letter_key],
            args=[
                _GROUP,
                self.consumer,
                held.in_hand,
                self.capacity,
                idle_ms,
                self.max_deliveries,
                self.dead_letter_max,
                task_id,
            ],
        )
        if held.in_hand:
            held.in_hand = ""
            _wake(held.putters)
        self._queued[task_id] = int(reply[0])
        entries = reply[1:]
        if not entries and block:
            # Nothing yet: wait for a publish here (woken at once) or look again after a
            # while (a publish elsewhere, or a dead consumer's entries turning idle). No
            # blocking read: it would hold a pooled connection per waiting task.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(held.arrived.wait(), min(idle_ms / 2000, _POLL))
            held.arrived.clear()
            return
        known = set(held.ids())
        for entry_id, fields in entries:
            ident = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            if ident in known:
                continue
            fields = _fields(fields)
            heapq.heappush(
                held.heap, (int(fields[b"p"]), _stream_order(ident), ident, fields[b"m"])
            )

    async def _keep_held(self) -> None:
        """Refresh held entries so no other consumer takes them over while this one lives."""
        while not self._closing:
            await asyncio.sleep(self.claim_idle.total_seconds() / 3)
            for task_id, held in list(self._held.items()):
                ids = held.ids()
                if not ids:
                    continue
                try:
                    lost = await self._keep_alive(
                        keys=[self._keys(task_id)[0]], args=[_GROUP, self.consumer, *ids]
                    )
                except Exception as error:  # Redis away: the next round tries again
                    _log.warning("could not refresh held bus entries: %s", error)
                    continue
                gone = {x.decode() if isinstance(x, bytes) else str(x) for x in lost}
                if gone:
                    held.heap = [e for e in held.heap if e[2] not in gone]
                    heapq.heapify(held.heap)


def _wake(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
    waiters.clear()


def _stream_order(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def _fields(raw: Any) -> dict[bytes, bytes]:
    """Stream entry fields: a dict from redis-py, a flat list from a script."""
    if isinstance(raw, dict):
        return raw
    return {raw[i]: raw[i + 1] for i in range(0, len(raw), 2)}
