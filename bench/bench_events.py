"""Events per trivial task (DESIGN §9: one scripted agent step calling the local ``add`` tool,
then the answer), by event type, in both runner modes (issue #16).

Not a timing: the count is exact and the same on every run. Each mode runs in a fresh
embedded ``Runtime`` on SQLite in a temporary directory; the task's log is read back and its
events counted by body type (a RunNodeChanged also by node kind and status).

Run: ``.venv/bin/python bench/bench_events.py [--json]``. ``bench/compare_revisions.py`` runs
it against both revisions (this script, the revision's sources on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections import Counter
from typing import Any

MODES = ("event", "call")


async def count(mode: str) -> dict[str, int]:
    """Events of one trivial task by type (the warm-up and the counted task are alike)."""
    from aworld_client import (
        AgentSpec,
        ExecutionMode,
        ModelConfig,
        Payload,
        RunNodeChanged,
        Swarm,
        Task,
        TaskConfig,
        TaskStatus,
    )
    from aworld_client.handlers import tool
    from aworld_server import Runtime

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 0, "b": 1}}]},
        {"content": "total={last_tool_output}"},
    ]
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    execution_mode = ExecutionMode.CALL_DRIVEN if mode == "call" else ExecutionMode.EVENT_DRIVEN
    task = Task(
        input=Payload.from_text("go"),
        swarm=Swarm(agents=[AgentSpec(name="solver", tool_names=["add"], model=model)]),
        conf=TaskConfig(execution_mode=execution_mode),
    )
    with tempfile.TemporaryDirectory(prefix="aworld-bench-events-") as data_dir:
        runtime = Runtime(data_dir=data_dir)
        runtime.registry.add_tool(add)
        async with runtime:
            response = await runtime.run(task)
            assert response.status == TaskStatus.SUCCEEDED, response
            kinds: Counter[str] = Counter()
            async for event in runtime.stream(response.id, follow=False):
                body = event.body
                name = type(body).__name__
                if isinstance(body, RunNodeChanged) and body.node is not None:
                    name += f" ({body.node.kind.name} {body.node.status.name})"
                kinds[name] += 1
    return dict(sorted(kinds.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object, no table")
    args = parser.parse_args()
    result: dict[str, Any] = {mode: asyncio.run(count(mode)) for mode in MODES}
    if args.json:
        print(json.dumps(result))
        return
    for mode, kinds in result.items():
        print(f"{mode}-driven: {sum(kinds.values())} events")
        for name, n in kinds.items():
            print(f"  {n:3}  {name}")


if __name__ == "__main__":
    main()
