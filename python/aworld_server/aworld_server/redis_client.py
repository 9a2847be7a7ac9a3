"""The one way this server connects to Redis: a redis-py asyncio client whose pool makes a
caller wait for a free connection instead of failing (thousands of tasks may write at once),
and whose calls time out instead of hanging on a Redis that stopped answering."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["connect", "stop_loop", "tail_stream"]

log = logging.getLogger(__name__)

# Longer than any blocking call the bus makes, so a healthy call is never cut short; a paused
# Redis makes calls fail after it instead of hanging forever.
SOCKET_TIMEOUT = 10.0
MAX_CONNECTIONS = 64


def connect(url: str, *, max_connections: int = MAX_CONNECTIONS) -> aioredis.Redis:
    """A client for ``url`` (redis://, rediss:// or unix://)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=SOCKET_TIMEOUT,  # waiting for a free connection
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=5.0,
    )
    return aioredis.Redis(connection_pool=pool)


async def stop_loop(task: asyncio.Task[None], timeout: float = 2.0) -> None:
    """Cancel a background loop and wait for it, but not forever: redis-py (8.1) can swallow a
    cancellation that lands inside a command, so the loops also check a stop flag."""
    task.cancel()
    await asyncio.wait([task], timeout=timeout)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: it was stopping anyway


async def tail_stream(
    client: aioredis.Redis, stream: str, stopping: Callable[[], bool], *, block_ms: int = 1000
) -> AsyncIterator[tuple[Any, dict[bytes, bytes]]]:
    """The entries added to ``stream`` from now on, until ``stopping()``: what was there before
    was given up on by its senders. Reads go on from a concrete id, never "$" again ("$" on
    every read would skip what arrives between two reads); while Redis is away they are tried
    again every ``block_ms``."""
    last = ""
    while not stopping():
        try:
            if not last:
                newest: Any = await client.xrevrange(stream, count=1)
                last = newest[0][0] if newest else "0-0"
            batches: Any = await client.xread({stream: last}, block=block_ms)
        except (RedisError, OSError):
            log.warning("reading %s failed; trying again", stream, exc_info=True)
            await asyncio.sleep(block_ms / 1000)  # Redis away: a retry period
            continue
        for _, entries in batches or []:
            for entry_id, fields in entries:
                last = entry_id
                yield entry_id, fields
