"""With authentication on, the A2A port takes the gRPC port's principals: the token decides
who calls, its scopes what it may do and its namespace which tasks it can see."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from a2a.client import A2AClientError
from a2a.types import CancelTaskRequest, GetTaskRequest, TaskState
from a2a.utils.errors import TaskNotFoundError
from a2a_harness import (
    Gates,
    StartServer,
    a2a_client,
    answer_template,
    collect,
    text_message,
    tool_template,
)
from aworld_client import TaskStatus

PRINCIPALS = {
    "alice": {
        "tokens": ["alice-token"],
        "namespaces": ["team-a"],
        "scopes": ["submit", "read", "cancel"],
    },
    "reader": {"tokens": ["reader-token"], "namespaces": ["team-a"], "scopes": ["read"]},
    "bob": {"tokens": ["bob-token"], "namespaces": ["team-b"], "scopes": ["admin"]},
}
AGENTS = {
    "slow": {"task": tool_template("gate", {"key": "held"}, "done")},
    "quick": {"task": answer_template("hello")},
}


@pytest.fixture
async def server(start: StartServer) -> Any:
    return await start(host="127.0.0.1", principals=PRINCIPALS, a2a={"port": 0, "agents": AGENTS})


def rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


async def test_no_or_a_wrong_token_is_refused(server: Any) -> None:
    url = server.a2a.agent_url("quick")
    message = {"role": "user", "messageId": "m1", "parts": [{"kind": "text", "text": "hi"}]}
    async with httpx.AsyncClient() as http:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "x"}):
            response = await http.post(
                url, json=rpc("message/send", {"message": message}), headers=headers
            )
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["code"] == "UNAUTHENTICATED"
        # The card stays public, and says how to authenticate.
        card = (await http.get(f"{url}/.well-known/agent-card.json")).json()
    assert card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"] == "bearer"
    assert card["securityRequirements"] == [{"schemes": {"bearer": {}}}]
    # Nothing was started by the refused requests.
    assert server.runtime.live_tasks == 0

    async with a2a_client(url) as client:  # the SDK client sees the HTTP status
        with pytest.raises(A2AClientError, match="401"):
            await collect(client.send_message(text_message("hi")))


async def test_scopes_decide_what_a_token_may_do(server: Any) -> None:
    url = server.a2a.agent_url("quick")
    async with a2a_client(url, token="alice-token", streaming=False) as alice:
        [sent] = await collect(alice.send_message(text_message("hi")))
    assert sent.task.status.state == TaskState.TASK_STATE_COMPLETED
    record = await server.runtime.store.get_task(sent.task.id)
    assert record.namespace == "team-a"
    assert (await server.runtime.get_task(sent.task.id)).task.user_id == "alice"

    async with a2a_client(url, token="reader-token", streaming=False) as reader:
        # read: it may look at team-a's task ...
        fetched = await reader.get_task(GetTaskRequest(id=sent.task.id))
        assert fetched.status.state == TaskState.TASK_STATE_COMPLETED
        # ... but not start one, nor cancel one.
        with pytest.raises(A2AClientError, match="403"):
            await collect(reader.send_message(text_message("hi")))
        with pytest.raises(A2AClientError, match="403"):
            await reader.cancel_task(CancelTaskRequest(id=sent.task.id))


async def test_another_namespace_cannot_get_or_cancel_the_task(server: Any, gates: Gates) -> None:
    url = server.a2a.agent_url("slow")
    async with a2a_client(url, token="alice-token", streaming=False) as alice:
        request = text_message("hold on")
        request.configuration.return_immediately = True
        [sent] = await collect(alice.send_message(request))
        task_id = sent.task.id
        await gates.entered("held")

        async with a2a_client(url, token="bob-token", streaming=False) as bob:
            # An admin of team-b: team-a's task does not exist for it.
            with pytest.raises(TaskNotFoundError):
                await bob.get_task(GetTaskRequest(id=task_id))
            with pytest.raises(TaskNotFoundError):
                await bob.cancel_task(CancelTaskRequest(id=task_id))
            with pytest.raises(TaskNotFoundError):
                await collect(bob.send_message(text_message("answer", task_id=task_id)))
        assert (await server.runtime.get_task(task_id)).response.status == TaskStatus.RUNNING

        # Naming team-a's namespace does not help bob either.
        async with httpx.AsyncClient() as http:
            response = await http.post(
                url,
                json=rpc("tasks/get", {"id": task_id}),
                headers={"Authorization": "Bearer bob-token", "aworld-namespace": "team-a"},
            )
        assert response.status_code == 403

        cancelled = await alice.cancel_task(CancelTaskRequest(id=task_id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
