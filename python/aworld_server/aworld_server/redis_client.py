"""The one way this server connects to Redis: a redis-py asyncio client whose pool makes a
caller wait for a free connection instead of failing (thousands of tasks may write at once),
and whose calls time out instead of hanging on a Redis that stopped answering."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

__all__ = ["connect", "stop_loop"]

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
