"""Fixtures of the replica tests: a cluster of replica processes on the session's Redis, under
a key prefix of its own, every process killed by pid at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from redis_harness import RedisServer, unique_prefix
from replica_harness import Record, Replica

LEASE_TTL = 1.5  # seconds: short, so takeovers are quick, long enough for a loaded machine


class Cluster:
    def __init__(self, root: Path, redis_server: RedisServer) -> None:
        self.root = root
        self.redis_url = redis_server.url
        self.prefix = unique_prefix("replicas")
        self.lease_ttl = LEASE_TTL
        self.replicas: list[Replica] = []
        self.client = redis.Redis.from_url(self.redis_url)
        self.record = Record(self.client, f"{self.prefix}t:")

    async def start(self, count: int) -> list[Replica]:
        started = []
        for _ in range(count):
            replica = Replica(
                self.root / f"replica-{len(self.replicas)}",
                self.redis_url,
                self.prefix,
                self.lease_ttl,
            )
            self.replicas.append(replica)
            await replica.start()
            started.append(replica)
        return started

    async def close(self) -> None:
        for replica in self.replicas:
            await replica.kill()
        self.client.close()

    def owner_of(self, task_id: str) -> str | None:
        value = self.client.get(f"{self.prefix}lease:{task_id}")
        return None if value is None else value.decode().rsplit(":", 1)[0]

    def replica_id(self, replica: Replica) -> str:
        return (replica.data_dir / "replica-id").read_text().strip()


@pytest.fixture
async def cluster(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Cluster]:
    state = Cluster(tmp_path, redis_server)
    try:
        yield state
    finally:
        await state.close()
