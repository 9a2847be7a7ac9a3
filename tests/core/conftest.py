"""Fixtures for the runtime core: a real Runtime per test, on a real SQLite file with the memory
bus, and again on a real Redis (store and bus), so runners, hooks and callbacks are checked
against both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aworld_client import (
    AgentSpec,
    ExecutionMode,
    Payload,
    Swarm,
    Task,
    TaskConfig,
)
from aworld_server import Runtime
from aworld_server.events import RedisEventBus
from aworld_server.storage import RedisEventStore
from core_helpers import add, scripted
from redis_harness import RedisServer, unique_prefix


@pytest.fixture
def make_task() -> Callable[..., Task]:
    def build(
        script: list[dict[str, Any]],
        *,
        mode: ExecutionMode = ExecutionMode.EVENT_DRIVEN,
        input: str = "go",
        loop: bool = False,
        conf: TaskConfig | None = None,
        **task_fields: Any,
    ) -> Task:
        conf = conf or TaskConfig()
        conf.execution_mode = mode
        agent = AgentSpec(name="solver", tool_names=["add"], model=scripted(script, loop=loop))
        return Task(
            input=Payload.from_text(input), swarm=Swarm(agents=[agent]), conf=conf, **task_fields
        )

    return build


@pytest.fixture(params=["sqlite", "redis"])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    if request.param == "sqlite":
        rt = Runtime(data_dir=tmp_path)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = unique_prefix("core")
        rt = Runtime(
            store=RedisEventStore.from_url(
                server.url, epoch_file=tmp_path / "redis-epoch.json", prefix=prefix
            ),
            bus=RedisEventBus.from_url(server.url, prefix=prefix),
        )
    rt.registry.add_tool(add)
    try:
        async with rt:
            yield rt
    finally:
        if isinstance(rt.bus, RedisEventBus):
            await rt.bus.aclose()
