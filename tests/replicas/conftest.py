"""Fixtures of the replica tests: a cluster of replica processes on the session's Redis, under
a key prefix of its own, every process killed by pid at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis_harness import RedisServer
from replica_harness import Cluster


@pytest.fixture
async def cluster(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Cluster]:
    state = Cluster(tmp_path, redis_server)
    try:
        yield state
    finally:
        await state.close()
