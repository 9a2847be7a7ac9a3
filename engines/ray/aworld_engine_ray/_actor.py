"""The Ray actor class: one warm engine worker process. Ray runs its async methods on the
actor's own event loop, where the EngineHost keeps its Runtime and gRPC channel across jobs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from aworld_server.engine_worker import EngineHost


class EngineWorker:
    """A warm engine worker; ``max_concurrency`` of the actor bounds the jobs it runs at once."""

    def __init__(self, setup: str) -> None:
        self.host = EngineHost("ray", setup)

    async def ready(self) -> int:
        """Returns the worker's pid once the actor is up."""
        return os.getpid()

    async def run(self, payload: bytes) -> bytes:
        return await self.host.run(payload)

    async def run_each(self, payloads: list[bytes]) -> AsyncIterator[tuple[int, bytes]]:
        """Jobs handed over together, run concurrently; each one's result, with its index, as
        soon as it ends (a streaming method: a quick job never waits for a slow batch-mate)."""

        async def one(index: int, payload: bytes) -> tuple[int, bytes]:
            return index, await self.host.run(payload)

        for finished in asyncio.as_completed([one(i, p) for i, p in enumerate(payloads)]):
            yield await finished

    async def cancel(self, task_id: str) -> None:
        await self.host.cancel(task_id)
