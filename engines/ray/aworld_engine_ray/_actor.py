"""The Ray actor class: one warm engine worker process. Ray runs its async methods on the
actor's own event loop, where the EngineHost keeps its Runtime and gRPC channel across jobs."""

from __future__ import annotations

import os

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

    async def run_many(self, payloads: list[bytes]) -> list[bytes]:
        """Jobs handed over together, run concurrently; one result per job, in order."""
        return await self.host.run_many(payloads)

    async def cancel(self, task_id: str) -> None:
        await self.host.cancel(task_id)
