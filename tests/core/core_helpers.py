"""Shared helpers of the core tests (a unique module name: several suites have a conftest)."""

from __future__ import annotations

from typing import Any

from aworld_client import ModelConfig, Payload
from aworld_client.handlers import tool


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
