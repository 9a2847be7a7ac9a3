"""One task is one trace across three languages: ``aworld serve --otlp-endpoint`` and Python,
TypeScript and Go worker processes all export to a real OTLP receiver started by the test, and
the spans link task -> agent step -> tool call -> the worker's span in each language."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aworld_client import AsyncClient, TaskResponse, TaskStatus
from crosslang_harness import (
    ROOT,
    ChildProcess,
    Programs,
    Spawn,
    assert_eventually,
    call,
    scripted_task,
)
from otlp_receiver import OtlpReceiver, ReceivedSpan

AWORLD = str(Path(sys.executable).with_name("aworld"))
TOOLS = {"python": "py_describe", "typescript": "ts_describe", "go": "go_describe"}


@pytest.fixture
async def receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    await receiver.start()
    # Every process started below inherits these: export to the receiver, in 100 ms batches.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    yield receiver
    await receiver.stop()


async def traced_server(spawn: Spawn, tmp_path: Path, receiver: OtlpReceiver) -> str:
    server = await spawn(
        "aworld serve",
        [
            AWORLD,
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "server"),
            "--otlp-endpoint",
            receiver.endpoint,
            "--shutdown-grace",
            "1",
        ],
    )
    listening = await server.expect(r"listening on (\S+):(\d+)")
    return f"127.0.0.1:{listening.group(2)}"


async def start_workers(spawn: Spawn, programs: Programs, address: str) -> list[ChildProcess]:
    commands = [
        [sys.executable, str(ROOT / "tests/crosslang/py_traced_worker.py"), "--address", address],
        programs.ts_worker_command("--address", address, "--tool", "ts_describe=describe"),
        programs.go_worker_command("--address", address, "--tool", "go_describe=describe"),
    ]
    workers = [await spawn(lang, command) for lang, command in zip(TOOLS, commands, strict=True)]
    for worker in workers:
        await worker.expect(r"^READY \S+")
    return workers


async def test_one_task_is_one_trace_across_python_typescript_and_go_workers(
    spawn: Spawn, programs: Programs, tmp_path: Path, receiver: OtlpReceiver
) -> None:
    address = await traced_server(spawn, tmp_path, receiver)
    await start_workers(spawn, programs, address)
    script = [*(call(tool, {"text": lang}) for lang, tool in TOOLS.items()), {"content": "done"}]
    async with AsyncClient(address) as client:
        events = [e async for e in client.run(scripted_task(script, list(TOOLS.values())))]
    response = getattr(events[-1].body, "response", None)
    assert isinstance(response, TaskResponse) and response.status == TaskStatus.SUCCEEDED, events

    def of_task() -> list[ReceivedSpan]:
        return [s for s in receiver.spans if s.attributes.get("aworld.task_id") == response.id]

    expected = {"task": 1, "agent_step": 4, "llm_call": 4, "tool_call": 3, "worker_call": 3}

    def complete() -> bool:
        names = [s.name for s in of_task()]
        rpc = [s for s in receiver.spans if s.name.endswith("/RunTask")]
        return bool(rpc) and all(names.count(n) == count for n, count in expected.items())

    await assert_eventually(complete, message="the spans of the task never all arrived")
    spans = of_task()
    by_id = {s.span_id: s for s in receiver.spans}

    # One trace: the task's spans and every worker's, whatever process sent them.
    assert {s.trace_id for s in spans} == {response.trace_id}, [
        (s.service, s.name, s.parent_id) for s in spans if s.trace_id != response.trace_id
    ]

    def parent(span: ReceivedSpan) -> ReceivedSpan:
        assert span.parent_id in by_id, f"{span.name}'s parent was never exported"
        return by_id[span.parent_id]

    task = next(s for s in spans if s.name == "task")
    # The task continues the RunTask RPC's span (the gRPC server instrumentation).
    assert parent(task).name == "/aworld.runtime.v1.RuntimeService/RunTask"
    assert task.service == "aworld-server"
    services = {
        "python": "aworld-test-worker-py",
        "typescript": "aworld-example-worker-ts",
        "go": "aworld-example-worker-go",
    }
    for lang, tool in TOOLS.items():
        worker_span = next(
            s for s in spans if s.name == "worker_call" and s.attributes["aworld.sdk"] == lang
        )
        assert worker_span.service == services[lang]
        assert worker_span.attributes["aworld.handler"] == tool
        tool_call = parent(worker_span)
        assert (tool_call.name, tool_call.attributes["aworld.tool"]) == ("tool_call", tool)
        step = parent(tool_call)
        assert step.name == "agent_step" and parent(step) is task
