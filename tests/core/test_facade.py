"""The AWorld-style Runners façade over an embedded runtime."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aworld_client import (
    AgentSpec,
    MessageCategory,
    Payload,
    StreamingMode,
    Swarm,
    Task,
    TaskStatus,
)
from aworld_server import (
    Agent,
    HandoffSwarm,
    RunConfig,
    Runners,
    Runtime,
    ScriptedModel,
    TeamSwarm,
    WorkflowSwarm,
)
from aworld_server.facade import TASK_RESPONSE_TOPIC
from core_helpers import add, scripted


def _adder(name: str = "calc") -> Agent:
    return Agent(
        name,
        tools=[add],
        model=ScriptedModel(
            [
                {"tool_calls": [{"name": "add", "arguments": {"a": 20, "b": 22}}]},
                {"content": "answer {last_tool_output}"},
            ]
        ),
    )


async def test_run_with_an_agent_object(runtime: Runtime) -> None:
    response = await Runners.run("what is 20+22?", agent=_adder(), runtime=runtime)
    assert response.success and response.status.aworld_name == "success"
    assert response.answer.value() == "answer 42"


async def test_run_rejects_both_agent_and_swarm_and_empty_input(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="either agent or swarm"):
        await Runners.run("x", agent=_adder(), swarm=WorkflowSwarm(_adder("b")), runtime=runtime)
    with pytest.raises(ValueError, match="empty"):
        await Runners.run("", agent=_adder(), runtime=runtime)


async def test_run_task_keeps_every_result_when_one_task_is_invalid(runtime: Runtime) -> None:
    good = [
        Task(
            input=Payload.from_text(f"q{n}"),
            swarm=Swarm(
                agents=[
                    AgentSpec(
                        name="calc", tool_names=["add"], model=scripted([{"content": f"a{n}"}])
                    )
                ]
            ),
        )
        for n in range(3)
    ]
    bad = Task(id="broken", input=Payload.from_text("q"), swarm=Swarm())

    results = await Runners.run_task([*good, bad], runtime=runtime)

    assert len(results) == 4
    assert results["broken"].status == TaskStatus.FAILED
    assert results["broken"].failure.type == "InvalidArgument"
    assert sorted(results[t.id].answer.value() for t in good) == ["a0", "a1", "a2"]


async def test_sequence_dependent_run_feeds_each_answer_on(runtime: Runtime) -> None:
    echo = AgentSpec(name="echo", model=scripted([{"content": "{last_tool_output}"}]))

    def shout_task() -> Task:
        spec = AgentSpec(
            name="shout",
            tool_names=["add"],
            model=scripted(
                [
                    {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]},
                    {"content": "{last_tool_output}"},
                ]
            ),
        )
        return Task(input=Payload.from_text("start"), swarm=Swarm(agents=[spec]))

    first, second = shout_task(), Task(input=Payload.from_text("x"), swarm=Swarm(agents=[echo]))
    results = await Runners.run_task(
        [first, second], RunConfig(sequence_dependent=True), runtime=runtime
    )

    assert list(results) == [first.id, second.id]
    trajectory = await runtime.trajectory(second.id)
    assert trajectory[0].state.input.value() == {"input": "2"}


async def test_streaming_run_ends_with_the_response(runtime: Runtime) -> None:
    messages = [m async for m in Runners.streaming_run("go", agent=_adder(), runtime=runtime)]

    categories = [m.category for m in messages]
    assert categories[:3] == [MessageCategory.AGENT, MessageCategory.TOOL, MessageCategory.AGENT]
    last = messages[-1]
    assert last.category == MessageCategory.TASK and last.topic == TASK_RESPONSE_TOPIC
    assert last.payload.value()["status"] == "TASK_STATUS_SUCCEEDED"
    assert last.payload.value()["answer"]["json"] == '"answer 42"'

    outputs = [
        m
        async for m in Runners.streaming_run(
            "go", agent=_adder(), runtime=runtime, streaming_mode=StreamingMode.OUTPUT
        )
    ]
    assert [m.category for m in outputs] == [MessageCategory.OUTPUT, MessageCategory.TASK]


async def test_streaming_a_task_that_cannot_start_ends_with_the_error(runtime: Runtime) -> None:
    bad = Task(input=Payload.from_text("x"), swarm=Swarm())
    messages = [m async for m in Runners.streaming_run_task(bad, runtime=runtime)]
    assert len(messages) == 1
    response: dict[str, Any] = messages[0].payload.value()
    assert response["status"] == "TASK_STATUS_FAILED"
    assert response["failure"]["type"] == "InvalidArgument"


async def test_step_advances_an_interactive_task_one_agent_step_at_a_time(
    runtime: Runtime,
) -> None:
    runtime.registry.add_agent(_adder())
    task = Task(input=Payload.from_text("go"), swarm=Swarm(agents=[_adder().spec()]))

    finished, observation, response = await Runners.step(task, runtime=runtime)
    assert not finished and response is None and '"add"' in observation
    status, nodes, _ = await runtime.task_state(task.id)
    assert status == TaskStatus.RUNNING and len([n for n in nodes if n.name == "calc"]) == 1

    finished, observation, response = await Runners.step(task, runtime=runtime)
    assert finished and observation == "answer 42"
    assert response is not None and response.status == TaskStatus.SUCCEEDED


async def test_workflow_handoff_and_team_swarms_finish_with_the_right_answer(
    runtime: Runtime,
) -> None:
    def talker(name: str, script: list[dict[str, Any]], handoffs: tuple[str, ...] = ()) -> Agent:
        return Agent(name, model=ScriptedModel(script), handoffs=handoffs)

    workflow = WorkflowSwarm(
        talker("draft", [{"content": "draft"}]),
        talker("edit", [{"content": "edited {last_tool_output}"}]),
    )
    response = await Runners.run("write", swarm=workflow, runtime=runtime)
    assert response.answer.value() == "edited "

    handoff = HandoffSwarm(
        talker(
            "triage",
            [{"tool_calls": [{"name": "billing", "arguments": {"input": "refund"}}]}],
            handoffs=("billing",),
        ),
        talker("billing", [{"content": "refund issued"}]),
    )
    response = await Runners.run("help", swarm=handoff, runtime=runtime)
    assert response.answer.value() == "refund issued"

    team = TeamSwarm(
        talker(
            "lead",
            [
                {"tool_calls": [{"name": "researcher", "arguments": {"input": "find x"}}]},
                {"content": "lead says: {last_tool_output}"},
            ],
        ),
        talker("researcher", [{"content": "x=7"}]),
    )
    response = await Runners.run("solve", swarm=team, runtime=runtime)
    assert response.answer.value() == "lead says: x=7"


def test_sync_run_works_twice_without_an_event_loop(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default runtime keeps its log under ./.aworld
    first = Runners.sync_run("what is 20+22?", agent=_adder())
    second = Runners.sync_run("and again?", agent=_adder())
    assert first.answer.value() == second.answer.value() == "answer 42"
    assert first.id != second.id


async def test_streaming_mode_of_the_task_conf_is_the_default(runtime: Runtime) -> None:
    from aworld_client import TaskConfig

    runtime.registry.add_agent(_adder())
    task = Task(
        input=Payload.from_text("go"),
        swarm=Swarm(agents=[AgentSpec(name="calc")]),
        conf=TaskConfig(streaming_mode=StreamingMode.OUTPUT),
    )
    messages = [m async for m in Runners.streaming_run_task(task, runtime=runtime)]
    assert [m.category for m in messages] == [MessageCategory.OUTPUT, MessageCategory.TASK]


async def test_worker_num_bounds_how_many_tasks_run_at_once(runtime: Runtime) -> None:
    from aworld_client.handlers import tool
    from aworld_server.storage import TaskQuery
    from process_harness import assert_eventually

    in_flight = 0
    release = asyncio.Event()

    @tool
    async def probe(n: int) -> int:
        """Holds its task until the test releases it."""
        nonlocal in_flight
        in_flight += 1
        await release.wait()
        in_flight -= 1
        return n

    runtime.registry.add_tool(probe)
    script = [
        {"tool_calls": [{"name": "probe", "arguments": {"n": 1}}]},
        {"content": "{last_tool_output}"},
    ]
    tasks = [
        Task(
            input=Payload.from_text(f"q{n}"),
            swarm=Swarm(agents=[AgentSpec(name="p", tool_names=["probe"], model=scripted(script))]),
        )
        for n in range(5)
    ]
    running = asyncio.ensure_future(
        Runners.run_task(tasks, RunConfig(worker_num=2), runtime=runtime)
    )
    await assert_eventually(lambda: in_flight == 2, message="two tasks never reached the tool")
    accepted = await runtime.reader.list_tasks(TaskQuery())
    assert len(accepted.items) == 2 and runtime.live_tasks == 2  # the others wait to start
    release.set()
    results = await running
    assert [r.status for r in results.values()] == [TaskStatus.SUCCEEDED] * 5


def test_run_config_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="worker_num"):
        RunConfig(worker_num=0)
    with pytest.raises(ValueError, match="plugin engine"):
        RunConfig(in_local=False)
    with pytest.raises(ValueError, match="reuse_process"):
        RunConfig(reuse_process=False)
    RunConfig(in_local=False, engine_name="ray")  # outside this process: fine


async def test_run_config_refuses_a_bus_the_runtime_does_not_use(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match=r"event_bus='redis'.*'memory'"):
        await Runners.run_task(
            Task(input=Payload.from_text("x")), RunConfig(event_bus="redis"), runtime=runtime
        )


async def test_unsupported_task_fields_are_refused_with_their_path(runtime: Runtime) -> None:
    from aworld_client import TaskConfig
    from aworld_server.errors import InvalidArgument

    task = Task(
        input=Payload.from_text("x"),
        swarm=Swarm(agents=[AgentSpec(name="a", model=scripted([{"content": "hi"}]))]),
        conf=TaskConfig(check_input=True),
        priority=3,
    )
    with pytest.raises(InvalidArgument) as caught:
        await runtime.submit(task)
    assert {v.field for v in caught.value.violations} == {"task.conf.check_input", "task.priority"}
