"""The HTTP side honours the gRPC port's principals and namespaces: a task submitted in one
namespace over gRPC is invisible over HTTP to a principal of another namespace, and visible,
with its state, to one of its own."""

from __future__ import annotations

import httpx
from aworld_client import AsyncClient
from aworld_server.server import RunningServer
from server_harness import StartServer, answer_task

PRINCIPALS = {
    "alice": {"tokens": ["alice-token"], "namespaces": ["team-a"], "scopes": ["submit", "read"]},
    "bob": {"tokens": ["bob-token"], "namespaces": ["team-b"], "scopes": ["read"]},
}


async def test_http_reads_stay_inside_the_callers_namespace(start: StartServer) -> None:
    server: RunningServer = await start(principals=PRINCIPALS, http_port=0, host="127.0.0.1")
    assert server.http is not None
    async with AsyncClient(server.address, token="alice-token", namespace="team-a") as client:
        task_id = await client.submit(answer_task("hi"))
        _ = [event async for event in client.events(task_id)]

    def as_(token: str, namespace: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "aworld-namespace": namespace}

    async with httpx.AsyncClient(base_url=server.http.url) as http:
        mine = await http.get("/api/v1/tasks", headers=as_("alice-token", "team-a"))
        assert [t["id"] for t in mine.json()["tasks"]] == [task_id]
        state = await http.get(
            f"/api/v1/tasks/{task_id}/state", headers=as_("alice-token", "team-a")
        )
        assert state.json()["status"] == "TASK_STATUS_SUCCEEDED"

        theirs = await http.get("/api/v1/tasks", headers=as_("bob-token", "team-b"))
        assert theirs.json().get("tasks", []) == []
        hidden = await http.get(f"/api/v1/tasks/{task_id}", headers=as_("bob-token", "team-b"))
        assert hidden.status_code == 404
        trespass = await http.get("/api/v1/tasks", headers=as_("bob-token", "team-a"))
        assert trespass.status_code == 403
        default = await http.get(
            f"/api/v1/tasks/{task_id}/events", headers=as_("alice-token", "default")
        )
        assert default.status_code == 403  # alice may not use the default namespace


async def test_http_submit_with_auth_on_is_the_callers_and_shares_the_grpc_idempotency(
    start: StartServer,
) -> None:
    from google.protobuf import json_format

    server: RunningServer = await start(principals=PRINCIPALS, http_port=0, host="127.0.0.1")
    assert server.http is not None
    body = {
        "requestId": "http-1",
        "task": json_format.MessageToDict(answer_task("over http").to_proto()),
    }
    alice = {"Authorization": "Bearer alice-token", "aworld-namespace": "team-a"}
    async with httpx.AsyncClient(base_url=server.http.url) as http:
        first = await http.post("/api/v1/tasks", json=body, headers=alice)
        again = await http.post("/api/v1/tasks", json=body, headers=alice)
        refused = await http.post(
            "/api/v1/tasks",
            json=body,
            headers={"Authorization": "Bearer bob-token", "aworld-namespace": "team-b"},
        )
        anonymous = await http.post("/api/v1/tasks", json=body)
    assert first.status_code == 200, first.text
    task_id = first.json()["taskId"]
    assert first.json()["created"] is True
    # The retry is answered with the same task (protobuf JSON leaves created=false out).
    assert again.json() == {k: v for k, v in first.json().items() if k != "created"}
    assert refused.status_code == 403  # bob has no submit scope
    assert anonymous.status_code == 401
    # The task belongs to alice's namespace and principal, as if submitted over gRPC.
    async with AsyncClient(server.address, token="alice-token", namespace="team-a") as client:
        over_grpc = await client.submit(answer_task("over http"), request_id="http-1")
        assert over_grpc == task_id  # one idempotency scope for both ports
        events = [event async for event in client.events(task_id)]
        assert events[-1].is_terminal
        task = (await client.get(task_id)).task
        assert task is not None and task.user_id == "alice"
        response = (await client.get(task_id)).response
        assert response is not None and response.answer.as_text() == "over http"
