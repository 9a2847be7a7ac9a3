"""Agents whose policy is a remote AGENT handler (``AgentSpec.remote_handler``) served by a
worker process take their steps in WORKFLOW, HANDOFF and TEAM swarms like model-backed agents:
their input, output, usage and failures are recorded the same way."""

from __future__ import annotations

import asyncio
import json

from aworld_client import (
    AgentSpec,
    AsyncClient,
    HandlerKind,
    Payload,
    RetryPolicy,
    Swarm,
    SwarmTopology,
    Task,
    TaskResponse,
    TaskStatus,
)
from aworld_server.server import RunningServer
from server_harness import FAST_RETRY, WAIT, SpawnWorker, scripted


async def _worker_ready(server: RunningServer, spawn_worker: SpawnWorker) -> int:
    worker = await spawn_worker()
    async with asyncio.timeout(WAIT):
        await server.dispatcher.wait_for_handler("reviewer", HandlerKind.AGENT)
    return worker.pid


async def _run(client: AsyncClient, task: Task) -> TaskResponse:
    async with asyncio.timeout(WAIT):
        return await client.run_to_completion(task)


def _task(*agents: AgentSpec, topology: SwarmTopology, input: str = "draft a note") -> Task:
    return Task(
        input=Payload.from_text(input),
        swarm=Swarm(agents=list(agents), topology=topology),
        retry_policy=FAST_RETRY,
    )


async def test_a_remote_agent_is_a_step_of_a_workflow(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    pid = await _worker_ready(server, spawn_worker)
    writer = AgentSpec(name="writer", model=scripted([{"content": "first draft"}]))
    reviewer = AgentSpec(name="review", remote_handler="reviewer")

    response = await _run(client, _task(writer, reviewer, topology=SwarmTopology.WORKFLOW))

    assert response.status == TaskStatus.SUCCEEDED, response
    assert response.answer is not None
    assert response.answer.as_text() == f"reviewed by {pid}: FIRST DRAFT"
    trajectory = await client.trajectory(response.id)
    assert [(i.meta.agent_id, i.action.content) for i in trajectory] == [
        ("writer", "first draft"),
        ("review", f"reviewed by {pid}: FIRST DRAFT"),
    ]
    assert response.usage is not None and response.usage.steps == 2


async def test_a_remote_agent_calls_tools_and_its_usage_is_counted(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    await _worker_ready(server, spawn_worker)
    planner = AgentSpec(name="plan", remote_handler="planner", tool_names=["echo"])

    response = await _run(client, _task(planner, topology=SwarmTopology.SINGLE, input="go"))

    assert response.status == TaskStatus.SUCCEEDED, response
    assert response.answer is not None
    answer = response.answer.as_text()
    assert answer.startswith("planned with ")
    assert json.loads(answer.removeprefix("planned with "))["text"] == "go"
    events = [e async for e in client.events(response.id, follow=False)]
    calls = [e.llm_call for e in events if e.llm_call is not None]
    assert [(c.agent, c.model, c.failure) for c in calls] == [("plan", "planner", None)] * 2
    assert response.usage is not None and response.usage.prompt_tokens == 7


async def test_a_team_leader_calls_a_remote_member_and_a_handoff_reaches_one(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    pid = await _worker_ready(server, spawn_worker)
    leader = AgentSpec(
        name="lead",
        handoffs=["review"],
        model=scripted(
            [
                {"tool_calls": [{"name": "review", "arguments": {"input": "team text"}}]},
                {"content": "team says {last_tool_output}"},
            ]
        ),
    )
    member = AgentSpec(name="review", remote_handler="reviewer", description="reviews text")
    team = await _run(client, _task(leader, member, topology=SwarmTopology.TEAM))
    assert team.status == TaskStatus.SUCCEEDED, team
    assert team.answer is not None
    assert team.answer.as_text() == f"team says reviewed by {pid}: TEAM TEXT"

    triage = AgentSpec(
        name="triage",
        handoffs=["review"],
        model=scripted([{"tool_calls": [{"name": "review", "arguments": {"input": "x"}}]}]),
    )
    handoff = await _run(client, _task(triage, member, topology=SwarmTopology.HANDOFF))
    assert handoff.status == TaskStatus.SUCCEEDED, handoff
    assert handoff.answer is not None and handoff.answer.as_text().startswith(f"reviewed by {pid}")


async def test_a_remote_agent_that_fails_fails_the_task_and_is_never_an_answer(
    server: RunningServer, client: AsyncClient, spawn_worker: SpawnWorker
) -> None:
    await _worker_ready(server, spawn_worker)
    writer = AgentSpec(name="writer", model=scripted([{"content": "draft"}]))
    broken = AgentSpec(name="broken", remote_handler="broken_agent")
    task = _task(writer, broken, topology=SwarmTopology.WORKFLOW)
    task.retry_policy = RetryPolicy(
        maximum_attempts=2, initial_interval=FAST_RETRY.initial_interval
    )

    response = await _run(client, task)

    assert response.status == TaskStatus.FAILED, response
    assert response.failure is not None and response.failure.type == "RuntimeError"
    events = [e async for e in client.events(response.id, follow=False)]
    failed = [c for e in events if (c := e.llm_call) is not None and c.failure is not None]
    assert [(b.agent, b.attempt) for b in failed] == [("broken", 1), ("broken", 2)]
