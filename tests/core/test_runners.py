"""Runner lifecycle and execution modes, end to end on a real SQLite event log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import ClassVar

import pytest
from aworld_client import (
    Budgets,
    ExecutionMode,
    LifecyclePhase,
    Phase,
    RunNodeKind,
    RunNodeStatus,
    Task,
    TaskConfig,
    TaskStatus,
    TaskStatusChanged,
    TaskSubmitted,
    ToolErrorPolicy,
)
from aworld_client.handlers import tool
from aworld_server import InvalidArgument, Runner, Runtime
from core_helpers import add_chain_script


def _shape(items: list) -> list[tuple]:
    return [
        (
            i.meta.step,
            i.meta.agent_id,
            i.action.content,
            [c.name for c in i.action.tool_calls],
            i.action.is_agent_finished,
            [p.value() for p in i.reward.tool_outputs],
            i.reward.status,
        )
        for i in items
    ]


async def test_event_and_call_driven_runs_agree(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    script = add_chain_script(5)
    event = await runtime.run(make_task(script, mode=ExecutionMode.EVENT_DRIVEN))
    call = await runtime.run(make_task(script, mode=ExecutionMode.CALL_DRIVEN))

    assert event.status == call.status == TaskStatus.SUCCEEDED
    assert event.answer is not None and event.answer.value() == "total=4"
    assert call.answer is not None and call.answer.value() == "total=4"
    event_trajectory = await runtime.trajectory(event.id)
    call_trajectory = await runtime.trajectory(call.id)
    assert len(event_trajectory) == 5
    assert _shape(event_trajectory) == _shape(call_trajectory)
    assert event_trajectory[0].state.input.value() == {"input": "go"}
    assert event_trajectory[-1].action.is_agent_finished
    assert event.usage.steps == call.usage.steps == 5
    assert event.usage.tool_calls == call.usage.tool_calls == 4


async def test_lifecycle_phases_are_recorded_in_order(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    response = await runtime.run(make_task(add_chain_script(2)))
    events = [e async for e in runtime.stream(response.id, follow=False)]

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[0].body, TaskSubmitted)
    # Recorded on the status changes of the run (not as events of their own), each with when.
    recorded = [p for e in events for p in e.phases]
    assert not any(isinstance(e.body, LifecyclePhase) for e in events)
    times = [p.time for p in recorded]
    assert all(times) and times == sorted(times)  # type: ignore[type-var]
    assert {(p.runner, p.engine) for p in recorded} == {("event", "local")}
    phases = [(p.phase, p.ended) for p in recorded]
    assert phases == [
        (Phase.PRE_RUN, False),
        (Phase.PRE_RUN, True),
        (Phase.DO_RUN, False),
        (Phase.DO_RUN, True),
        (Phase.POST_RUN, False),
        (Phase.POST_RUN, True),
    ]
    assert isinstance(events[-1].body, TaskStatusChanged) and events[-1].is_terminal


async def test_custom_runner_is_chosen_by_name(runtime: Runtime) -> None:
    class EchoRunner(Runner):
        name: ClassVar[str] = "echo"

        async def do_run(self) -> str:
            self.context["echoed"] = True
            return f"echo: {self.task.input.as_text()}"

    runtime.add_runner(EchoRunner)
    from aworld_client import Payload

    response = await runtime.run(
        Task(input=Payload.from_text("hi"), conf=TaskConfig(runner="echo"))
    )

    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.value() == "echo: hi"
    lifecycle = [
        p for e in [x async for x in runtime.stream(response.id, follow=False)] for p in e.phases
    ]
    assert len(lifecycle) == 6 and {p.runner for p in lifecycle} == {"echo"}


@pytest.mark.parametrize("mode", [ExecutionMode.EVENT_DRIVEN, ExecutionMode.CALL_DRIVEN])
async def test_endless_task_stops_at_max_steps_with_partial_answer(
    runtime: Runtime, make_task: Callable[..., Task], mode: ExecutionMode
) -> None:
    forever = [
        {
            "content": "still working, last={last_tool_output}",
            "tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}],
        },
    ]
    task = make_task(forever, loop=True, mode=mode, conf=TaskConfig(budgets=Budgets(max_steps=7)))

    response = await runtime.run(task)

    assert response.status == TaskStatus.INTERRUPTED
    assert response.status_reason == "max_steps"
    assert response.usage.steps == 7
    assert response.answer.value() == "still working, last=2"
    assert response.failure is not None and response.failure.type == "max_steps"


async def test_tool_call_budget_interrupts(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    task = make_task(add_chain_script(10), conf=TaskConfig(budgets=Budgets(max_tool_calls=3)))
    response = await runtime.run(task)
    assert response.status == TaskStatus.INTERRUPTED
    assert response.status_reason == "max_tool_calls"
    assert response.usage.tool_calls == 3


async def test_token_budget_interrupts(runtime: Runtime, make_task: Callable[..., Task]) -> None:
    task = make_task(add_chain_script(20), conf=TaskConfig(budgets=Budgets(max_tokens=10)))
    response = await runtime.run(task)
    assert response.status == TaskStatus.INTERRUPTED
    assert response.status_reason == "max_tokens"
    assert response.usage.total_tokens >= 10


async def test_wall_clock_budget_times_out_a_slow_tool(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    import asyncio

    never = asyncio.Event()

    @tool(name="add")
    async def stuck_add(a: int, b: int) -> int:
        await never.wait()
        return a + b

    runtime.registry.add_tool(stuck_add)
    task = make_task(
        add_chain_script(3),
        conf=TaskConfig(budgets=Budgets(max_wall_time=timedelta(milliseconds=200))),
    )
    response = await runtime.run(task)

    assert response.status == TaskStatus.TIMED_OUT
    assert response.status_reason == "max_wall_time"
    status, nodes, _ = await runtime.task_state(response.id)
    tool_nodes = [n for n in nodes if n.kind == RunNodeKind.TOOL]
    assert status == TaskStatus.TIMED_OUT
    assert [n.status for n in tool_nodes] == [RunNodeStatus.CANCELLED]


async def test_cancel_ends_a_running_task(runtime: Runtime, make_task: Callable[..., Task]) -> None:
    import asyncio

    started, never = asyncio.Event(), asyncio.Event()

    @tool(name="add")
    async def blocking_add(a: int, b: int) -> int:
        started.set()
        await never.wait()
        return a + b

    runtime.registry.add_tool(blocking_add)
    submitted = await runtime.submit(make_task(add_chain_script(3)))
    await started.wait()

    assert (
        await runtime.cancel(submitted.task_id, "user changed their mind") == TaskStatus.CANCELLED
    )
    view = await runtime.get_task(submitted.task_id)
    assert view.response.status == TaskStatus.CANCELLED
    assert await runtime.cancel(submitted.task_id) == TaskStatus.CANCELLED  # idempotent


async def test_failing_tool_is_observed_by_the_agent(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    from aworld_client import RetryPolicy

    @tool(name="add")
    def broken_add(a: int, b: int) -> int:
        raise ValueError("adder is broken")

    runtime.registry.add_tool(broken_add)
    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
        {"content": "tool said {last_tool_output}"},
    ]
    task = make_task(script, retry_policy=RetryPolicy(maximum_attempts=1))
    response = await runtime.run(task)

    assert response.status == TaskStatus.SUCCEEDED
    assert "adder is broken" in response.answer.value()
    trajectory = await runtime.trajectory(response.id)
    assert trajectory[0].reward.status == "failed"

    task = make_task(
        script,
        retry_policy=RetryPolicy(maximum_attempts=1),
        conf=TaskConfig(tool_error_policy=ToolErrorPolicy.FAIL_TASK),
    )
    failed = await runtime.run(task)
    assert failed.status == TaskStatus.FAILED
    assert failed.failure is not None and failed.failure.type == "ValueError"


async def test_invalid_tasks_are_rejected_with_every_field_violation(runtime: Runtime) -> None:
    from aworld_client import AgentSpec, Payload, Swarm

    bad = Task(
        input=Payload.from_text(""),
        swarm=Swarm(agents=[AgentSpec(name="a", handoffs=["ghost"]), AgentSpec(name="a")]),
        conf=TaskConfig(budgets=Budgets(max_steps=-1)),
    )
    with pytest.raises(InvalidArgument) as caught:
        await runtime.submit(bad)
    fields = {v.field for v in caught.value.violations}
    assert {
        "task.input",
        "task.swarm.agents[0].handoffs[0]",
        "task.swarm.agents[1].name",
        "task.conf.budgets.max_steps",
        "task.swarm.agents[0].model",
    } <= fields


async def test_same_request_id_gives_one_task(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    import asyncio

    results = await asyncio.gather(
        *(runtime.submit(make_task(add_chain_script(2)), request_id="req-1") for _ in range(5))
    )
    assert len({r.task_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    again = await runtime.submit(make_task(add_chain_script(2)), request_id="req-1")
    assert again.task_id == results[0].task_id and not again.created


async def test_task_state_is_a_tree(runtime: Runtime, make_task: Callable[..., Task]) -> None:
    response = await runtime.run(make_task(add_chain_script(3)))
    status, nodes, _ = await runtime.task_state(response.id)

    assert status == TaskStatus.SUCCEEDED
    root = nodes[0]
    assert root.kind == RunNodeKind.TASK and root.parent_id == ""
    agents = [n for n in nodes if n.kind == RunNodeKind.AGENT]
    tools = [n for n in nodes if n.kind == RunNodeKind.TOOL]
    assert len(agents) == 3 and len(tools) == 2
    assert all(a.parent_id == root.id for a in agents)
    assert [t.parent_id for t in tools] == [agents[0].id, agents[1].id]
    assert all(n.status == RunNodeStatus.SUCCEEDED for n in nodes)
