"""MCP tools in an embedded runtime: a real MCP server (``mcp_server.py``, the SDK's MCPServer)
run by the runtime as a stdio subprocess — or reached over streamable HTTP — serves tools to an
agent that declares it; calls go through the runtime's tool-call path (events, retries,
cancellation), the process is reused, restarted when it dies, and stopped at close."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

import mcp.shared._otel as mcp_otel
import pytest
from aworld_client import AgentSpec, Event, Payload, Swarm, Task, TaskStatus
from aworld_client.event import ToolCallFinished, ToolCallStarted
from aworld_client.handlers import tool
from aworld_server import Agent, InvalidArgument, Runners, Runtime, ScriptedModel
from aworld_server.mcp import McpServer, McpServerUnavailable
from aworld_server.observability import tracing as aworld_tracing
from mcp_harness import (
    FAST_RETRY,
    HttpMcpServer,
    McpFiles,
    RecordingModel,
    alive,
    free_port,
    scripted,
    tool_events,
    wait_gone,
)
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from process_harness import assert_eventually


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


def agent_task(agent: Agent, **fields: Any) -> Task:
    fields.setdefault("retry_policy", FAST_RETRY)
    return Task(input=Payload.from_text("go"), swarm=Swarm(agents=[agent.spec()]), **fields)


async def run(runtime: Runtime, agent: Agent, **fields: Any) -> tuple[Any, list[Event]]:
    runtime.registry.add_agent(agent)
    response = await runtime.run(agent_task(agent, **fields))
    return response, await events_of(runtime, response.id)


async def events_of(runtime: Runtime, task_id: str) -> list[Event]:
    return [event async for event in runtime.stream(task_id, follow=False)]


def answer(response: Any) -> str:
    return str(response.answer.value()) if response.answer else ""


def output(response: Any) -> Any:
    """The last tool output the agent saw, from an answer ``out={last_tool_output}``."""
    return json.loads(answer(response).removeprefix("out="))


async def test_agent_declared_stdio_server_serves_its_tools(
    runtime: Runtime, files: McpFiles
) -> None:
    model = RecordingModel([call("demo__add", a=2, b=3), {"content": "sum={last_tool_output}"}])
    agent = Agent("solver", model=model, mcp_servers=[files.stdio()])

    response, events = await run(runtime, agent)

    assert response.status == TaskStatus.SUCCEEDED, response.failure
    assert answer(response) == 'sum={"result": 5}'  # MCPServer wraps a bare int this way
    declared = {d["name"]: d for d in model.declarations[0]}
    assert set(declared) >= {"demo__add", "demo__wait_for", "demo__fail", "demo__record"}
    add = declared["demo__add"]
    assert add["description"] == "Add two integers."
    assert add["parameters"]["required"] == ["a", "b"]
    assert add["parameters"]["properties"]["a"]["type"] == "integer"
    started, finished = tool_events(events)
    assert isinstance(started, ToolCallStarted) and started.tool_name == "demo__add"
    assert started.arguments is not None and started.arguments.value() == {"a": 2, "b": 3}
    assert isinstance(finished, ToolCallFinished) and finished.failure is None
    assert finished.result is not None and finished.result.value() == {"result": 5}
    assert files.count("add") == 1


async def test_one_process_serves_every_task_and_close_stops_it(
    tmp_path: Any, files: McpFiles
) -> None:
    model = ScriptedModel([call("demo__add", a=1, b=1), {"content": "out={last_tool_output}"}])
    agent = Agent("solver", model=model, mcp_servers=[files.stdio()])
    async with Runtime(data_dir=tmp_path / "data") as runtime:
        runtime.registry.add_agent(agent)
        responses = await asyncio.gather(*(runtime.run(agent_task(agent)) for _ in range(4)))
        assert [r.status for r in responses] == [TaskStatus.SUCCEEDED] * 4
        assert files.count("add") == 4
        [pid] = files.pids()  # started once, for the first task, and reused
        assert alive(pid)
    await wait_gone(pid)  # the runtime's close stopped it


async def test_http_server_declared_on_an_agent(runtime: Runtime, files: McpFiles) -> None:
    http = await HttpMcpServer(files).start()
    try:
        server = McpServer(name="web", url=http.url, startup_timeout=15)
        model = ScriptedModel([call("web__add", a=20, b=22), {"content": "out={last_tool_output}"}])
        response, _ = await run(runtime, Agent("solver", model=model, mcp_servers=[server]))
        assert response.status == TaskStatus.SUCCEEDED, response.failure
        assert output(response) == {"result": 42}
        assert files.count("add") == 1
    finally:
        await http.stop()


async def test_http_server_down_between_calls_is_unavailable_not_lost(
    runtime: Runtime, files: McpFiles, tmp_path: Any
) -> None:
    gate = tmp_path / "open"
    gate.touch()
    http = await HttpMcpServer(files).start()
    try:
        await runtime.mcp.connect(McpServer(name="web", url=http.url, startup_timeout=5))
        record = runtime.registry.tools["web__record"]
        assert await record.invoke({"note": "one", "gate": str(gate)}) == {"result": "recorded one"}
        await http.stop()

        # The connection is refused: the request never left, so even this non-idempotent
        # tool's attempt is retryable (a policy may wait for the server to come back).
        with pytest.raises(McpServerUnavailable) as down:
            await record.invoke({"note": "two", "gate": str(gate)})
        assert not down.value.failure.non_retryable
        assert "ConnectError" in down.value.failure.message

        http = await HttpMcpServer(files, port=http.port).start()  # back, on the same URL
        assert await record.invoke({"note": "three", "gate": str(gate)}) == {
            "result": "recorded three"
        }
        assert files.lines() == ["record one", "record three"]
    finally:
        await http.stop()


async def test_tool_error_is_a_failure_the_agent_sees_and_is_not_retried(
    runtime: Runtime, files: McpFiles
) -> None:
    model = ScriptedModel(
        [call("demo__fail", message="boom"), {"content": "out={last_tool_output}"}]
    )
    response, events = await run(runtime, Agent("solver", model=model, mcp_servers=[files.stdio()]))

    assert response.status == TaskStatus.SUCCEEDED, response.failure
    seen = output(response)["error"]
    assert seen["type"] == "McpToolError" and "boom" in seen["message"]
    finished = [e for e in tool_events(events) if isinstance(e, ToolCallFinished)]
    assert len(finished) == 1 and finished[0].failure is not None
    assert finished[0].failure.non_retryable and not finished[0].will_retry
    assert files.count("fail") == 1  # not retried although the policy allows 3 attempts


async def test_retry_tool_errors_lets_the_policy_retry_them(
    runtime: Runtime, files: McpFiles
) -> None:
    model = ScriptedModel(
        [call("demo__fail", message="flaky"), {"content": "out={last_tool_output}"}]
    )
    agent = Agent("solver", model=model, mcp_servers=[files.stdio(retry_tool_errors=True)])
    response, _ = await run(runtime, agent)
    assert response.status == TaskStatus.SUCCEEDED, response.failure
    assert files.count("fail") == 3  # FAST_RETRY's maximum_attempts


async def test_invalid_arguments_never_reach_the_server(runtime: Runtime, files: McpFiles) -> None:
    model = ScriptedModel([call("demo__add", a="two", b=3), {"content": "out={last_tool_output}"}])
    response, _ = await run(runtime, Agent("solver", model=model, mcp_servers=[files.stdio()]))
    error = output(response)["error"]
    assert error["type"] == "InvalidHandlerInput" and "two" in error["message"]
    assert files.count("add") == 0


async def test_server_killed_mid_call_is_retried_against_a_restarted_server(
    runtime: Runtime, files: McpFiles, tmp_path: Any
) -> None:
    gate = tmp_path / "gate"
    model = ScriptedModel(
        [call("demo__wait_for", path=str(gate)), {"content": "out={last_tool_output}"}]
    )
    agent = Agent("solver", model=model, mcp_servers=[files.stdio()])
    runtime.registry.add_agent(agent)
    submitted = await runtime.submit(agent_task(agent))

    await assert_eventually(lambda: files.count("wait_for") == 1)  # the call is in flight
    [first] = files.pids()
    os.kill(first, signal.SIGKILL)
    # The retry starts the server again and calls the tool there; it blocks on the gate.
    await assert_eventually(lambda: files.count("wait_for") == 2)
    gate.write_text("after the crash")
    response = await runtime.wait(submitted.task_id)

    assert response.status == TaskStatus.SUCCEEDED, response.failure
    assert output(response) == {"result": "after the crash"}  # the fault-free answer
    first_pid, second_pid = files.pids()
    assert first_pid == first and second_pid != first and not alive(first)
    finished = [
        e
        for e in tool_events(await events_of(runtime, response.id))
        if isinstance(e, ToolCallFinished)
    ]
    assert [(f.attempt, f.failure.type if f.failure else None) for f in finished] == [
        (1, "McpServerLost"),
        (2, None),
    ]
    assert finished[0].will_retry


async def test_non_idempotent_call_is_not_rerun_after_the_server_dies(
    runtime: Runtime, files: McpFiles, tmp_path: Any
) -> None:
    model = ScriptedModel(
        [
            call("demo__record", note="pay", gate=str(tmp_path / "never")),
            call("demo__add", a=1, b=2),
            {"content": "out={last_tool_output}"},
        ]
    )
    agent = Agent("solver", model=model, mcp_servers=[files.stdio()])
    runtime.registry.add_agent(agent)
    submitted = await runtime.submit(agent_task(agent))
    await assert_eventually(lambda: files.count("record") == 1)
    os.kill(files.pids()[0], signal.SIGKILL)
    response = await runtime.wait(submitted.task_id)

    assert response.status == TaskStatus.SUCCEEDED, response.failure
    assert files.count("record") == 1  # its outcome is unknown: it may have paid; not re-run
    record, add = [
        e
        for e in tool_events(await events_of(runtime, response.id))
        if isinstance(e, ToolCallFinished)
    ]
    assert record.failure is not None and record.failure.type == "McpServerLost"
    assert record.failure.non_retryable and not record.will_retry
    # The agent's next call found the server started again.
    assert add.result is not None and add.result.value() == {"result": 3}
    assert len(files.pids()) == 2


async def test_cancelling_the_task_cancels_the_mcp_call(
    runtime: Runtime, files: McpFiles, tmp_path: Any
) -> None:
    gate = tmp_path / "never"
    model = ScriptedModel([call("demo__wait_for", path=str(gate)), {"content": "done"}])
    agent = Agent("solver", model=model, mcp_servers=[files.stdio()])
    runtime.registry.add_agent(agent)
    submitted = await runtime.submit(agent_task(agent))
    await assert_eventually(lambda: files.count("wait_for") == 1)

    assert await runtime.cancel(submitted.task_id) == TaskStatus.CANCELLED
    # The server was told (notifications/cancelled) and stopped the tool.
    await assert_eventually(lambda: f"cancelled {gate}" in files.lines())
    assert alive(files.pids()[0])  # the server itself goes on serving


async def test_tool_timeout_fails_the_attempt_and_cancels_it_on_the_server(
    runtime: Runtime, files: McpFiles, tmp_path: Any
) -> None:
    gate = tmp_path / "never"
    model = ScriptedModel(
        [call("demo__wait_for", path=str(gate)), {"content": "out={last_tool_output}"}]
    )
    agent = Agent("solver", model=model, mcp_servers=[files.stdio(tool_timeout=0.3)])
    response, events = await run(runtime, agent)

    assert response.status == TaskStatus.SUCCEEDED, response.failure
    assert output(response)["error"]["type"] == "AttemptTimedOut"
    failures = [e.failure for e in tool_events(events) if isinstance(e, ToolCallFinished)]
    assert [f.type for f in failures if f] == ["AttemptTimedOut"] * 3  # read-only: retried
    await assert_eventually(lambda: files.lines().count(f"cancelled {gate}") == 3)


async def test_env_and_env_from_reach_the_process(
    runtime: Runtime, files: McpFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_TEST_SECRET", "s3cret")
    monkeypatch.setenv("MCP_TEST_NOT_PASSED", "leak")
    server = files.stdio(env={"GREETING": "hi"}, env_from=["MCP_TEST_SECRET"])
    model = ScriptedModel(
        [
            call("demo__env", name="GREETING"),
            call("demo__env", name="MCP_TEST_SECRET"),
            call("demo__env", name="MCP_TEST_NOT_PASSED"),
            {"content": "done"},
        ]
    )
    _, events = await run(runtime, Agent("solver", model=model, mcp_servers=[server]))
    outputs = [
        e.result.value()
        for e in tool_events(events)
        if isinstance(e, ToolCallFinished) and e.result
    ]
    assert outputs == [{"result": "hi"}, {"result": "s3cret"}, {"result": ""}]


async def test_an_agent_server_that_cannot_start_fails_the_task(
    runtime: Runtime, files: McpFiles
) -> None:
    model = ScriptedModel([{"content": "never asked"}])
    ghost = McpServer(name="ghost", command="/nonexistent/mcp-server")
    response, _ = await run(runtime, Agent("ghostly", model=model, mcp_servers=[ghost]))
    assert response.status == TaskStatus.FAILED
    assert response.failure is not None and response.failure.type == "McpServerUnavailable"
    assert "/nonexistent/mcp-server" in response.failure.message

    nobody = McpServer(name="nobody", url=f"http://127.0.0.1:{free_port()}/mcp", startup_timeout=5)
    response, _ = await run(runtime, Agent("lonely", model=model, mcp_servers=[nobody]))
    assert response.status == TaskStatus.FAILED
    assert response.failure is not None and response.failure.type == "McpServerUnavailable"
    assert "ConnectError" in response.failure.message

    missing = files.stdio(name="secretive", env_from=["MCP_TEST_UNSET_VARIABLE"])
    response, _ = await run(runtime, Agent("secretive", model=model, mcp_servers=[missing]))
    assert response.failure is not None and "MCP_TEST_UNSET_VARIABLE" in response.failure.message
    assert files.pids() == []  # never started


async def test_a_server_that_never_answers_times_out_at_startup(runtime: Runtime) -> None:
    # A process that reads its stdin and never answers the handshake.
    silent = McpServer(
        name="silent",
        command=sys.executable,
        args=["-c", "import sys; sys.stdin.read()"],
        startup_timeout=0.5,
    )
    model = ScriptedModel([{"content": "never asked"}])
    response, _ = await run(runtime, Agent("waiting", model=model, mcp_servers=[silent]))
    assert response.failure is not None and response.failure.type == "McpServerUnavailable"
    assert "startup_timeout (0.5s)" in response.failure.message


async def test_tool_prefix_names_and_clashes(runtime: Runtime, files: McpFiles) -> None:
    @tool(name="add")
    def local_add(a: int, b: int) -> int:
        return a + b

    runtime.registry.add_tool(local_add)
    model = ScriptedModel([{"content": "never asked"}])
    bare = files.stdio(name="bare", tool_prefix="")
    response, _ = await run(runtime, Agent("clash", model=model, mcp_servers=[bare]))
    assert response.failure is not None and response.failure.type == "McpServerUnavailable"
    assert "'add'" in response.failure.message and "tool_prefix" in response.failure.message

    model = ScriptedModel([call("m_add", a=4, b=5), {"content": "out={last_tool_output}"}])
    dotted = files.stdio(name="dotted", tool_prefix="m.")
    response, _ = await run(runtime, Agent("dotted", model=model, mcp_servers=[dotted]))
    # Model function names allow only [A-Za-z0-9_-]: the prefix's dot became '_'.
    assert response.status == TaskStatus.SUCCEEDED, response.failure
    assert output(response) == {"result": 9}


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process (spans kept in memory), as tests/core/test_tracing.py does.

    The runtime's and the MCP SDK's module tracers are proxies that keep the first real
    tracer they meet, so an earlier test's provider would still get their spans: this test
    gives them tracers of its own provider for its duration."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    monkeypatch.setattr(aworld_tracing, "_tracer", provider.get_tracer("aworld_server"))
    monkeypatch.setattr(mcp_otel, "_tracer", provider.get_tracer("mcp-python-sdk"))
    yield exporter
    provider.shutdown()
    # The API has no public reset; OpenTelemetry's own test utilities reset these globals.
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # type: ignore[attr-defined]


async def test_mcp_calls_are_traced_into_the_mcp_server(
    runtime: Runtime, files: McpFiles, exporter: InMemorySpanExporter
) -> None:
    model = ScriptedModel([call("demo__trace_id"), {"content": "out={last_tool_output}"}])
    response, _ = await run(runtime, Agent("traced", model=model, mcp_servers=[files.stdio()]))

    # The MCP server's work belongs to the task's trace (the context travels in _meta) ...
    assert response.trace_id and output(response) == {"result": response.trace_id}
    spans = exporter.get_finished_spans()
    [tool_span] = [s for s in spans if s.name == "tool_call"]
    assert tool_span.attributes is not None
    assert tool_span.attributes["aworld.tool"] == "demo__trace_id"
    # ... under the runtime's tool_call span, through the SDK's client span.
    client_spans = [
        s for s in spans if s.parent is not None and s.parent.span_id == tool_span.context.span_id
    ]
    assert [s.name for s in client_spans] == ["MCP send tools/call trace_id"]
    assert tool_span.context.trace_id == int(response.trace_id, 16)


def test_runners_sync_run_with_an_mcp_agent_stops_its_server(
    tmp_path: Any, files: McpFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default runtime keeps its log under ./.aworld
    model = ScriptedModel(
        [call("demo__add", a=20, b=22), {"content": "the answer is {last_tool_output}"}]
    )
    agent = Agent("calc", model=model, mcp_servers=[files.stdio()])
    response = Runners.sync_run("what is 20 + 22?", agent=agent)  # as in docs/mcp.md
    assert response.status == TaskStatus.SUCCEEDED, response.failure
    assert response.answer is not None
    assert response.answer.value() == 'the answer is {"result": 42}'
    [pid] = files.pids()
    assert not alive(pid)  # the runtime sync_run made was closed, and its server with it


async def test_an_embedded_runtime_starts_servers_that_tasks_name(
    runtime: Runtime, files: McpFiles
) -> None:
    await runtime.mcp.start({"calc": files.stdio(name="")})  # named after its key
    [pid] = files.pids()  # started now, not by a task
    script = [call("calc__add", a=6, b=7), {"content": "out={last_tool_output}"}]
    agent = AgentSpec(name="solver", mcp_servers=["calc"], model=scripted(script))
    response = await runtime.run(Task(input=Payload.from_text("go"), swarm=Swarm(agents=[agent])))
    assert output(response) == {"result": 13}

    unknown = AgentSpec(name="solver", mcp_servers=["calc", "other"], model=scripted(script))
    with pytest.raises(InvalidArgument) as error:
        await runtime.submit(Task(input=Payload.from_text("go"), swarm=Swarm(agents=[unknown])))
    assert [v.field for v in error.value.violations] == ["task.swarm.agents[0].mcp_servers[1]"]
    assert files.pids() == [pid]
