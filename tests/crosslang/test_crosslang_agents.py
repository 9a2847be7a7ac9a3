"""Remote agents from the three SDKs as swarm members: an ``AgentSpec.remote_handler`` agent
takes its steps through an AGENT handler served by a Python, TypeScript or Go worker process
(real ``node`` and Go programs, a real server), in WORKFLOW, TEAM and SINGLE swarms, calls tools
served by another language, and survives the loss of its worker mid-step."""

from __future__ import annotations

import json
import sys

from aworld_client import (
    AgentSpec,
    AsyncClient,
    HandlerKind,
    ModelConfig,
    Payload,
    Swarm,
    SwarmTopology,
    Task,
    TaskResponse,
    TaskStatus,
    ToolCallFinished,
)
from aworld_server.server import RunningServer
from crosslang_harness import (
    FAST_RETRY,
    ROOT,
    ChildProcess,
    Programs,
    Spawn,
    bodies,
    events_of,
    go_worker,
    serving,
    terminal,
    ts_worker,
)

AGENT = HandlerKind.AGENT


def _task(*agents: AgentSpec, topology: SwarmTopology, input: str) -> Task:
    return Task(
        input=Payload.from_text(input),
        swarm=Swarm(agents=list(agents), topology=topology),
        retry_policy=FAST_RETRY,
    )


def _scripted(script: list[dict[str, object]]) -> ModelConfig:
    return ModelConfig(provider="scripted", options=Payload.of({"script": script}))


def _answer(response: TaskResponse) -> str:
    assert response.status == TaskStatus.SUCCEEDED, response
    assert response.answer is not None, response
    return response.answer.as_text()


async def _python_worker(spawn: Spawn, server: RunningServer) -> ChildProcess:
    """The dispatch tests' Python worker; it serves the ``reviewer`` agent
    (``reviewed by <pid>: <OBSERVATION>``)."""
    command = [sys.executable, str(ROOT / "tests/dispatch/worker_app.py"), "--target"]
    worker = await spawn("python worker", [*command, server.address])
    await serving(server, "reviewer", kind=AGENT)
    return worker


