"""Many tasks at once in one process: each keeps its own context, answer and log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aworld_client import ExecutionMode, Task, TaskStatus
from aworld_client.handlers import tool
from aworld_server import Context, Runtime


async def test_200_concurrent_tasks_have_isolated_contexts(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    @tool
    async def remember(value: int, context: Context) -> int:
        """Store a value in the task context, yield to other tasks, read it back."""
        context["value"] = value
        context["seen"] = [*context.get("seen", []), value]
        await asyncio.sleep(0)
        return int(context["value"]) * 10 + len(context["seen"])

    runtime.registry.add_tool(remember)
    tasks = []
    for n in range(200):
        script = [
            {"tool_calls": [{"name": "remember", "arguments": {"value": n}}]},
            {"tool_calls": [{"name": "remember", "arguments": {"value": n}}]},
            {"content": "{last_tool_output}"},
        ]
        task = make_task(
            script,
            input=f"task {n}",
            mode=ExecutionMode.CALL_DRIVEN if n % 2 else ExecutionMode.EVENT_DRIVEN,
        )
        task.swarm.agents[0].tool_names = ["remember"]
        tasks.append(task)

    responses = await asyncio.gather(*(runtime.run(t) for t in tasks))

    assert [r.status for r in responses] == [TaskStatus.SUCCEEDED] * 200
    # value*10 + 2 reads of its own list: any leak between tasks would change the number.
    assert [r.answer.value() for r in responses] == [str(n * 10 + 2) for n in range(200)]
    trajectories = await asyncio.gather(*(runtime.trajectory(r.id) for r in responses[:20]))
    for n, trajectory in enumerate(trajectories):
        assert trajectory[0].state.input.value() == {"input": f"task {n}"}
        assert [c.arguments.value() for c in trajectory[0].action.tool_calls] == [{"value": n}]
