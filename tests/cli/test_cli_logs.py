"""``aworld serve --log-format json``: one JSON object per line, and the lines a task's run
writes carry its task id and the trace and span they happened in; payloads stay out of INFO
logs and secrets are redacted."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from aworld_client import AgentSpec, AsyncClient, ModelConfig, Payload, Swarm, Task, TaskResponse
from aworld_server.observability.logs import redact
from cli_harness import start_server
from otlp_receiver import OtlpReceiver

MARKER = "PAYLOAD-MARKER-7f3"


async def test_json_logs_carry_task_trace_and_span_ids_and_no_payloads(tmp_path: Path) -> None:
    receiver = OtlpReceiver()
    await receiver.start()
    server, address = start_server(
        tmp_path / "server",
        "--log-format",
        "json",
        "--otlp-endpoint",
        receiver.endpoint,
        "--http-port",
        "0",
    )
    try:
        model = ModelConfig(
            provider="scripted",
            options=Payload.of({"script": [{"content": f"the answer mentions {MARKER}"}]}),
        )
        task = Task(
            input=Payload.from_text(f"input with {MARKER}"),
            swarm=Swarm(agents=[AgentSpec(name="solo", model=model)]),
        )
        async with AsyncClient(address) as client:
            events = [e async for e in client.run(task)]
        response = getattr(events[-1].body, "response", None)
        assert isinstance(response, TaskResponse) and response.trace_id
    finally:
        # In a thread: the receiver, on this loop, takes the spans the server flushes on exit.
        await asyncio.to_thread(server.stop)
        await receiver.stop()

    log = server.read_log()
    assert re.search(r"console and /metrics on http://127\.0\.0\.1:\d+", log), log
    assert f"traces to {receiver.endpoint}" in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines, log
    assert all(
        set(line) >= {"time", "level", "logger", "message", "task_id", "trace_id", "span_id"}
        for line in lines
    )
    of_task = [line for line in lines if line["task_id"] == response.id]
    assert [line["message"] for line in of_task] == [
        "task started (runner event)",
        "task ended succeeded",
    ]
    assert {line["trace_id"] for line in of_task} == {response.trace_id}
    assert all(len(line["span_id"]) == 16 and int(line["span_id"], 16) for line in of_task)
    assert MARKER not in log  # neither the input nor the answer is logged at INFO


def test_secrets_are_redacted_from_log_messages() -> None:
    assert redact("authorization: Bearer s3cr3t.t0k3n") == "authorization: Bearer [REDACTED]"
    assert redact("key sk-abcdefghijklmnop used") == "key [REDACTED] used"
    assert redact('{"api_key": "hunter2", "n": 1}') == '{"api_key": "[REDACTED]", "n": 1}'
    assert redact("password=hunter2 retry") == "password=[REDACTED] retry"
    assert redact("token: abc123") == "token: [REDACTED]"
    assert redact("task 42 ended succeeded") == "task 42 ended succeeded"


async def test_text_logs_to_a_file_are_plain_lines_with_the_task_id(tmp_path: Path) -> None:
    # The harness sends the server's output to a file (no terminal): plain lines, no rich
    # columns, and a task's lines name it.
    server, address = start_server(tmp_path / "server")
    try:
        model = ModelConfig(
            provider="scripted",
            options=Payload.of({"script": [{"content": f"the answer mentions {MARKER}"}]}),
        )
        task = Task(
            input=Payload.from_text("hi"), swarm=Swarm(agents=[AgentSpec(name="solo", model=model)])
        )
        async with AsyncClient(address) as client:
            response = await client.run_to_completion(task)
    finally:
        await asyncio.to_thread(server.stop)

    log = server.read_log()
    of_task = [line for line in log.splitlines() if f"[task {response.id}]" in line]
    line = re.compile(
        r"^\d{4}-\d\d-\d\dT[\d:.]+\+00:00 INFO +aworld_server\.runners\.base: \[task "
    )
    assert len(of_task) == 2 and all(line.match(text) for text in of_task), log
    assert of_task[0].endswith("task started (runner event)")
    assert of_task[1].endswith("task ended succeeded")
    assert MARKER not in log
