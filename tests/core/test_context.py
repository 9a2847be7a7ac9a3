"""Session, task and agent context: copy-on-write sub-contexts, merges, persisted sessions."""

from __future__ import annotations

from collections.abc import Callable

from aworld_client import Task
from aworld_client.handlers import tool
from aworld_server import Context, Runtime


def test_derived_context_reads_through_and_writes_locally() -> None:
    parent = Context("t", "s")
    parent["plan"] = ["a"]
    parent["count"] = 1
    child = parent.derive("t/sub")

    assert child["plan"] == ["a"]
    child["count"] = 5
    child["notes"] = "x"
    assert parent["count"] == 1 and "notes" not in parent
    assert dict(child.local_changes) == {"count": 5, "notes": "x"}


def test_merge_applies_declared_rules() -> None:
    parent = Context("t", "s")
    parent["plan"], parent["count"], parent["owner"], parent["best"] = ["a"], 1, "p", 3
    child = parent.derive("t/sub")
    child["plan"], child["count"], child["owner"], child["best"] = ["b"], 2, "c", 7
    child["new"] = True
    child.usage.steps = 4

    parent.merge(child, {"plan": "append", "count": "sum", "owner": "keep", "best": max})

    assert parent.items() == {"plan": ["a", "b"], "count": 3, "owner": "p", "best": 7, "new": True}
    assert parent.usage.steps == 4


def test_deriving_does_not_copy_the_parent() -> None:
    parent = Context("t", "s")
    big = list(range(100_000))
    parent["big"] = big
    child = parent.derive("t/sub")
    assert child["big"] is big


async def test_session_state_spans_tasks(runtime: Runtime, make_task: Callable[..., Task]) -> None:
    @tool
    def visit(context: Context) -> int:
        """Count visits in the session."""
        context.session["visits"] = context.session.get("visits", 0) + 1
        return int(context.session["visits"])

    runtime.registry.add_tool(visit)
    script = [
        {"tool_calls": [{"name": "visit", "arguments": {}}]},
        {"content": "{last_tool_output}"},
    ]
    answers = []
    for _ in range(3):
        task = make_task(script, session_id="session-1")
        task.swarm.agents[0].tool_names = ["visit"]
        answers.append((await runtime.run(task)).answer.value())

    assert answers == ["1", "2", "3"]
    session = await runtime.store.get_session("session-1")
    assert session is not None and len(session.task_ids) == 3
    assert session.state.value() == {"visits": 3}
