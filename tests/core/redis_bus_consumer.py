"""A second consumer of a task's Redis bus, in its own process: takes ``count`` messages,
prints their ids and ``holding``, then holds what it took until it is killed.

Usage: redis_bus_consumer.py URL PREFIX TASK_ID COUNT CLAIM_IDLE_MS
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import redis.asyncio as aioredis
from aworld_server.events.redis_bus import RedisEventBus


async def main(url: str, prefix: str, task_id: str, count: int, idle_ms: int) -> None:
    bus = RedisEventBus(
        aioredis.Redis.from_url(url), prefix=prefix, claim_idle=timedelta(milliseconds=idle_ms)
    )
    for _ in range(count):
        message = await bus.consume(task_id)
        print(f"took {message.id}", flush=True)
    print("holding", flush=True)
    await asyncio.Event().wait()  # until SIGKILL: what it holds stays in its pending list


if __name__ == "__main__":
    url, prefix, task_id, count, idle_ms = sys.argv[1:6]
    asyncio.run(main(url, prefix, task_id, int(count), int(idle_ms)))
