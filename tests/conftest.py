"""Shared test configuration: repository paths and the real Redis used across suites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_harness import RedisServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole run (no persistence); tests keep apart by key
    prefix (``redis_harness.unique_prefix``). Stopped by pid at the end."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()
