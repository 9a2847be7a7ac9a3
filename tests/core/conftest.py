"""Fixtures for the runtime core: a real Runtime on a real SQLite file per test."""

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
from core_helpers import add, scripted


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


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = Runtime(data_dir=tmp_path)
    rt.registry.add_tool(add)
    async with rt:
        yield rt
