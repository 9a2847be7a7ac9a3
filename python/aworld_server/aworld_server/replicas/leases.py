"""Task leases in Redis: which replica runs a task, and the fencing token its writes carry.

Keys (``{p}`` is the store's prefix):

* ``{p}lease:{task}``: ``<replica id>:<token>``, expiring after the lease TTL unless renewed;
* ``{p}fence:{task}``: the task's fencing token, incremented by every acquisition and never
  decremented or deleted, so a later owner always has a larger token than an earlier one.

A replica acquires a task's lease before it launches or resumes it, renews all its leases in one
script call every TTL/3, and releases a lease when the task runs here no more. The tokens it holds
live in the store's ``fences`` map: the append script refuses a write to a leased task whose token
is not the task's latest (``storage/_redis_append.py``), so a replica that lost its lease while
paused or partitioned cannot write into a log another replica now extends.

A lease is lost when renewing finds another owner, when a write is refused for its token, or when
Redis cannot be reached for a whole TTL (another replica may have taken the task over by then):
``on_lost(task_id)`` is called and the task's run must stop without recording anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from aworld_server.redis_client import stop_loop

__all__ = ["Leases", "stop_loop"]

log = logging.getLogger(__name__)

# KEYS: lease, fence. ARGV: replica id, TTL in ms. The new token, or 0 when another replica holds
# an unexpired lease. A lease this replica id holds (an earlier life of this replica, restarted
# with the same data dir) is taken again at once, with a new token.
_ACQUIRE: Final = """
local current = redis.call('GET', KEYS[1])
if current then
  local owner = string.match(current, '^(.*):%d+$')
  if owner ~= ARGV[1] then return 0 end
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""

# KEYS: n leases, then their n fences. ARGV: TTL in ms, the n values this replica expects in the
# leases, then its n tokens. Renews the leases that still hold our value, sets again those that
# expired while no one took them (the fence still holds our token: this replica was slow, e.g.
# paused, but nobody else wrote), and returns the (1-based) positions of the others: leases lost.
_RENEW: Final = """
local n, lost = #KEYS / 2, {}
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  if value == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
  elseif not value and redis.call('GET', KEYS[n + i]) == ARGV[n + i + 1] then
    redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1])
  else
    lost[#lost + 1] = i
  end
end
return lost
"""

