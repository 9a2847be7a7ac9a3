"""The JSON-over-HTTP API on a real server, used as curl would: it answers with RuntimeService's
messages in the protobuf JSON mapping, streams events as server-sent events, and maps errors
to HTTP statuses."""

from __future__ import annotations

import json
from typing import Any

import httpx
from aworld_client import Task
from aworld_server.server import RunningServer
from google.protobuf import json_format
from server_harness import Gates, StartServer, answer_task, assert_eventually, tool_task


def as_json(task: Task) -> dict[str, Any]:
    """A task as a curl user would write it: the protobuf JSON mapping."""
    return json_format.MessageToDict(task.to_proto())


def sse_events(text: str) -> list[dict[str, object]]:
    return [
        json.loads(line[len("data: ") :])
        for line in text.splitlines()
        if line.startswith("data: ") and line != "data: {}"
    ]


async def test_submit_read_stream_and_cancel_over_http(start: StartServer, gates: Gates) -> None:
    server: RunningServer = await start(http_port=0)
    assert server.http is not None
    async with httpx.AsyncClient(base_url=server.http.url, timeout=15) as http:
        body = {"requestId": "r-1", "task": as_json(answer_task("hi"))}
        submitted = (await http.post("/api/v1/tasks", json=body)).json()
        task_id = submitted["taskId"]
        assert submitted["created"] is True
        again = (await http.post("/api/v1/tasks", json=body)).json()  # idempotent on requestId
        assert again["taskId"] == task_id and "created" not in again

        stream = await http.get(f"/api/v1/tasks/{task_id}/events")  # follows to the end
        events = sse_events(stream.text)
        assert [int(e["seq"]) for e in events] == list(range(1, len(events) + 1))  # int64: strings
        assert events[-1]["statusChanged"]["status"] == "TASK_STATUS_SUCCEEDED"

        got = (await http.get(f"/api/v1/tasks/{task_id}")).json()
        assert got["response"]["status"] == "TASK_STATUS_SUCCEEDED"
        state = (await http.get(f"/api/v1/tasks/{task_id}/state")).json()
        assert {n["kind"] for n in state["nodes"]} == {"RUN_NODE_KIND_TASK", "RUN_NODE_KIND_AGENT"}
        items = (await http.get(f"/api/v1/tasks/{task_id}/trajectory")).json()["items"]
        assert [i["action"]["content"] for i in items] == ["hi"]
        replay = await http.get(f"/api/v1/tasks/{task_id}/events?after_seq=2&replay_only=true")
        assert [e["seq"] for e in sse_events(replay.text)] == [e["seq"] for e in events[2:]]

        blocked = {"task": as_json(tool_task("gate", {"key": "h-1"}))}
        running_id = (await http.post("/api/v1/tasks", json=blocked)).json()["taskId"]

        async def listed_as_running() -> bool:
            listed = (await http.get("/api/v1/tasks", params={"status": "RUNNING"})).json()
            # Empty lists are left out of the JSON mapping.
            return [t["id"] for t in listed.get("tasks", [])] == [running_id]

        await assert_eventually(listed_as_running, message="the gated task never ran")
        found = (await http.get("/api/v1/tasks", params={"q": task_id[:8]})).json()
        assert [t["id"] for t in found["tasks"]] == [task_id]
        cancelled = (await http.post(f"/api/v1/tasks/{running_id}/cancel")).json()
        assert cancelled["status"] == "TASK_STATUS_CANCELLED"

        missing = await http.get("/api/v1/tasks/nope/state")
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
        bad = await http.get("/api/v1/tasks", params={"status": "SLEEPING"})
        assert bad.status_code == 400 and bad.json()["code"] == "INVALID_ARGUMENT"
        invalid = await http.post("/api/v1/tasks", json={"task": {"swarm": {"agents": []}}})
        assert invalid.status_code == 400, invalid.text
        assert (await http.get("/api/v1/handlers")).json()["handlers"]
        assert (await http.get("/api/v1/workers")).json() == {}
