"""Tracing: one trace per task, continuing the caller's traceparent, with nested spans."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aworld_client import Task
from aworld_server import Runtime
from core_helpers import add, add_chain_script
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    """SQLite only: spans do not depend on the backend, and the tracer the runtime caches is
    bound to the first provider set in the process, so the test runs once per process."""
    rt = Runtime(data_dir=tmp_path)
    rt.registry.add_tool(add)
    async with rt:
        yield rt


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # process-wide, once: the API allows a single set
    yield exporter
    provider.shutdown()
    # Later tests in this process must see "no SDK configured" again. The API has no public
    # reset; OpenTelemetry's own test utilities reset these two globals the same way.
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # type: ignore[attr-defined]


async def test_task_spans_continue_the_callers_trace(
    runtime: Runtime, make_task: Callable[..., Task], exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    task = make_task(
        add_chain_script(3), headers={"traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"}
    )
    response = await runtime.run(task)

    assert response.trace_id == CALLER_TRACE
    spans = [
        s
        for s in exporter.get_finished_spans()
        if s.attributes.get("aworld.task_id") == response.id
    ]
    assert {s.context.trace_id for s in spans} == {int(CALLER_TRACE, 16)}
    names = sorted(s.name for s in spans)
    assert names == ["agent_step"] * 3 + ["llm_call"] * 3 + ["task"] + ["tool_call"] * 2
    by_id = {s.context.span_id: s for s in spans}
    task_span = next(s for s in spans if s.name == "task")

    def parent_name(child: ReadableSpan) -> str:
        assert child.parent is not None
        return by_id[child.parent.span_id].name

    # task -> agent step -> (its model call, and the tool calls it asked for)
    assert all(parent_name(s) == "task" for s in spans if s.name == "agent_step")
    assert all(parent_name(s) == "agent_step" for s in spans if s.name in ("llm_call", "tool_call"))
    assert task_span.parent is not None and task_span.parent.span_id == 0x00F067AA0BA902B7


def test_without_an_sdk_no_trace_is_recorded() -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