# KEYS: leases. ARGV: the value this replica holds in each. Deletes those still ours.
_RELEASE: Final = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then redis.call('DEL', key) end
end
return 0
"""


# KEYS: the store's live-task set. ARGV: prefix, replica id. The live tasks no other replica
# holds a lease on, oldest first: what a sweep may take, found without sending every live task's
# record over (most are held by live replicas).
_TAKEABLE: Final = """
local mine = ARGV[2] .. ':'
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local value = redis.call('GET', ARGV[1] .. 'lease:' .. id)
  if not value or string.sub(value, 1, #mine) == mine then out[#out + 1] = id end
end
return out
"""


class Leases:
    """The leases of one replica (see the module docstring).

    ``held`` is shared with the store (its ``fences``): task id -> token. ``keep(task_id)`` says
    whether a task still runs, parks or starts here; leases of tasks it is false for are released
    at the next renewal (a task that ended, or stopped)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        replica_id: str,
        ttl: float,
        held: dict[str, str],
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.replica_id = replica_id
        self.ttl = ttl
        self.held = held
        self.on_lost: Callable[[str], None] = lambda task_id: None
        self.keep: Callable[[str], bool] = lambda task_id: True
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._takeable = client.register_script(_TAKEABLE)
        self._renewer: asyncio.Task[None] | None = None
        self._renewed = time.monotonic()  # last time every lease was known to be ours
        self._acquiring: dict[str, asyncio.Future[bool]] = {}
        self._stopping = False
        self.renewals = 0

    @property
    def ttl_ms(self) -> int:
        return max(int(self.ttl * 1000), 1)

    def _lease(self, task_id: str) -> str:
        return f"{self.prefix}lease:{task_id}"

    def _fence(self, task_id: str) -> str:
        return f"{self.prefix}fence:{task_id}"

    def _value(self, task_id: str) -> str:
        return f"{self.replica_id}:{self.held[task_id]}"

    # -- one task -----------------------------------------------------------------------------
    def holds(self, task_id: str) -> bool:
        return task_id in self.held

    async def acquire(self, task_id: str) -> bool:
        """Take the task's lease (True), or False while another replica holds it."""
        if task_id in self.held:
            return True
        # Concurrent acquisitions here share one: a second would take a newer token and so
        # fence out the writes of the first.
        pending = self._acquiring.get(task_id)
        if pending is None:
            pending = asyncio.ensure_future(self._take(task_id))
            self._acquiring[task_id] = pending
            pending.add_done_callback(lambda _: self._acquiring.pop(task_id, None))
        return await asyncio.shield(pending)

    async def _take(self, task_id: str) -> bool:
        keys = [self._lease(task_id), self._fence(task_id)]
        token = int(await self._acquire(keys=keys, args=[self.replica_id, self.ttl_ms]))
        if token == 0:
            return False
        self.held[task_id] = str(token)
        return True

    async def release(self, *task_ids: str) -> None:
        """Give leases up (their tasks run here no more), in one script call: another replica
        may take them at once."""
        tokens = {t: token for t in task_ids if (token := self.held.pop(t, None)) is not None}
        if not tokens:
            return
        with contextlib.suppress(RedisError):  # they expire by themselves otherwise
            await self._release(
                keys=[self._lease(t) for t in tokens],
                args=[f"{self.replica_id}:{token}" for token in tokens.values()],
            )

    def lost(self, task_id: str) -> None:
        """The lease is not ours any more: forget the token and stop the task's run here."""
        if self.held.pop(task_id, None) is not None:
            log.warning("lost the lease of task %s: its run here stops", task_id)
            self.on_lost(task_id)

    async def owner(self, task_id: str) -> str | None:
        """The replica holding the task's unexpired lease, or None."""
        value = await self.client.get(self._lease(task_id))
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        return text.rsplit(":", 1)[0]

    async def token(self, task_id: str) -> str | None:
        """The task's latest fencing token (its current owner's), or None."""
        value = await self.client.get(self._fence(task_id))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def takeable_live(self) -> list[str]:
        """The unfinished tasks no other replica holds a lease on, oldest first (one script
        call: the sweep's way to find tasks to take over)."""
        found = await self._takeable(
            keys=[f"{self.prefix}live"], args=[self.prefix, self.replica_id]
        )
        return [t.decode() if isinstance(t, bytes) else str(t) for t in found]

    # -- renewing -----------------------------------------------------------------------------
    def start(self) -> None:
        self._renewed = time.monotonic()
        self._renewer = asyncio.create_task(self._renew_every(), name="replica:leases")

    async def stop(self) -> None:
        """Stop renewing and release every lease (a graceful stop: others take over at once)."""
        self._stopping = True
        if self._renewer is not None:
            await stop_loop(self._renewer)
            self._renewer = None
        await self.release(*self.held)

    async def _renew_every(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.ttl / 3)  # the renewal period, not a synchronisation
            await self.renew()

    async def renew(self) -> None:
        """Release the leases of tasks that left, renew the others in one script call, and
        drop the ones found lost. A Redis that does not answer for a whole TTL loses them all."""
        await self.release(*[t for t in self.held if not self.keep(t)])
        tasks = list(self.held)
        keys = [*(self._lease(t) for t in tasks), *(self._fence(t) for t in tasks)]
        args: list[str | int] = [self.ttl_ms, *(self._value(t) for t in tasks)]
        args += [self.held[t] for t in tasks]
        started = time.monotonic()  # the leases last a TTL from (after) now
        try:
            async with asyncio.timeout(self.ttl / 3):
                lost: list[Any] = await self._renew(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as error:
            if time.monotonic() - self._renewed > self.ttl:
                log.error(
                    "could not renew task leases for a whole TTL (%s): stopping their runs",
                    error or "timed out",
                )
                for task_id in list(self.held):
                    self.lost(task_id)
            return
        for position in lost:
            task_id = tasks[int(position) - 1]
            if task_id in self.held:
                self.lost(task_id)
        self._renewed = started
        self.renewals += 1
