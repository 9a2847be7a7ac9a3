"""Fixtures for the runtime core: a real Runtime on a real SQLite file per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aworld_client import (
    AgentSpec,
    ExecutionMode,
    ModelConfig,
    Payload,
    Swarm,
    Task,
    TaskConfig,
)
from aworld_client.handlers import tool
from aworld_server import Runtime


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def scripted(script: list[dict[str, Any]], *, loop: bool = False) -> ModelConfig:
    return ModelConfig(provider="scripted", options=Payload.of({"script": script, "loop": loop}))


def add_chain_script(steps: int) -> list[dict[str, Any]]:
    """N agent steps: N-1 `add` calls (each adds 1 to the previous result), then the answer."""
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 0, "b": 1}}]}
    ]
    for _ in range(steps - 2):
        script.append(
            {"tool_calls": [{"name": "add", "arguments": {"a": "{last_tool_output}", "b": 1}}]}
        )
    script.append({"content": "total={last_tool_output}"})
    return script


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
