"""The store and the bus a server runs on, built from its configuration, and the watch that keeps
its health in step with Redis when it runs on Redis.

SQLite (store) and memory (bus) are the embedded defaults; ``store = "redis"`` and
``bus = "redis"`` put them in the Redis at ``redis_url``. Each Redis part gets a client of its
own (the store closes its client when the runtime closes it; the bus is closed by the server).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from redis.exceptions import RedisError

from aworld_server.config import ServerConfig
from aworld_server.errors import AWorldError
from aworld_server.events.bus import EventBus, MemoryEventBus
from aworld_server.events.redis_bus import RedisEventBus
from aworld_server.redis_client import connect, stop_loop
from aworld_server.storage import (
    EventStore,
    MemoryEventStore,
    RedisEventStore,
    SqliteEventStore,
)

__all__ = ["Backends", "RedisWatch", "build_backends", "redacted_url"]

log = logging.getLogger("aworld_server")


@dataclass
class Backends:
    """What ``build_backends`` made: the store, the bus, and what to close or watch."""

    store: EventStore
    bus: EventBus
    redis_bus: RedisEventBus | None = None
    redis_store: RedisEventStore | None = None
    probes: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    @property
    def uses_redis(self) -> bool:
        return self.redis_bus is not None or self.redis_store is not None

    async def aclose(self) -> None:
        """Close what the runtime does not (the bus); the runtime closes the store."""
        if self.redis_bus is not None:
            await self.redis_bus.aclose()


def build_backends(config: ServerConfig) -> Backends:
    store: EventStore
    redis_store = None
    if config.store == "memory":
        store = MemoryEventStore()
    elif config.store == "redis":
        store = redis_store = RedisEventStore(
            connect(config.redis_url),
            epoch_file=config.data_dir / "redis-epoch.json",
            prefix=config.redis_prefix,
        )
    else:
        store = SqliteEventStore(config.data_dir / "runtime.db")
    bus: EventBus
    redis_bus = None
    if config.bus == "redis":
        bus = redis_bus = RedisEventBus(
            connect(config.redis_url),
            prefix=config.redis_prefix,
            capacity=config.bus_capacity,
            claim_idle=config.bus_claim_idle,
            max_deliveries=config.bus_max_deliveries,
        )
    else:
        bus = MemoryEventBus(config.bus_capacity)
    probes: list[Callable[[], Awaitable[object]]] = []
    if redis_store is not None:
        probes.append(redis_store.check)
    if redis_bus is not None:
        probes.append(redis_bus.client.ping)
    return Backends(store, bus, redis_bus, redis_store, probes)


class RedisWatch:
    """Probes Redis every ``interval`` seconds and calls ``healthy(bool)`` when the answer
    changes. Unreachable, or silent for ``max(interval, 2)`` seconds (a paused Redis), means
    not serving; a Redis that lost this store's data stays not serving (the store refuses it
    until an operator acts)."""

    def __init__(
        self,
        probes: list[Callable[[], Awaitable[object]]],
        healthy: Callable[[bool], Awaitable[None]],
        interval: float,
    ) -> None:
        self._probes = probes
        self._healthy = healthy
        self._interval = interval
        self._state = True
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="redis-watch")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            await stop_loop(self._task)  # bounded: a swallowed cancel must not hold a shutdown
            self._task = None

    async def probe(self) -> bool:
        """One round of probes: True when every part answered in time."""
        try:
            async with asyncio.timeout(max(self._interval, 2.0)):
                for probe in self._probes:
                    await probe()
        except (AWorldError, RedisError, OSError, TimeoutError) as error:
            if self._state:
                log.error("Redis is not usable, health is NOT_SERVING: %s", error or "timed out")
            return False
        return True

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._interval)  # the probe period, not synchronisation
            state = await self.probe()
            if state != self._state:
                self._state = state
                if state:
                    log.info("Redis is back, health is SERVING")
                await self._healthy(state)


def redacted_url(url: str) -> str:
    """The URL without its password, for logs and banners."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