async def test_python_typescript_and_go_agents_review_in_turn_in_a_workflow(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    python = await _python_worker(spawn, server)
    ts = await ts_worker(spawn, programs, server, "--agent", "ts_review=review")
    go = await go_worker(spawn, programs, server, "--agent", "go_review=review")
    await serving(server, "ts_review", kind=AGENT)
    await serving(server, "go_review", kind=AGENT)

    task = _task(
        AgentSpec(name="py", remote_handler="reviewer"),
        AgentSpec(name="ts", remote_handler="ts_review"),
        AgentSpec(name="go", remote_handler="go_review"),
        topology=SwarmTopology.WORKFLOW,
        input="draft note",
    )
    task_id = await client.submit(task)
    events = await events_of(client, task_id)

    # Each agent's answer is the next one's observation: all three transformations, in order.
    by_python = f"reviewed by {python.pid}: DRAFT NOTE"
    by_typescript = f"typescript reviewed: {by_python.upper()}"
    by_go = f"go reviewed: {by_typescript.upper()}"
    assert _answer(terminal(events)) == by_go
    trajectory = await client.trajectory(task_id)
    assert [(item.meta.agent_id, item.action.content) for item in trajectory] == [
        ("py", by_python),
        ("ts", by_typescript),
        ("go", by_go),
    ]
    # Each step is recorded like a model call, named by the handler that took it.
    calls = [e.llm_call for e in events if e.llm_call is not None]
    assert [(c.agent, c.model, c.attempt, c.failure) for c in calls] == [
        ("py", "reviewer", 1, None),
        ("ts", "ts_review", 1, None),
        ("go", "go_review", 1, None),
    ]
    await ts.expect(rf"^STARTED ts_review \S+ 1 {ts.pid}$")
    await go.expect(rf"^STARTED go_review \S+ 1 {go.pid}$")


async def test_a_team_leader_calls_a_typescript_member_and_a_go_member(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    await ts_worker(spawn, programs, server, "--agent", "ts_review=review")
    await go_worker(spawn, programs, server, "--agent", "go_review=review")
    await serving(server, "ts_review", kind=AGENT)
    await serving(server, "go_review", kind=AGENT)

    # The local leader asks the TypeScript member, hands its answer to the Go member, and
    # answers with what came back: both members' work, in the leader's answer.
    leader = AgentSpec(
        name="lead",
        handoffs=["ts_member", "go_member"],
        model=_scripted(
            [
                {"tool_calls": [{"name": "ts_member", "arguments": {"input": "team text"}}]},
                {
                    "tool_calls": [
                        {"name": "go_member", "arguments": {"input": "{last_tool_output}"}}
                    ]
                },
                {"content": "the team says: {last_tool_output}"},
            ]
        ),
    )
    members = [
        AgentSpec(name="ts_member", remote_handler="ts_review", description="reviews in TS"),
        AgentSpec(name="go_member", remote_handler="go_review", description="reviews in Go"),
    ]
    task_id = await client.submit(
        _task(leader, *members, topology=SwarmTopology.TEAM, input="start")
    )
    events = await events_of(client, task_id)

    assert _answer(terminal(events)) == (
        "the team says: go reviewed: TYPESCRIPT REVIEWED: TEAM TEXT"
    )
    calls = [e.llm_call for e in events if e.llm_call is not None]
    assert [(c.agent, c.model, c.failure) for c in calls] == [
        ("lead", "scripted", None),
        ("ts_member", "ts_review", None),
        ("lead", "scripted", None),
        ("go_member", "go_review", None),
        ("lead", "scripted", None),
    ]


async def test_a_remote_agent_calls_a_tool_served_in_the_other_language(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    ts = await ts_worker(
        spawn, programs, server, "--agent", "ts_plan=plan", "--tool", "ts_describe=describe"
    )
    go = await go_worker(
        spawn, programs, server, "--agent", "go_plan=plan", "--tool", "go_describe=describe"
    )
    for name, kind in [
        ("ts_plan", AGENT),
        ("go_plan", AGENT),
        ("ts_describe", HandlerKind.TOOL),
        ("go_describe", HandlerKind.TOOL),
    ]:
        await serving(server, name, kind=kind)

    # A TypeScript agent plans with the Go tool; a Go agent with the TypeScript tool.
    for planner, tool, lang, served_by in [
        ("ts_plan", "go_describe", "typescript", {"lang": "go", "pid": go.pid}),
        ("go_plan", "ts_describe", "go", {"lang": "typescript", "pid": ts.pid}),
    ]:
        agent = AgentSpec(name="planner", remote_handler=planner, tool_names=[tool])
        task_id = await client.submit(
            _task(agent, topology=SwarmTopology.SINGLE, input="plan a trip")
        )
        events = await events_of(client, task_id)

        response = terminal(events)
        answer = _answer(response)
        prefix = f"{lang} planned with "
        assert answer.startswith(prefix), answer
        assert json.loads(answer.removeprefix(prefix)) == {
            **served_by,
            "attempt": 1,
            "input": {"text": "plan a trip"},
        }
        finished = bodies(events, ToolCallFinished)
        assert [(f.tool_name, f.failure) for f in finished] == [(tool, None)]
        # Two steps of the remote policy; the tool-calling one reported its tokens.
        calls = [e.llm_call for e in events if e.llm_call is not None]
        assert [(c.agent, c.model, c.failure) for c in calls] == [("planner", planner, None)] * 2
        assert response.usage is not None
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (3, 2)


async def test_killing_the_typescript_worker_mid_step_moves_the_step_to_a_go_worker(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    # Both serve "relay_agent", declared idempotent: a step lost with its worker may run again.
    ts = await ts_worker(spawn, programs, server, "--agent", "relay_agent=block")
    await serving(server, "relay_agent", kind=AGENT)
    task_id = await client.submit(
        _task(
            AgentSpec(name="relay", remote_handler="relay_agent"),
            topology=SwarmTopology.SINGLE,
            input="job 42",
        )
    )
    await ts.expect(rf"^STARTED relay_agent \S+ 1 {ts.pid}$")
    go = await go_worker(spawn, programs, server, "--agent", "relay_agent=review")
    await serving(server, "relay_agent", kind=AGENT, workers=2)

    await ts.kill()  # SIGKILL mid-step: no goodbye on the stream

    await go.expect(rf"^STARTED relay_agent \S+ \d+ {go.pid}$")
    events = await events_of(client, task_id)
    response = terminal(events)
    # The surviving worker's answer, never the lost attempt's error as if it were an answer.
    assert _answer(response) == "go reviewed: JOB 42"
    assert response.failure is None
    calls = [e.llm_call for e in events if e.llm_call is not None]
    assert [(c.agent, c.attempt, c.failure.type if c.failure else "ok") for c in calls] == [
        ("relay", 1, "WorkerLost"),
        ("relay", 2, "ok"),
    ]
    trajectory = await client.trajectory(task_id)
    assert [(item.meta.agent_id, item.action.content) for item in trajectory] == [
        ("relay", "go reviewed: JOB 42")
    ]
