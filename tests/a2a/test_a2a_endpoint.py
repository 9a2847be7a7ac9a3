"""A swarm served over A2A: an ``a2a-sdk`` client sends, streams, cancels and answers
input requests against a real server's A2A port; our tasks are what it sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.errors import (
    ContentTypeNotSupportedError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from a2a_harness import (
    Gates,
    StartServer,
    a2a_client,
    answer_template,
    collect,
    text_message,
    tool_template,
)
from aworld_client import Payload, Task, TaskStatus
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Value

AGENTS: dict[str, Any] = {
    "adder": {
        "description": "Adds two and three",
        "task": tool_template("add", {"a": 2, "b": 3}, "sum is {last_tool_output}"),
        "skills": [{"id": "sum", "name": "Sum", "description": "adds", "examples": ["add"]}],
    },
    "writers": {"task": answer_template("a first draft", "the final text")},
    "approver": {"task": tool_template("approve", {"amount": 10}, "approved: {last_tool_output}")},
    "slow": {"task": tool_template("gate", {"key": "never"}, "unreachable")},
    "held": {"task": tool_template("gate", {"key": "held"}, "released: {last_tool_output}")},
}


def text_of(parts: Any) -> str:
    return "\n".join(p.text for p in parts if p.HasField("text"))


@pytest.fixture
async def server(start: StartServer) -> Any:
    return await start(a2a={"port": 0, "agents": AGENTS})


async def test_the_card_describes_the_swarm(server: Any) -> None:
    url = server.a2a.agent_url("adder")
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/.well-known/agent-card.json")
    assert response.status_code == 200
    card = response.json()
    assert card["name"] == "adder"
    assert card["description"] == "Adds two and three"
    assert card["capabilities"]["streaming"] is True
    assert [s["id"] for s in card["skills"]] == ["sum"]
    assert {i["url"] for i in card["supportedInterfaces"]} == {url}
    assert "securitySchemes" not in card  # authentication is off


async def test_a_message_gets_the_swarms_answer_as_our_task(server: Any) -> None:
    async with a2a_client(server.a2a.agent_url("adder"), streaming=False) as client:
        [response] = await collect(client.send_message(text_message("add them")))
        task = response.task
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert [a.name for a in task.artifacts] == ["answer"]
        assert text_of(task.artifacts[0].parts) == "sum is 5"
        assert text_of(task.history[0].parts) == "add them"
        assert task.history[0].role == Role.ROLE_USER

        # The A2A task is our task; its context is our session.
        view = await server.runtime.get_task(task.id)
        assert view.response.status == TaskStatus.SUCCEEDED
        assert view.response.answer.as_text() == "sum is 5"
        assert view.task.session_id == task.context_id
        assert view.task.input.as_text() == "add them"

        # A second message in the same context is a new task of the same session.
        [again] = await collect(
            client.send_message(text_message("once more", context_id=task.context_id))
        )
        assert again.task.id != task.id
        assert again.task.context_id == task.context_id
        assert (await server.runtime.get_task(again.task.id)).task.session_id == task.context_id

        fetched = await client.get_task(GetTaskRequest(id=task.id))
        assert fetched.status.state == TaskState.TASK_STATE_COMPLETED
        assert text_of(fetched.artifacts[0].parts) == "sum is 5"


async def test_a_retried_message_id_returns_the_same_task(server: Any) -> None:
    request = text_message("add them")
    async with a2a_client(server.a2a.agent_url("adder"), streaming=False) as client:
        [first] = await collect(client.send_message(request))
        [second] = await collect(client.send_message(request))
        assert second.task.id == first.task.id
        request.message.parts[0].text = "something else"
        with pytest.raises(InvalidParamsError, match="sent before with another content"):
            await collect(client.send_message(request))


async def test_a_stream_shows_progress_then_the_answer(server: Any) -> None:
    async with a2a_client(server.a2a.agent_url("writers")) as client:
        responses = await collect(client.send_message(text_message("write")))
    kinds = [r.WhichOneof("payload") for r in responses]
    assert kinds[0] == "task"
    task_id = responses[0].task.id
    statuses = [r.status_update for r in responses if r.HasField("status_update")]
    # Each agent's step shows as a working update, with its text and the agent's name.
    working = [s for s in statuses if s.status.state == TaskState.TASK_STATE_WORKING]
    steps = [
        (MessageToDict(s.status.message.metadata).get("agent"), text_of(s.status.message.parts))
        for s in working
        if s.status.HasField("message")
    ]
    assert steps == [("writer0", "a first draft"), ("writer1", "the final text")]
    # The answer comes as an artifact, then the final status; then the stream ends.
    assert kinds[-2:] == ["artifact_update", "status_update"]
    assert text_of(responses[-2].artifact_update.artifact.parts) == "the final text"
    assert responses[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    assert all(
        getattr(r, r.WhichOneof("payload")).task_id == task_id
        for r in responses
        if r.WhichOneof("payload") != "task"
    )
    assert (await server.runtime.get_task(task_id)).response.status == TaskStatus.SUCCEEDED


async def test_cancelling_a_running_task_ends_ours_cancelled(server: Any, gates: Gates) -> None:
    async with a2a_client(server.a2a.agent_url("slow"), streaming=False) as client:
        request = text_message("wait forever")
        request.configuration.return_immediately = True
        [response] = await collect(client.send_message(request))
        task_id = response.task.id
        await gates.entered("never")  # the task is running its long tool call
        running = await client.get_task(GetTaskRequest(id=task_id))
        assert running.status.state == TaskState.TASK_STATE_WORKING

        cancelled = await client.cancel_task(CancelTaskRequest(id=task_id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        assert (await server.runtime.get_task(task_id)).response.status == TaskStatus.CANCELLED

        with pytest.raises(TaskNotCancelableError, match="has ended"):  # cancelling twice
            await client.cancel_task(CancelTaskRequest(id=task_id))


async def test_resubscribing_follows_a_running_task_to_its_end(server: Any, gates: Gates) -> None:
    async with a2a_client(server.a2a.agent_url("held")) as client:
        request = text_message("hold")
        request.configuration.return_immediately = True
        stream = client.send_message(request)
        first = await anext(stream)  # the task as submitted; this client stops listening
        await stream.aclose()
        await gates.entered("held")

        resubscribed = client.subscribe(SubscribeToTaskRequest(id=first.task.id))
        snapshot = await anext(resubscribed)
        assert snapshot.task.status.state == TaskState.TASK_STATE_WORKING
        gates.open("held")
        rest = await collect(resubscribed)
    assert text_of(rest[-2].artifact_update.artifact.parts) == "released: passed held"
    assert rest[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED

    async with a2a_client(server.a2a.agent_url("held")) as client:  # an ended task: refused
        with pytest.raises(UnsupportedOperationError, match="has ended"):
            await collect(client.subscribe(SubscribeToTaskRequest(id=first.task.id)))


async def test_input_required_waits_for_the_clients_answer(server: Any) -> None:
    async with a2a_client(server.a2a.agent_url("approver"), streaming=False) as client:
        [response] = await collect(client.send_message(text_message("spend 10")))
        task = response.task
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        asked = MessageToDict(task.status.message.parts[0].data)
        assert asked == {"question": "approve 10?"}
        view = await server.runtime.get_task(task.id)
        assert view.response.status == TaskStatus.INPUT_REQUIRED

        answer = text_message("yes, approved", task_id=task.id, context_id=task.context_id)
        [done] = await collect(client.send_message(answer))
        assert done.task.id == task.id
        assert done.task.status.state == TaskState.TASK_STATE_COMPLETED
        assert text_of(done.task.artifacts[0].parts) == "approved: yes, approved"
        roles = [m.role for m in done.task.history]
        assert roles == [Role.ROLE_USER, Role.ROLE_AGENT, Role.ROLE_USER, Role.ROLE_AGENT]

        # The task is over: more input is refused.
        with pytest.raises(UnsupportedOperationError, match="has ended"):
            await collect(client.send_message(text_message("again", task_id=task.id)))


async def test_input_required_over_streams(server: Any) -> None:
    async with a2a_client(server.a2a.agent_url("approver")) as client:
        first = await collect(client.send_message(text_message("spend 10")))
        last = first[-1].status_update.status
        assert last.state == TaskState.TASK_STATE_INPUT_REQUIRED  # the stream ends there
        task_id = first[0].task.id

        second = await collect(client.send_message(text_message("ok", task_id=task_id)))
        states = [r.status_update.status.state for r in second if r.HasField("status_update")]
        assert states[0] == TaskState.TASK_STATE_WORKING
        assert states[-1] == TaskState.TASK_STATE_COMPLETED
        answer = [r.artifact_update for r in second if r.HasField("artifact_update")]
        assert text_of(answer[0].artifact.parts) == "approved: ok"


async def test_the_a2a_0_3_method_names_work(server: Any) -> None:
    """``message/send`` and ``tasks/get`` as a 0.3 client sends them (plain JSON-RPC)."""
    url = server.a2a.agent_url("adder")
    message = {"role": "user", "messageId": "m-03", "parts": [{"kind": "text", "text": "add"}]}
    async with httpx.AsyncClient() as http:
        sent = await http.post(
            url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "message/send",
                "params": {"message": message},
            },
        )
        result = sent.json()["result"]
        assert result["kind"] == "task"
        assert result["status"]["state"] == "completed"
        assert result["artifacts"][0]["parts"][0]["text"] == "sum is 5"
        got = await http.post(
            url,
            json={"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": result["id"]}},
        )
        assert got.json()["result"]["status"]["state"] == "completed"


async def test_bad_requests_get_a2a_errors(server: Any) -> None:
    async with a2a_client(server.a2a.agent_url("adder"), streaming=False) as client:
        with pytest.raises(TaskNotFoundError):
            await client.get_task(GetTaskRequest(id="no-such-task"))
        with pytest.raises(InvalidParamsError) as refused:
            await collect(
                client.send_message(
                    SendMessageRequest(
                        message=Message(
                            role=Role.ROLE_USER,
                            message_id="m-file",
                            parts=[Part(url="file:///etc/passwd")],
                        )
                    )
                )
            )
        assert refused.value.data == {
            "fieldViolations": [
                {
                    "field": "message.parts[0]",
                    "description": "only text and data parts are accepted",
                }
            ]
        }

        # What the endpoint would not do is refused, not ignored.
        push = text_message("notify me")
        push.configuration.task_push_notification_config.url = "http://127.0.0.1:9/hook"
        with pytest.raises(PushNotificationNotSupportedError):
            await collect(client.send_message(push))
        images = text_message("draw")
        images.configuration.accepted_output_modes.append("image/png")
        with pytest.raises(ContentTypeNotSupportedError):
            await collect(client.send_message(images))
        tenant = text_message("hi")
        tenant.tenant = "acme"
        with pytest.raises(InvalidParamsError, match="tenant"):
            await collect(client.send_message(tenant))
    assert server.runtime.live_tasks == 0

    # A task started another way (here: in-process, as over gRPC) is not this agent's.
    other = await server.runtime.submit(
        Task.from_dict({**AGENTS["adder"]["task"], "input": "not over A2A"})
    )
    async with a2a_client(server.a2a.agent_url("adder"), streaming=False) as client:
        with pytest.raises(TaskNotFoundError):
            await client.get_task(GetTaskRequest(id=other.task_id))
        # Nor is a task of another exposed swarm.
        [adder_task] = await collect(client.send_message(text_message("add")))
    async with a2a_client(server.a2a.agent_url("writers"), streaming=False) as client:
        with pytest.raises(TaskNotFoundError):
            await client.get_task(GetTaskRequest(id=adder_task.task.id))


async def test_oversized_requests_are_refused_before_parsing(start: StartServer) -> None:
    server = await start(a2a={"port": 0, "agents": AGENTS}, max_message_bytes=2048)
    async with httpx.AsyncClient() as http:
        response = await http.post(server.a2a.agent_url("adder"), content=b"x" * 4096)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("agent", "problem"),
    [
        ({"task": {**answer_template("x"), "input": "fixed"}}, "sets 'input'"),
        ({"task": {"swarm": {"agents": [{"name": "a"}]}}}, "model: is required"),
        ({"task": {"swarm": {"agents": [{"name": "a", "surprise": 1}]}}}, "surprise"),
    ],
)
async def test_a_bad_template_stops_the_server_from_starting(
    start: StartServer, agent: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=r"a2a\.agents\.broken") as refused:
        await start(a2a={"port": 0, "agents": {"broken": agent}})
    assert problem in str(refused.value)


async def test_a_template_may_come_from_a_task_file(start: StartServer, tmp_path: Path) -> None:
    path = tmp_path / "swarm.json"
    path.write_text(json.dumps(tool_template("add", {"a": 20, "b": 22}, "{last_tool_output}")))
    server = await start(a2a={"port": 0, "agents": {"filed": {"task_file": str(path)}}})
    async with a2a_client(server.a2a.agent_url("filed"), streaming=False) as client:
        [response] = await collect(client.send_message(text_message("go")))
    assert text_of(response.task.artifacts[0].parts) == "42"


async def test_input_as_a_data_part_reaches_the_task_as_json(server: Any) -> None:
    request = SendMessageRequest(
        message=Message(
            role=Role.ROLE_USER,
            message_id="m-data",
            parts=[Part(data=Value())],
        )
    )
    request.message.parts[0].data.struct_value.update({"numbers": [2, 3]})
    async with a2a_client(server.a2a.agent_url("adder"), streaming=False) as client:
        [response] = await collect(client.send_message(request))
    view = await server.runtime.get_task(response.task.id)
    assert view.task.input == Payload.of({"numbers": [2.0, 3.0]})
