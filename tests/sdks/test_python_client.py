"""The Python SDK's first-contact friction, each as a user meets it: stopping a stream early,
a server that is not there, address forms, plain values for payloads, task files."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from aworld_client import (
    AsyncClient,
    Client,
    ModelConfig,
    Payload,
    RuntimeServiceError,
    Task,
    Worker,
    tool,
)
from sdk_harness import Program, start_server, wait_for_worker

HOLD_WORKER = """
import asyncio, sys
from aworld_client import Worker, tool

@tool
async def hold(text: str) -> str:
    \"\"\"Never finishes: the task stays running.\"\"\"
    await asyncio.Event().wait()
    return text

Worker(sys.argv[1], [hold]).run_forever()
"""

BREAKING_CLIENT = """
import sys
from aworld_client import Client, Task, ToolCallStarted

task = Task.from_dict({"input": "hold on", "swarm": {"agents": [{"name": "a",
    "toolNames": ["hold"], "model": {"provider": "scripted", "options": {"script": [
        {"tool_calls": [{"name": "hold", "arguments": {"text": "x"}}]}, {"content": "done"}]}}}]}})
with Client(sys.argv[1]) as client:
    for event in client.run(task):
        if isinstance(event.body, ToolCallStarted):
            print("stopped at", type(event.body).__name__)
            break
    events = client.events(event.task_id)
    print("first event", next(events).seq)  # left open: close() must end it too
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    process, address = start_server(tmp_path / "server")
    try:
        yield address
    finally:
        process.stop()


def _closed_address() -> str:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        host, port = listener.getsockname()
    return f"{host}:{port}"


def test_stopping_a_stream_early_leaves_no_pending_grpc_work(server: str, tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text(HOLD_WORKER)
    (tmp_path / "client.py").write_text(BREAKING_CLIENT)
    worker = Program.start(
        sys.executable, "worker.py", server, cwd=tmp_path, env={}, log=tmp_path / "worker.log"
    )
    try:
        wait_for_worker(server, "hold", worker)
        result = subprocess.run(
            [sys.executable, "client.py", server],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        worker.kill()  # its call never finishes, so a graceful stop would wait for it
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["stopped at ToolCallStarted", "first event 1"]
    # Before the fix: "Task was destroyed but it is pending! ... _handle_status_once_received"
    assert result.stderr == ""


def test_an_unreachable_server_fails_the_first_call_at_once_naming_it() -> None:
    address = f"http://{_closed_address()}"
    task = Task(input="hi")
    with Client(address) as client:
        for call in (lambda: client.run_to_completion(task), lambda: list(client.events("t1"))):
            started = time.monotonic()
            with pytest.raises(RuntimeServiceError) as raised:
                call()
            assert time.monotonic() - started < 1.0
            assert raised.value.code == grpc.StatusCode.UNAVAILABLE
            assert f"cannot reach the server at {address}" in str(raised.value)


async def test_the_async_client_reports_an_unreachable_server_at_once() -> None:
    address = _closed_address()
    async with AsyncClient(address) as client:
        started = time.monotonic()
        with pytest.raises(RuntimeServiceError, match=f"cannot reach the server at {address}"):
            async for _ in client.events("t1"):
                pass
        assert time.monotonic() - started < 1.0


def test_the_same_address_forms_are_accepted_everywhere_and_others_rejected() -> None:
    @tool
    def echo(text: str) -> str:
        return text

    for address in ("127.0.0.1:50051", "localhost:1", "[::1]:50051", "http://h:1", "https://h:443"):
        Client(address).close()
        Worker(address, [echo])
    for address in ("localhost", "127.0.0.1:", "ftp://h:1", "http://h:1/path", "h:99999", ""):
        with pytest.raises(ValueError, match="invalid server address"):
            Client(address)
        with pytest.raises(ValueError, match="invalid server address"):
            Worker(address, [echo])


def test_payload_fields_take_plain_values_and_say_what_they_take() -> None:
    assert Task(input="hi").input == Payload.from_text("hi")
    options = ModelConfig(options={"script": [{"content": "x"}]}).options
    assert options is not None and options.value() == {"script": [{"content": "x"}]}
    assert Task(input=Payload.of(3)).input == Payload.of(3)
    with pytest.raises(TypeError, match=r"Task\.input: expected a Payload or a JSON value"):
        Task(input={1, 2})
    with pytest.raises(TypeError, match=r"expected Swarm .* got dict"):
        Task(swarm={"agents": []}).to_proto()  # type: ignore[arg-type]


def test_tasks_load_from_json_and_yaml_with_plain_payloads() -> None:
    from_json = Task.from_json(
        '{"input": "count", "swarm": {"agents": [{"name": "a", "toolNames": ["word_count"],'
        ' "model": {"provider": "scripted", "options": {"script": [{"content": "done"}]}}}]}}'
    )
    from_yaml = Task.from_yaml(
        "input: count\n"
        "swarm:\n"
        "  agents:\n"
        "    - name: a\n"
        "      tool_names: [word_count]\n"
        "      model: {provider: scripted, options: {script: [{content: done}]}}\n"
    )
    assert from_json == from_yaml
    assert from_json.input == Payload.from_text("count")
    with pytest.raises(ValueError, match="not a valid Task"):
        Task.from_dict({"swarm": {"topology": "STAR"}})
    with pytest.raises(ValueError, match="not valid JSON"):
        Task.from_json("{")
