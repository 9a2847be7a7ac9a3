"""Custom message handlers compose with the built-in ones; trajectories export as JSONL."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aworld_client import (
    ExecutionMode,
    Message,
    MessageCategory,
    MessageEmitted,
    Payload,
    Task,
    TaskStatus,
)
from aworld_server import Runtime
from aworld_server.trajectory import write_jsonl
from core_helpers import add_chain_script


@pytest.mark.parametrize("mode", [ExecutionMode.EVENT_DRIVEN, ExecutionMode.CALL_DRIVEN])
async def test_custom_handlers_see_their_category_and_can_emit_messages(
    runtime: Runtime, make_task: Callable[..., Task], mode: ExecutionMode
) -> None:
    seen: list[str] = []

    async def audit_tools(message: Message) -> list[Message]:
        calls = message.payload.value()["tool_calls"]
        seen.extend(c["name"] for c in calls)
        note = Message(
            id=f"audit-{message.id}",
            task_id=message.task_id,
            category=MessageCategory.CONTEXT,
            topic="audit",
            sender="auditor",
            payload=Payload.of({"tools": [c["name"] for c in calls]}),
        )
        return [note]

    async def never_for_agent_messages(message: Message) -> None:
        assert message.category == MessageCategory.OUTPUT

    audited: list[str] = []

    async def read_audits(message: Message) -> None:
        if message.topic == "audit":  # follow-ups reach the handlers of their category too
            audited.append(message.id)

    runtime.registry.add_message_handler(MessageCategory.TOOL, audit_tools)
    runtime.registry.add_message_handler(MessageCategory.OUTPUT, never_for_agent_messages)
    runtime.registry.add_message_handler(MessageCategory.CONTEXT, read_audits)
    response = await runtime.run(make_task(add_chain_script(3), mode=mode))

    assert response.status == TaskStatus.SUCCEEDED
    assert response.answer.value() == "total=2"  # the built-in handlers still did the work
    assert seen == ["add", "add"]
    audits = [
        e.body.message
        async for e in runtime.stream(response.id, follow=False)
        if isinstance(e.body, MessageEmitted) and e.body.message.topic == "audit"
    ]
    assert [a.payload.value() for a in audits] == [{"tools": ["add"]}, {"tools": ["add"]}]
    assert audited == [a.id for a in audits]


async def test_an_action_follow_up_needs_the_event_driven_runner(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    async def ask_again(message: Message) -> list[Message]:
        return [Message(id="again", task_id=message.task_id, category=MessageCategory.TOOL)]

    runtime.registry.add_message_handler(MessageCategory.OUTPUT, ask_again)
    task = make_task([{"content": "done"}], mode=ExecutionMode.CALL_DRIVEN)

    response = await runtime.run(task)

    assert response.status == TaskStatus.FAILED
    assert response.failure is not None and response.failure.type == "UnsupportedFollowUp"


async def test_trajectory_exports_one_json_line_per_step(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    response = await runtime.run(make_task(add_chain_script(4)))
    out = io.StringIO()

    lines = write_jsonl(await runtime.trajectory(response.id), out)

    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == len(rows) == 4
    assert [r["meta"]["step"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["action"]["tool_calls"][0]["name"] == "add"
    assert rows[-1]["action"]["is_agent_finished"] is True
    assert rows[-1]["action"]["content"] == "total=3"


async def test_events_can_be_queried_by_session_topic_and_sender(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    from aworld_server.storage import EventQuery

    first = await runtime.run(make_task(add_chain_script(2), session_id="s-q"))
    await runtime.run(make_task(add_chain_script(2), session_id="other"))

    in_session = await runtime.events.query(EventQuery(session_id="s-q"))
    assert {e.task_id for e in in_session} == {first.id}
    by_sender = await runtime.events.query(EventQuery(task_id=first.id, sender="solver"))
    assert by_sender and all(e.body.message.sender == "solver" for e in by_sender)
    finished = await runtime.events.query(EventQuery(session_id="s-q", topic="__finished"))
    assert len(finished) == 1 and finished[0].body.message.payload.value()["answer"] == "total=1"


@pytest.mark.parametrize("mode", [ExecutionMode.EVENT_DRIVEN, ExecutionMode.CALL_DRIVEN])
async def test_each_trajectory_step_holds_the_conversation_its_model_saw(
    runtime: Runtime, mode: ExecutionMode
) -> None:
    from aworld_client import AgentSpec, Swarm, TaskConfig
    from aworld_server import Agent, ScriptedModel
    from core_helpers import add

    seen: list[list[dict[str, object]]] = []
    script = add_chain_script(3)

    def step(messages: object) -> dict[str, object]:
        assert isinstance(messages, list)
        seen.append([dict(m) for m in messages])
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        return script[turn]

    runtime.registry.add_agent(Agent("solver", model=ScriptedModel(step), tools=[add]))
    task = Task(
        input=Payload.from_text("count"),
        swarm=Swarm(agents=[AgentSpec(name="solver", tool_names=["add"])]),
        conf=TaskConfig(execution_mode=mode),
    )
    response = await runtime.run(task)
    assert response.status == TaskStatus.SUCCEEDED

    trajectory = await runtime.trajectory(response.id)
    recorded = [item.state.messages.value() for item in trajectory]
    assert len(recorded) == len(seen) == 3
    assert recorded == seen
    assert recorded[0] == [{"role": "user", "content": "count"}]
    assert recorded[2][-1]["role"] == "tool"


async def test_a_finished_tasks_trajectory_is_exported_and_its_uri_answered(
    tmp_path: Path, make_task: Callable[..., Task]
) -> None:
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    from core_helpers import add

    runtime = Runtime(data_dir=tmp_path, trajectory_dir=tmp_path / "trajectories")
    runtime.registry.add_tool(add)
    async with runtime:
        response = await runtime.run(make_task(add_chain_script(3)))
        expected = io.StringIO()
        write_jsonl(await runtime.trajectory(response.id), expected)
        stored = (await runtime.get_task(response.id)).response

    assert response.trajectory_uri.startswith("file://")
    assert stored.trajectory_uri == response.trajectory_uri  # recorded with the response
    path = Path(url2pathname(urlparse(response.trajectory_uri).path))
    assert path == tmp_path / "trajectories" / f"{response.id}.jsonl"
    assert path.read_text() == expected.getvalue()
    assert len(path.read_text().splitlines()) == 3


async def test_a_reward_hook_scores_each_step_of_the_trajectory(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    from aworld_client.handlers import hook

    @hook("reward")
    def score(step: int, item: dict[str, object]) -> dict[str, float]:
        action = item["action"]
        assert isinstance(action, dict)
        return {"score": 1.0 if action.get("is_agent_finished") else step / 10}

    runtime.registry.add_hook(score)
    response = await runtime.run(make_task(add_chain_script(3), hooks={"reward": ["score"]}))

    trajectory = await runtime.trajectory(response.id)
    assert [item.reward.score for item in trajectory] == [0.1, 0.2, 1.0]
    unscored = await runtime.run(make_task(add_chain_script(2)))
    assert [i.reward.score for i in await runtime.trajectory(unscored.id)] == [None, None]


async def test_a_local_tool_raising_its_own_timeout_is_a_tool_failure(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    from aworld_client.handlers import tool

    @tool(name="add")
    async def slow_upstream(a: int, b: int) -> int:
        raise TimeoutError("the upstream service timed out")

    runtime.registry.add_tool(slow_upstream)
    response = await runtime.run(make_task(add_chain_script(2)))

    assert response.status == TaskStatus.SUCCEEDED
    trajectory = await runtime.trajectory(response.id)
    (output,) = trajectory[0].reward.tool_outputs
    assert output.value()["error"]["type"] == "TimeoutError"  # not an AttemptTimedOut or a crash
