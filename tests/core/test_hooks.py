"""Hooks: every point fires exactly once per occurrence, can steer the run, and fails safe."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from aworld_client import HookDecided, PermissionDecision, RetryPolicy, Task, TaskStatus
from aworld_client.handlers import hook, tool
from aworld_server import Runtime
from aworld_server.hooks import HOOK_POINTS
from core_helpers import add_chain_script

OBSERVED = sorted(HOOK_POINTS - {"post_task_call", "session_failed"})


async def _decisions(runtime: Runtime, task_id: str) -> list[HookDecided]:
    return [
        e.body
        async for e in runtime.stream(task_id, follow=False)
        if isinstance(e.body, HookDecided)
    ]


async def test_each_point_fires_exactly_once_per_occurrence(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    fired: Counter[str] = Counter()
    statuses: list[str] = []

    @hook(*OBSERVED, "session_failed")
    def count(point: str, status: str = "") -> None:
        fired[point] += 1
        if point in ("task_completed", "session_finished"):
            statuses.append(status)

    @tool(name="flaky")
    def flaky() -> int:
        raise RuntimeError("down")

    runtime.registry.add_hook(count, global_=True)
    runtime.registry.add_tool(flaky)
    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
        {
            "tool_calls": [
                {"name": "add", "arguments": {"a": 3, "b": 4}},
                {"name": "flaky", "arguments": {}},
            ]
        },
        {"content": "done"},
    ]
    task = make_task(script, retry_policy=RetryPolicy(maximum_attempts=1))
    task.swarm.agents[0].tool_names = ["add", "flaky"]
    response = await runtime.run(task)

    assert response.status == TaskStatus.SUCCEEDED
    assert fired == Counter(
        {
            "session_started": 1,
            "task_created": 1,
            "agent_started": 1,
            "before_llm_call": 3,
            "after_llm_call": 3,
            "before_tool_call": 3,
            "after_tool_call": 2,
            "tool_call_failed": 1,
            "agent_stopped": 1,
            "output_process": 1,
            "task_completed": 1,
            "session_finished": 1,
        }
    )
    assert statuses == ["success", "success"]
    assert len(await _decisions(runtime, response.id)) == sum(fired.values())


async def test_failed_task_reports_its_real_status_to_hooks(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    seen: list[tuple[str, str]] = []

    @hook("task_completed", "session_failed", "session_finished")
    def record(point: str, status: str) -> None:
        seen.append((point, status))

    runtime.registry.add_hook(record)
    from aworld_client import Budgets, TaskConfig

    task = make_task(
        [{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}],
        loop=True,
        conf=TaskConfig(budgets=Budgets(max_steps=2)),
        hooks={p: ["record"] for p in ("task_completed", "session_failed", "session_finished")},
    )
    response = await runtime.run(task)
    assert response.status == TaskStatus.INTERRUPTED
    assert seen == [("task_completed", "interrupted"), ("session_failed", "interrupted")]


async def test_updated_input_and_output_change_what_the_next_step_sees(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    @hook("before_tool_call")
    def double_b(arguments: dict[str, Any]) -> dict[str, Any]:
        return {"updated_input": {**arguments, "b": arguments["b"] * 2}}

    @hook("after_tool_call")
    def tag(output: Any) -> dict[str, Any]:
        return {"updated_output": f"<{output}>"}

    runtime.registry.add_hook(double_b)
    runtime.registry.add_hook(tag)
    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 10}}]},
        {"content": "saw {last_tool_output}"},
    ]
    task = make_task(script, hooks={"before_tool_call": ["double_b"], "after_tool_call": ["tag"]})
    response = await runtime.run(task)

    assert response.answer.value() == "saw <21>"
    decisions = await _decisions(runtime, response.id)
    assert [(d.hook_name, d.updated_input, d.updated_output) for d in decisions] == [
        ("double_b", True, False),
        ("tag", False, True),
    ]


async def test_a_permission_hook_that_raises_denies_the_call(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    calls: list[int] = []

    @tool(name="add")
    def counted_add(a: int, b: int) -> int:
        calls.append(a)
        return a + b

    @hook("before_tool_call")
    def broken_guard() -> None:
        raise RuntimeError("policy service unreachable")

    @hook("after_llm_call")
    def broken_observer() -> None:
        raise RuntimeError("metrics down")

    runtime.registry.add_tool(counted_add)
    runtime.registry.add_hook(broken_guard)
    runtime.registry.add_hook(broken_observer)
    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
        {"content": "result: {last_tool_output}"},
    ]
    task = make_task(
        script, hooks={"before_tool_call": ["broken_guard"], "after_llm_call": ["broken_observer"]}
    )
    response = await runtime.run(task)

    assert calls == []  # fail closed: the tool never ran
    assert response.status == TaskStatus.SUCCEEDED  # fail open for the observer
    assert "PermissionDenied" in response.answer.value()
    decisions = await _decisions(runtime, response.id)
    guard = [d for d in decisions if d.hook_name == "broken_guard"]
    observer = [d for d in decisions if d.hook_name == "broken_observer"]
    assert guard[0].decision == PermissionDecision.DENY and guard[0].failure.type == "RuntimeError"
    assert len(observer) == 2 and all(d.failure is not None for d in observer)
    assert all(d.decision == PermissionDecision.UNSPECIFIED for d in observer)


async def test_session_hooks_apply_to_every_task_of_the_session(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    seen: list[str] = []

    @hook("task_created")
    def note(task_id: str) -> None:
        seen.append(task_id)

    runtime.registry.add_hook(note)
    runtime.session_hooks["s1"] = {"task_created": ["note"]}
    ids = [
        (await runtime.run(make_task(add_chain_script(2), session_id=sid))).id
        for sid in ("s1", "s1", "other")
    ]
    assert seen == ids[:2]
