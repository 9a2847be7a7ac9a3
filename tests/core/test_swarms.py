"""Swarm topologies terminate by their rule, in both execution modes, with the right answer."""

from __future__ import annotations

from typing import Any

import pytest
from aworld_client import Budgets, ExecutionMode, TaskConfig, TaskStatus
from aworld_server import (
    Agent,
    HandoffSwarm,
    Runners,
    Runtime,
    ScriptedModel,
    TeamSwarm,
    WorkflowSwarm,
)

MODES = [ExecutionMode.EVENT_DRIVEN, ExecutionMode.CALL_DRIVEN]


def talker(name: str, *script: dict[str, Any], handoffs: tuple[str, ...] = ()) -> Agent:
    return Agent(name, model=ScriptedModel(list(script)), handoffs=handoffs)


def call(target: str, text: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": target, "arguments": {"input": text}}]}


@pytest.mark.parametrize("mode", MODES)
async def test_workflow_passes_each_answer_on(runtime: Runtime, mode: ExecutionMode) -> None:
    swarm = WorkflowSwarm(
        talker("a", {"content": "one"}),
        talker("b", {"content": "two"}),
        talker("c", {"content": "three"}),
    )
    response = await Runners.run(
        "go", swarm=swarm, runtime=runtime, conf=TaskConfig(execution_mode=mode)
    )
    assert response.answer.value() == "three"
    trajectory = await runtime.trajectory(response.id)
    assert [(i.meta.agent_id, i.state.input.value()["input"]) for i in trajectory] == [
        ("a", "go"),
        ("b", "one"),
        ("c", "two"),
    ]
    assert [i.meta.pre_agent for i in trajectory] == ["", "a", "b"]


@pytest.mark.parametrize("mode", MODES)
async def test_handoff_chain_ends_with_the_agent_holding_control(
    runtime: Runtime, mode: ExecutionMode
) -> None:
    swarm = HandoffSwarm(
        talker("triage", call("billing", "refund order 9"), handoffs=("billing",)),
        talker("billing", call("refunds", "order 9"), handoffs=("refunds",)),
        talker("refunds", {"content": "refunded order 9"}),
    )
    response = await Runners.run(
        "I want my money back", swarm=swarm, runtime=runtime, conf=TaskConfig(execution_mode=mode)
    )
    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.value() == "refunded order 9"
    trajectory = await runtime.trajectory(response.id)
    assert [i.meta.agent_id for i in trajectory] == ["triage", "billing", "refunds"]
    assert trajectory[1].state.input.value()["input"] == "refund order 9"


@pytest.mark.parametrize("mode", MODES)
async def test_team_leader_answers_with_member_results(
    runtime: Runtime, mode: ExecutionMode
) -> None:
    team = TeamSwarm(
        talker(
            "lead",
            call("researcher", "find x"),
            call("writer", "write it up"),
            {"content": "final: {last_tool_output}"},
        ),
        talker("researcher", {"content": "x=7"}),
        talker("writer", {"content": "report on x=7"}),
    )
    response = await Runners.run(
        "solve", swarm=team, runtime=runtime, conf=TaskConfig(execution_mode=mode)
    )
    assert response.answer.value() == "final: report on x=7"
    trajectory = await runtime.trajectory(response.id)
    assert [i.meta.agent_id for i in trajectory] == ["lead", "researcher", "lead", "writer", "lead"]


async def test_team_whose_last_speaker_is_not_the_leader_returns_its_answer(
    runtime: Runtime,
) -> None:
    silent_lead = TeamSwarm(
        talker("lead", call("expert", "answer it"), {"content": ""}),
        talker("expert", {"content": "the answer is 42"}),
    )
    response = await Runners.run("q", swarm=silent_lead, runtime=runtime)
    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.value() == "the answer is 42"

    cut_short = TeamSwarm(
        talker("lead", call("expert", "answer it"), call("expert", "again")),
        talker("expert", {"content": "partial 41"}),
    )
    response = await Runners.run(
        "q", swarm=cut_short, runtime=runtime, conf=TaskConfig(budgets=Budgets(max_steps=3))
    )
    assert response.status == TaskStatus.INTERRUPTED
    assert response.answer.value() == "partial 41"


async def test_an_agent_calling_itself_in_circles_stops_at_max_steps(runtime: Runtime) -> None:
    swarm = HandoffSwarm(
        talker("ping", call("pong", "ball"), handoffs=("pong",)),
        talker("pong", call("ping", "ball"), handoffs=("ping",)),
    )
    response = await Runners.run(
        "serve", swarm=swarm, runtime=runtime, conf=TaskConfig(budgets=Budgets(max_steps=9))
    )
    assert response.status == TaskStatus.INTERRUPTED
    assert response.usage.steps == 9
