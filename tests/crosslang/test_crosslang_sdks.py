"""The three SDKs in one task: a real server, real ``node`` and Go worker processes, Python and
TypeScript clients. Every wait is on a process's output, the server's registry or the task's
event stream."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from aworld_client import (
    AsyncClient,
    HandlerKind,
    HookDecided,
    PermissionDecision,
    RuntimeServiceError,
    TaskResponse,
    TaskStatus,
    ToolCallFinished,
    ToolCallStarted,
)
from aworld_server.server import RunningServer
from crosslang_harness import (
    Programs,
    Spawn,
    bodies,
    call,
    events_of,
    go_worker,
    scripted_task,
    serving,
    terminal,
    ts_worker,
)

RESULT = "result: "


def answer_value(response: TaskResponse) -> Any:
    assert response.answer is not None, response
    text = response.answer.as_text()
    assert text.startswith(RESULT), text
    return json.loads(text[len(RESULT) :])


async def test_a_python_task_calls_a_typescript_tool_and_a_go_tool(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    ts = await ts_worker(spawn, programs, server, "--tool", "ts_describe=describe")
    go = await go_worker(spawn, programs, server, "--tool", "go_describe=describe")
    await serving(server, "ts_describe")
    await serving(server, "go_describe")

    # The TypeScript tool's output is the Go tool's input: data flows through both.
    script = [
        call("ts_describe", {"text": "hello"}),
        call("go_describe", {"from_typescript": "{last_tool_output}"}),
        {"content": RESULT + "{last_tool_output}"},
    ]
    task_id = await client.submit(scripted_task(script, ["ts_describe", "go_describe"]))
    events = await events_of(client, task_id)

    response = terminal(events)
    assert response.status == TaskStatus.SUCCEEDED, response
    from_typescript = {
        "lang": "typescript",
        "pid": ts.pid,
        "attempt": 1,
        "input": {"text": "hello"},
    }
    assert answer_value(response) == {
        "lang": "go",
        "pid": go.pid,
        "attempt": 1,
        "input": {"from_typescript": from_typescript},
    }
    finished = bodies(events, ToolCallFinished)
    assert [(f.tool_name, f.failure) for f in finished] == [
        ("ts_describe", None),
        ("go_describe", None),
    ]
    assert finished[0].result is not None and finished[0].result.value() == from_typescript
    await ts.expect(rf"^STARTED ts_describe \S+ 1 {ts.pid}$")
    await go.expect(rf"^STARTED go_describe \S+ 1 {go.pid}$")


async def test_a_typescript_client_submits_a_task_and_streams_its_events_to_the_end(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    go = await go_worker(spawn, programs, server, "--tool", "go_describe=describe")
    await serving(server, "go_describe")

    ts_client = await spawn(
        "typescript client",
        [
            programs.node,
            str(programs.ts_client),
            "--address",
            server.address,
            "--tool",
            "go_describe",
            "--args",
            json.dumps({"n": 7}),
        ],
    )
    assert await ts_client.wait() == 0, ts_client.output()

    task_id = (await ts_client.expect(r"^TASK (\S+)$")).group(1)
    streamed = [(int(m[1]), m[2]) for m in ts_client.matches(r"^EVENT (\d+) (\w+)$")]
    done = await ts_client.expect(r"^DONE (\w+) (.*)$")
    # What the TypeScript client saw is the task's whole log, in order, ending with the
    # terminal event — the same log the Python client reads back.
    stored = await events_of(client, task_id)
    assert streamed == [(e.seq, _camel(e.to_proto().WhichOneof("body"))) for e in stored]
    assert [seq for seq, _ in streamed] == list(range(1, len(stored) + 1))
    assert terminal(stored).status == TaskStatus.SUCCEEDED
    assert done.group(1) == "SUCCEEDED"
    assert json.loads(done.group(2).removeprefix(RESULT)) == {
        "lang": "go",
        "pid": go.pid,
        "attempt": 1,
        "input": {"n": 7},
    }


def _camel(name: str | None) -> str:
    head, *rest = (name or "").split("_")
    return head + "".join(part.title() for part in rest)


async def test_a_go_hook_denies_a_tool_call_and_the_denial_shows_in_the_events(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    go = await go_worker(
        spawn, programs, server, "--tool", "go_describe=describe", "--hook", "go_guard=deny"
    )
    await serving(server, "go_describe")
    await serving(server, "go_guard", kind=HandlerKind.HOOK)

    task = scripted_task(
        [call("go_describe", {"path": "/etc/passwd"}), {"content": RESULT + "{last_tool_output}"}],
        ["go_describe"],
        hooks={"before_tool_call": ["go_guard"]},
    )
    events = await events_of(client, await client.submit(task))

    decisions = bodies(events, HookDecided)
    assert [(d.point, d.hook_name, d.decision, d.reason) for d in decisions] == [
        ("before_tool_call", "go_guard", PermissionDecision.DENY, "go_guard denies go_describe")
    ]
    assert bodies(events, ToolCallStarted) == []  # the tool never ran
    await go.expect(r"^HOOK go_guard go_describe deny$")
    assert not go.matches(r"^STARTED go_describe ")
    response = terminal(events)
    assert response.status == TaskStatus.SUCCEEDED, response
    assert answer_value(response) == {
        "error": {"type": "PermissionDenied", "message": "go_guard denies go_describe"}
    }


async def test_cancelling_the_task_reaches_a_long_running_typescript_tool_and_a_go_tool(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    ts = await ts_worker(spawn, programs, server, "--tool", "ts_block=block")
    go = await go_worker(spawn, programs, server, "--tool", "go_block=block")
    await serving(server, "ts_block")
    await serving(server, "go_block")

    # One step calling both tools: they run at the same time.
    both = {
        "tool_calls": [{"name": "ts_block", "arguments": {}}, {"name": "go_block", "arguments": {}}]
    }
    task_id = await client.submit(
        scripted_task([both, {"content": "unreachable"}], ["ts_block", "go_block"])
    )
    ts_call = (await ts.expect(r"^STARTED ts_block (\S+) 1 ")).group(1)
    go_call = (await go.expect(r"^STARTED go_block (\S+) 1 ")).group(1)

    await client.cancel(task_id, reason="the user gave up")

    await ts.expect(rf"^CANCELLED ts_block {ts_call} 1$")
    await go.expect(rf"^CANCELLED go_block {go_call} 1$")
    events = await events_of(client, task_id)
    assert terminal(events).status == TaskStatus.CANCELLED
    # Both workers are still up and serving.
    assert ts.process.returncode is None and go.process.returncode is None
    assert {w.worker_id for w in await client.workers("ts_block")}
    assert {w.worker_id for w in await client.workers("go_block")}


async def test_killing_a_typescript_worker_mid_call_moves_the_call_to_a_go_worker(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    # Both declare "relay" idempotent: a call lost with its worker may run again elsewhere.
    ts = await ts_worker(spawn, programs, server, "--tool", "relay=block")
    await serving(server, "relay")
    task_id = await client.submit(
        scripted_task(
            [call("relay", {"job": 42}), {"content": RESULT + "{last_tool_output}"}], ["relay"]
        )
    )
    call_id = (await ts.expect(r"^STARTED relay (\S+) 1 ")).group(1)
    go = await go_worker(spawn, programs, server, "--tool", "relay=describe")
    await serving(server, "relay", workers=2)

    await ts.kill()  # SIGKILL mid-call: no goodbye on the stream

    await go.expect(rf"^STARTED relay {call_id} 2 {go.pid}$")
    events = await events_of(client, task_id)
    response = terminal(events)
    assert response.status == TaskStatus.SUCCEEDED, response
    assert answer_value(response) == {
        "lang": "go",
        "pid": go.pid,
        "attempt": 2,
        "input": {"job": 42},
    }
    finished = bodies(events, ToolCallFinished)
    assert [(f.attempt, f.failure.type if f.failure else "ok", f.will_retry) for f in finished] == [
        (1, "WorkerLost", True),
        (2, "ok", False),
    ]


async def test_input_that_fails_the_schema_of_a_typescript_or_go_tool_is_refused_with_its_fields(
    server: RunningServer, client: AsyncClient, spawn: Spawn, programs: Programs
) -> None:
    # Neither SDK validates input itself: the server is the one place the schema is checked,
    # and a refusal names the offending field before any worker sees the call.
    ts = await ts_worker(spawn, programs, server, "--tool", "ts_echo=echo")
    go = await go_worker(spawn, programs, server, "--tool", "go_echo=echo")
    await serving(server, "ts_echo")
    await serving(server, "go_echo")

    for name in ("ts_echo", "go_echo"):
        with pytest.raises(RuntimeServiceError) as caught:
            await client.invoke(name, {"data": 5})
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT, name
        assert [field for field, _ in caught.value.violations] == ["input.data"], name
        assert caught.value.violations[0][1], name  # says what is wrong with it
        answer = await client.invoke(name, {"data": "fine"})
        assert answer.output is not None and answer.output.value() == "fine", name
    assert ts.process.returncode is None and go.process.returncode is None
