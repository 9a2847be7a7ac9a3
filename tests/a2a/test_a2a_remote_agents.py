"""A remote A2A agent (an ``a2a-sdk`` server in a subprocess) as a member of our swarms: it
takes a step like a local agent, and its failures are retried or fail the task — never
handed to the next agent as an answer."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from a2a_harness import FAST_RETRY, StartRemote, StartServer, scripted
from aworld_client import (
    AgentSpec,
    AsyncClient,
    Event,
    LlmCallFinished,
    MessageCategory,
    MessageEmitted,
    Payload,
    RuntimeServiceError,
    Swarm,
    SwarmTopology,
    Task,
    TaskResponse,
    TaskStatus,
)
from aworld_server.runtime import Runtime
from aworld_server.storage import MemoryEventStore
from process_harness import WorkerProcess


async def run(server: Any, task: Task) -> tuple[TaskResponse, list[Event]]:
    """Run ``task`` over gRPC: its terminal response and every event."""
    events: list[Event] = []
    async with AsyncClient(f"127.0.0.1:{server.port}") as client:
        async for event in client.run(task):
            events.append(event)
    body = events[-1].body
    assert body is not None and body.response is not None  # type: ignore[union-attr]
    return body.response, events  # type: ignore[union-attr]


def model_calls(events: list[Event], agent: str) -> list[LlmCallFinished]:
    return [c for e in events if (c := e.llm_call) is not None and c.agent == agent]


def local(name: str, *steps: dict[str, Any], handoffs: list[str] | None = None) -> AgentSpec:
    return AgentSpec(name=name, model=scripted(list(steps)), handoffs=handoffs or [])


def task_of(topology: SwarmTopology, *agents: AgentSpec, text: str = "start") -> Task:
    return Task(
        input=Payload.from_text(text),
        swarm=Swarm(topology=topology, agents=list(agents)),
        retry_policy=FAST_RETRY,
    )


@pytest.fixture
async def remote(remote_agents: tuple[StartRemote, list[WorkerProcess]]) -> tuple[str, Any]:
    start_remote, processes = remote_agents
    url = await start_remote("--name", "reviewer")
    return url, processes


async def test_a_workflow_step_runs_on_the_remote_agent(
    start: StartServer, remote: tuple[str, Any]
) -> None:
    url, _ = remote
    server = await start(a2a={"remote_agents": [url]})
    response, events = await run(
        server,
        task_of(
            SwarmTopology.WORKFLOW,
            local("writer", {"content": "a first draft"}),
            AgentSpec(name="reviewer", a2a_url=url),
        ),
    )
    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.as_text() == "reviewer says: a first draft"
    # Recorded like a local agent's step: a model call of the remote agent, and its step in
    # the trajectory with what it saw and what it answered.
    [call] = model_calls(events, "reviewer")
    assert call.model == "a2a:reviewer" and call.failure is None
    trajectory = await server.runtime.trajectory(response.id)
    steps = [(t.meta.agent_id, t.action.content) for t in trajectory]
    assert steps == [
        ("writer", "a first draft"),
        ("reviewer", "reviewer says: a first draft"),
    ]


async def test_a_handoff_to_the_remote_agent(start: StartServer, remote: tuple[str, Any]) -> None:
    url, _ = remote
    server = await start(a2a={"remote_agents": [url]})
    triage = local(
        "triage",
        {"tool_calls": [{"name": "reviewer", "arguments": {"input": "please review X"}}]},
        handoffs=["reviewer"],
    )
    response, _ = await run(
        server,
        task_of(SwarmTopology.HANDOFF, triage, AgentSpec(name="reviewer", a2a_url=url)),
    )
    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.as_text() == "reviewer says: please review X"


async def test_a_team_leader_calls_the_remote_member(
    start: StartServer, remote: tuple[str, Any]
) -> None:
    url, _ = remote
    server = await start(a2a={"remote_agents": [url]})
    leader = local(
        "leader",
        {"tool_calls": [{"name": "reviewer", "arguments": {"input": "check 42"}}]},
        {"content": "leader heard: {last_tool_output}"},
        handoffs=["reviewer"],
    )
    response, events = await run(
        server, task_of(SwarmTopology.TEAM, leader, AgentSpec(name="reviewer", a2a_url=url))
    )
    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.as_text() == "leader heard: reviewer says: check 42"
    assert len(model_calls(events, "reviewer")) == 1


async def test_an_overloaded_remote_agent_is_retried_by_the_tasks_policy(
    start: StartServer, remote_agents: tuple[StartRemote, list[WorkerProcess]]
) -> None:
    start_remote, processes = remote_agents
    url = await start_remote("--name", "busy", "--fail-first", "2", "--no-streaming")
    server = await start(a2a={"remote_agents": [url]})
    response, events = await run(
        server,
        task_of(SwarmTopology.WORKFLOW, AgentSpec(name="busy", a2a_url=url), text="hello"),
    )
    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.as_text() == "busy says: hello"
    calls = model_calls(events, "busy")
    assert [c.failure.type if c.failure else "" for c in calls] == [
        "A2AAgentUnavailable",
        "A2AAgentUnavailable",
        "",
    ]
    assert "503" in calls[0].failure.message  # type: ignore[union-attr]
    await processes[0].expect(r"^request 3$")


async def test_an_unreachable_remote_agent_fails_the_task_and_never_answers(
    start: StartServer, remote: tuple[str, Any]
) -> None:
    url, processes = remote
    server = await start(a2a={"remote_agents": [url]})
    await processes[0].kill()  # gone before the task reaches it
    response, events = await run(
        server,
        task_of(
            SwarmTopology.WORKFLOW,
            local("writer", {"content": "a draft"}),
            AgentSpec(name="reviewer", a2a_url=url),
            local("publisher", {"content": "published: {last_tool_output}"}),
        ),
    )
    assert response.status == TaskStatus.FAILED
    assert response.failure.type == "A2AAgentUnavailable"
    assert len(model_calls(events, "reviewer")) == FAST_RETRY.maximum_attempts
    # The failure was never handed on as the reviewer's answer: the next agent never ran.
    assert model_calls(events, "publisher") == []


@pytest.mark.parametrize(
    ("mode", "failure"), [("fail", "A2AAgentFailed"), ("ask", "A2AAgentNeedsInput")]
)
async def test_a_remote_agents_own_failure_is_not_retried(
    start: StartServer,
    remote_agents: tuple[StartRemote, list[WorkerProcess]],
    mode: str,
    failure: str,
) -> None:
    start_remote, _ = remote_agents
    url = await start_remote("--name", "grumpy", "--mode", mode)
    server = await start(a2a={"remote_agents": [url]})
    response, events = await run(
        server, task_of(SwarmTopology.WORKFLOW, AgentSpec(name="grumpy", a2a_url=url))
    )
    assert response.status == TaskStatus.FAILED
    assert response.failure.type == failure
    assert len(model_calls(events, "grumpy")) == 1


async def test_a_served_task_may_name_only_the_configured_remote_agents(
    start: StartServer, remote: tuple[str, Any]
) -> None:
    url, _ = remote
    server = await start(a2a={"remote_agents": [url]})
    elsewhere = "http://127.0.0.1:9/"  # not in a2a.remote_agents
    async with AsyncClient(f"127.0.0.1:{server.port}") as client:
        with pytest.raises(RuntimeServiceError) as refused:
            await client.submit(
                task_of(
                    SwarmTopology.WORKFLOW,
                    AgentSpec(name="stranger", a2a_url=elsewhere),
                    AgentSpec(
                        name="confused",
                        a2a_url=url,
                        model=scripted([{"content": "x"}]),
                        tool_names=["add"],
                        mcp_servers=["files"],
                    ),
                    AgentSpec(name="bad", a2a_url="file:///etc/passwd"),
                )
            )
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = dict(refused.value.violations)
    assert "remote A2A agents" in fields["task.swarm.agents[0].a2a_url"]
    assert "own model" in fields["task.swarm.agents[1].model"]
    assert "own tools" in fields["task.swarm.agents[1].tool_names"]
    assert "own tools" in fields["task.swarm.agents[1].mcp_servers"]
    assert "http" in fields["task.swarm.agents[2].a2a_url"]


async def test_embedded_runtimes_take_any_remote_agent_url(
    tmp_path: Any, remote: tuple[str, Any]
) -> None:
    """Without a server (``Runtime`` in one's own process) no allow-list applies."""
    url, _ = remote
    async with Runtime(store=MemoryEventStore(), data_dir=tmp_path) as runtime:
        response = await runtime.run(
            task_of(
                SwarmTopology.WORKFLOW,
                local("writer", {"content": "notes"}),
                AgentSpec(name="reviewer", a2a_url=url),
            )
        )
    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.as_text() == "reviewer says: notes"


async def test_cancelling_our_task_cancels_the_remote_one(
    start: StartServer, remote_agents: tuple[StartRemote, list[WorkerProcess]]
) -> None:
    start_remote, processes = remote_agents
    url = await start_remote("--name", "sloth", "--mode", "slow")
    server = await start(a2a={"remote_agents": [url]})
    submitted = await server.runtime.submit(
        task_of(SwarmTopology.WORKFLOW, AgentSpec(name="sloth", a2a_url=url))
    )
    working = await processes[0].expect(r"^working (\S+)$")  # the remote task is running
    # Its first words reached our task as a chunk: we know which remote task is ours.
    async for event in server.runtime.stream(submitted.task_id):
        body = event.body
        if isinstance(body, MessageEmitted) and body.message.category == MessageCategory.CHUNK:
            assert body.message.payload.as_text() == "thinking"
            break
    assert await server.runtime.cancel(submitted.task_id) == TaskStatus.CANCELLED
    await processes[0].expect(rf"^cancelled {working.group(1)}$")
