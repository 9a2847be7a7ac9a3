"""Hooks: every point fires exactly once per occurrence, can steer the run, and fails safe."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aworld_client import (
    AgentSpec,
    HookDecided,
    InputRequested,
    Payload,
    PermissionDecision,
    RetryPolicy,
    Swarm,
    Task,
    TaskStatus,
    ToolCallStarted,
)
from aworld_client.handlers import hook, tool
from aworld_server import Agent, Runtime, ScriptedModel
from aworld_server.hooks import HOOK_POINTS
from core_helpers import add_chain_script
from process_harness import assert_eventually

OBSERVED = sorted(HOOK_POINTS - {"session_failed"})


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
            "post_task_call": 1,
            "reward": 3,  # once per step, when the task ends
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


# -- permission decisions, updates and system messages at the model call ---------------------


class _Recorder:
    """A scripted agent that records the conversation each model call saw."""

    def __init__(self, runtime: Runtime, answer: str = "ok") -> None:
        self.seen: list[list[dict[str, Any]]] = []
        self.answer = answer
        runtime.registry.add_agent(Agent("solver", model=ScriptedModel(self._step)))

    def _step(self, messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
        self.seen.append([dict(m) for m in messages])
        return {"content": self.answer}


def _task_for_solver(**fields: Any) -> Task:
    return Task(
        input=Payload.from_text("hi"), swarm=Swarm(agents=[AgentSpec(name="solver")]), **fields
    )


async def _requested(runtime: Runtime, task_id: str) -> InputRequested:
    async for event in runtime.stream(task_id):
        if isinstance(event.body, InputRequested):
            return event.body
    raise AssertionError("no input was requested")


@hook("before_llm_call", "before_tool_call")
def asker() -> dict[str, Any]:
    return {"permission_decision": "ask", "permission_decision_reason": "check this"}


@hook("before_llm_call", "before_tool_call")
def denier() -> dict[str, Any]:
    return {"permission_decision": "deny", "permission_decision_reason": "never"}


@hook("before_llm_call", "before_tool_call")
def allower() -> dict[str, Any]:
    return {"permission_decision": "allow"}


async def test_an_ask_followed_by_a_deny_at_the_model_call_ends_denied(runtime: Runtime) -> None:
    model = _Recorder(runtime)
    runtime.registry.add_hook(asker)
    runtime.registry.add_hook(denier)

    response = await runtime.run(_task_for_solver(hooks={"before_llm_call": ["asker", "denier"]}))

    assert response.status == TaskStatus.FAILED, response
    assert response.failure is not None and response.failure.type == "PermissionDenied"
    assert model.seen == []  # the model was never called
    decisions = await _decisions(runtime, response.id)
    assert [(d.hook_name, d.decision) for d in decisions if d.point == "before_llm_call"] == [
        ("asker", PermissionDecision.ASK),
        ("denier", PermissionDecision.DENY),
    ]


async def test_an_allow_after_an_ask_still_asks_and_a_human_denial_stops_the_tool(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    runtime.registry.add_hook(asker)
    runtime.registry.add_hook(allower)
    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
        {"content": "result: {last_tool_output}"},
    ]
    task = make_task(script, hooks={"before_tool_call": ["asker", "allower"]})
    submitted = await runtime.submit(task)

    requested = await _requested(runtime, submitted.task_id)
    assert requested.kind == "permission"
    assert (await runtime.get_task(submitted.task_id)).response.status == TaskStatus.INPUT_REQUIRED
    await runtime.provide_input(submitted.task_id, requested.callback_id, Payload.of("deny"))
    response = await runtime.wait(submitted.task_id)

    assert response.status == TaskStatus.SUCCEEDED
    assert "PermissionDenied" in response.answer.value()
    events = [e.body async for e in runtime.stream(submitted.task_id, follow=False)]
    assert not [b for b in events if isinstance(b, ToolCallStarted)]  # the tool never ran


async def test_an_ask_at_the_model_call_parks_the_task_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    async def open_runtime() -> tuple[Runtime, _Recorder]:
        runtime = Runtime(data_dir=tmp_path)
        model = _Recorder(runtime, answer="allowed answer")
        runtime.registry.add_hook(asker)
        return await runtime.start(), model

    runtime, model = await open_runtime()
    submitted = await runtime.submit(_task_for_solver(hooks={"before_llm_call": ["asker"]}))
    requested = await _requested(runtime, submitted.task_id)
    await assert_eventually(lambda: runtime.live_tasks == 0, message="the task never parked")
    await runtime.close()  # the process goes away while the question is open

    runtime, model = await open_runtime()
    try:
        status = (await runtime.get_task(submitted.task_id)).response.status
        assert status == TaskStatus.INPUT_REQUIRED
        await runtime.provide_input(submitted.task_id, requested.callback_id, Payload.of("allow"))
        response = await runtime.wait(submitted.task_id)
        assert response.status == TaskStatus.SUCCEEDED, response
        assert response.answer.value() == "allowed answer"
        assert len(model.seen) == 1  # one model call, after the human allowed it
        asks = [e.body async for e in runtime.stream(submitted.task_id, follow=False)]
        assert sum(isinstance(b, InputRequested) for b in asks) == 1  # asked once, not again
    finally:
        await runtime.close()


async def test_updated_input_and_system_messages_reach_the_model(runtime: Runtime) -> None:
    model = _Recorder(runtime)

    @hook("before_llm_call")
    def rewrite(messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "updated_input": [*messages, {"role": "user", "content": "(rewritten)"}],
            "system_message": "answer briefly",
        }

    runtime.registry.add_hook(rewrite)
    response = await runtime.run(_task_for_solver(hooks={"before_llm_call": ["rewrite"]}))

    assert response.status == TaskStatus.SUCCEEDED
    (conversation,) = model.seen
    assert {"role": "user", "content": "(rewritten)"} in conversation
    assert {"role": "system", "content": "answer briefly"} in conversation


async def test_post_task_call_sees_the_outcome_and_may_rewrite_the_answer(
    runtime: Runtime,
) -> None:
    _Recorder(runtime, answer="raw")
    seen: list[tuple[str, str]] = []

    @hook("post_task_call")
    def polish(status: str, answer: str) -> dict[str, Any]:
        seen.append((status, answer))
        return {"updated_output": f"polished {answer}"}

    runtime.registry.add_hook(polish)
    response = await runtime.run(_task_for_solver(hooks={"post_task_call": ["polish"]}))

    assert seen == [("success", "raw")]
    assert response.answer.value() == "polished raw"
    final = [e.body async for e in runtime.stream(response.id, follow=False)][-1]
    assert final.response.answer.value() == "polished raw"  # what is recorded, too


async def test_an_ask_at_any_point_holds_the_task_for_a_human_and_later_hooks_run(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    @hook("after_tool_call")
    def review_output() -> dict[str, Any]:
        return {"permission_decision": "ask", "permission_decision_reason": "look at this"}

    @hook("after_tool_call")
    def tag(output: Any) -> dict[str, Any]:
        return {"updated_output": f"<{output}>"}

    runtime.registry.add_hook(review_output)
    runtime.registry.add_hook(tag)
    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
        {"content": "saw {last_tool_output}"},
    ]
    task = make_task(script, hooks={"after_tool_call": ["review_output", "tag"]})
    submitted = await runtime.submit(task)

    requested = await _requested(runtime, submitted.task_id)
    assert requested.kind == "permission" and requested.prompt.value()["point"] == "after_tool_call"
    assert (await runtime.get_task(submitted.task_id)).response.status == TaskStatus.INPUT_REQUIRED
    decisions = await _decisions(runtime, submitted.task_id)
    assert [d.hook_name for d in decisions] == ["review_output", "tag"]  # the later hook ran
    await runtime.provide_input(submitted.task_id, requested.callback_id, Payload.of("allow"))
    response = await runtime.wait(submitted.task_id)

    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.value() == "saw <3>"
