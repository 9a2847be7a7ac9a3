"""Sub-tasks: an agent runs another agent of its swarm as a task of its own (``run_subtask``)
or as a parallel group (``run_subtasks``), with join semantics, budgets and cancellation from
the parent, and the parent's run-node tree showing them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aworld_client import (
    AgentSpec,
    Budgets,
    Payload,
    RunNodeKind,
    RunNodeStatus,
    Swarm,
    SwarmTopology,
    Task,
    TaskConfig,
    TaskStatus,
)
from aworld_client.handlers import tool
from aworld_server import Runtime
from aworld_server.storage import TaskQuery
from core_helpers import add, scripted
from process_harness import assert_eventually

gates: dict[str, asyncio.Event] = {}
entered: list[str] = []


@tool(idempotent=True)
async def wait_for(key: str) -> str:
    """Blocks until the test opens the gate ``key``."""
    entered.append(key)
    await gates.setdefault(key, asyncio.Event()).wait()
    return f"opened {key}"


def _helper(script: list[dict[str, Any]], **fields: Any) -> AgentSpec:
    return AgentSpec(
        name="helper", tool_names=["add", "wait_for"], model=scripted(script, **fields)
    )


def _parent(calls: list[dict[str, Any]], helper: AgentSpec, **fields: Any) -> Task:
    lead = AgentSpec(
        name="lead",
        tool_names=["run_subtask", "run_subtasks"],
        model=scripted([{"tool_calls": calls}, {"content": "lead: {last_tool_output}"}]),
    )
    # A team led by "lead": the helper takes part only through the sub-tasks lead starts.
    team = Swarm(agents=[lead, helper], topology=SwarmTopology.TEAM, root_agent="lead")
    return Task(input=Payload.from_text("go"), swarm=team, **fields)


async def _children(runtime: Runtime, parent_id: str) -> list[Task]:
    page = await runtime.reader.list_tasks(TaskQuery())
    tasks = [await runtime.reader.submitted(r.task_id) for r in page.items]
    return [t for t in tasks if t is not None and t.parent_task_id == parent_id]


async def test_a_subtask_runs_as_its_own_task_and_its_answer_comes_back(
    runtime: Runtime,
) -> None:
    helper = _helper(
        [
            {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
            {"content": "sum={last_tool_output}"},
        ]
    )
    call = {"name": "run_subtask", "arguments": {"agent": "helper", "input": "2+3?"}}

    response = await runtime.run(_parent([call], helper))

    assert response.status == TaskStatus.SUCCEEDED, response
    assert response.answer.value() == "lead: sum=5"
    (child,) = await _children(runtime, response.id)
    assert child.input.as_text() == "2+3?" and [a.name for a in child.swarm.agents] == ["helper"]
    assert (await runtime.get_task(child.id)).response.answer.value() == "sum=5"
    _, nodes, groups = await runtime.task_state(response.id)
    (node,) = [n for n in nodes if n.kind == RunNodeKind.TASK and n.name == child.id]
    assert node.status == RunNodeStatus.SUCCEEDED and groups == []
    assert response.usage.steps == 2 + 2  # the child's steps count against the parent


async def test_parallel_subtasks_are_a_group_joined_in_order(runtime: Runtime) -> None:
    helper = _helper([{"content": "seen"}])
    call = {"name": "run_subtasks", "arguments": {"agent": "helper", "inputs": ["a", "b", "c"]}}

    response = await runtime.run(_parent([call], helper))

    assert response.status == TaskStatus.SUCCEEDED, response
    children = await _children(runtime, response.id)
    assert sorted(c.input.as_text() for c in children) == ["a", "b", "c"]
    assert len({c.group_id for c in children}) == 1 and children[0].group_id
    answer = response.answer.value()
    assert answer.startswith("lead: ") and answer.count('"answer": "seen"') == 3
    _, nodes, groups = await runtime.task_state(response.id)
    (group,) = groups
    assert group.id == children[0].group_id and group.status == RunNodeStatus.SUCCEEDED
    (tool_node,) = [n for n in nodes if n.kind == RunNodeKind.TOOL]
    assert group.parent_node_id == tool_node.id  # nested under the call that fanned out
    members = {n.id: n for n in nodes if n.group_id == group.id}
    assert list(members) == group.node_ids and len(members) == 3


async def test_a_subtask_gets_what_is_left_of_the_parents_budget(runtime: Runtime) -> None:
    helper = _helper([{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}], loop=True)
    call = {"name": "run_subtask", "arguments": {"agent": "helper", "input": "loop"}}
    task = _parent([call], helper, conf=TaskConfig(budgets=Budgets(max_steps=5)))

    response = await runtime.run(task)

    (child,) = await _children(runtime, response.id)
    assert child.conf.budgets.max_steps == 4  # the parent had taken one step
    ended = (await runtime.get_task(child.id)).response
    assert ended.status == TaskStatus.INTERRUPTED and ended.status_reason == "max_steps"
    assert response.status == TaskStatus.INTERRUPTED  # the child's steps used the parent's up


async def test_cancelling_the_parent_cancels_its_subtasks(runtime: Runtime) -> None:
    runtime.registry.add_tool(wait_for)
    helper = _helper([{"tool_calls": [{"name": "wait_for", "arguments": {"key": "cancel-1"}}]}])
    call = {"name": "run_subtask", "arguments": {"agent": "helper", "input": "wait"}}
    entered[:] = [k for k in entered if k != "cancel-1"]  # the test runs once per backend
    submitted = await runtime.submit(_parent([call], helper))
    await assert_eventually(lambda: "cancel-1" in entered, message="the sub-task never started")

    assert await runtime.cancel(submitted.task_id) == TaskStatus.CANCELLED

    (child,) = await _children(runtime, submitted.task_id)
    assert (await runtime.wait(child.id)).status == TaskStatus.CANCELLED


async def test_a_resumed_parent_finds_its_subtask_instead_of_starting_another(
    tmp_path: Path,
) -> None:
    helper = _helper(
        [
            {"tool_calls": [{"name": "wait_for", "arguments": {"key": "resume-1"}}]},
            {"content": "child {last_tool_output}"},
        ]
    )
    call = {"name": "run_subtask", "arguments": {"agent": "helper", "input": "wait"}}

    async def open_runtime() -> Runtime:
        runtime = Runtime(data_dir=tmp_path)
        runtime.registry.add_tool(add, wait_for)
        return await runtime.start()

    entered.clear()  # module state, shared by both backends' runs of this file
    gates.pop("resume-1", None)
    runtime = await open_runtime()
    submitted = await runtime.submit(_parent([call], helper))
    await assert_eventually(lambda: "resume-1" in entered, message="the sub-task never started")
    await runtime.close()  # both tasks stop mid-run; the log keeps them

    runtime = await open_runtime()
    try:
        gates["resume-1"].set()
        response = await runtime.wait(submitted.task_id)
        assert response.status == TaskStatus.SUCCEEDED, response
        assert response.answer.value() == "lead: child opened resume-1"
        assert len(await _children(runtime, submitted.task_id)) == 1
    finally:
        await runtime.close()


async def test_a_resumed_batch_of_parallel_calls_reruns_none_that_finished(tmp_path: Path) -> None:
    """Calls of one step run together; the first to resume live must not make the others forget
    that they finished (a non-idempotent one would run twice)."""
    ran: list[str] = []

    @tool(name="note")
    async def note(text: str) -> str:
        """Not idempotent: records each run."""
        ran.append(text)
        return f"noted {text}"

    script = [
        {
            "tool_calls": [
                {"name": "wait_for", "arguments": {"key": "batch-1"}},
                {"name": "note", "arguments": {"text": "once"}},
            ]
        },
        {"content": "done"},
    ]
    agent = AgentSpec(name="solo", tool_names=["wait_for", "note"], model=scripted(script))
    task = Task(input=Payload.from_text("go"), swarm=Swarm(agents=[agent]))

    async def open_runtime() -> Runtime:
        runtime = Runtime(data_dir=tmp_path)
        runtime.registry.add_tool(wait_for, note)
        return await runtime.start()

    entered.clear()
    gates.pop("batch-1", None)
    runtime = await open_runtime()
    submitted = await runtime.submit(task)
    await assert_eventually(lambda: "batch-1" in entered and ran == ["once"])
    await runtime.close()  # the batch stops with one call finished and one waiting

    runtime = await open_runtime()
    try:
        gates["batch-1"].set()
        response = await runtime.wait(submitted.task_id)
        assert response.status == TaskStatus.SUCCEEDED, response
        assert ran == ["once"]  # the finished call was replayed, not run again
    finally:
        await runtime.close()
