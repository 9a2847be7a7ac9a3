"""A task on Ray or Spark is one trace: ``aworld serve --otlp-endpoint`` hands each engine job
the collector, and the engine worker process (a Ray actor, a Spark Python worker) exports its own
spans there, continuing the trace the client started at SubmitTask.

The server is a real ``aworld serve`` process (the SDK is installed by a process entry point,
never inside the test process). Its Ray engine joins the session's Ray instance; its Spark engine
is a ``local[1]`` of its own (a local master lives in its driver's JVM and cannot be shared).
The server is stopped right after the tasks end, which ends its Ray actors and Spark workers:
the spans must have left them by then (a worker flushes before reporting its job, and the server
waits for those reports before it closes the engines).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import ray
from aworld_client import AsyncClient, Task, TaskResponse, TaskStatus
from aworld_client.api import runtime_service_pb2, runtime_service_pb2_grpc
from aworld_server.engines import JobResult, TaskJob, decode_job, encode_job
from aworld_server.runtime import Runtime
from aworld_server.server import RunningServer
from aworld_server.storage import MemoryEventStore
from engine_harness import WAIT, chain_task
from otlp_receiver import OtlpReceiver, ReceivedSpan
from process_harness import assert_eventually, launch_server

pytestmark = pytest.mark.timeout(240)

AWORLD = str(Path(sys.executable).with_name("aworld"))
SUBMIT = "/aworld.runtime.v1.RuntimeService/SubmitTask"
# Each task: two agent steps (one calls the engine worker's local ``add`` tool, one answers).
EXPECTED = {SUBMIT: 1, "task": 1, "agent_step": 2, "llm_call": 2, "tool_call": 1}


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


def _config(path: Path) -> Path:
    """Ray joins the session's instance (started by the ``server`` fixture); one worker per
    engine, so each engine's two tasks run in the same worker process."""
    gcs = ray.get_runtime_context().gcs_address
    path.write_text(
        "\n".join(
            [
                'engines = ["ray", "spark"]',
                'engine_setup = "engine_handlers:setup"',
                f"ray_address = {json.dumps(gcs)}",
                'spark_master = "local[1]"',
                "[engine_options.ray]",
                "worker_num = 1",
            ]
        )
        + "\n"
    )
    return path


async def _stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM (a graceful stop, which closes the engines), SIGKILL if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.to_thread(process.wait, WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        return await asyncio.to_thread(process.wait)


async def _submit(address: str, task: Task, traceparent: str) -> str:
    """SubmitTask with the client's W3C trace context as gRPC metadata, as any traced client
    sends it."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = runtime_service_pb2_grpc.RuntimeServiceStub(channel)
        request = runtime_service_pb2.SubmitTaskRequest(
            request_id=uuid.uuid4().hex, task=task.to_proto()
        )
        reply = await stub.SubmitTask(request, metadata=(("traceparent", traceparent),))
    return str(reply.task_id)


async def _end(client: AsyncClient, task_id: str) -> TaskResponse:
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            if event.is_terminal:
                return event.body.response  # type: ignore[union-attr,no-any-return]
    raise AssertionError(f"task {task_id} never ended")


async def test_tasks_on_ray_and_spark_export_one_trace_each_from_submit_to_tool_call(
    server: RunningServer, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}  # the flag alone
    process, log, address = await asyncio.to_thread(
        launch_server,
        [AWORLD],
        tmp_path / "server",
        "--config",
        str(_config(tmp_path / "aworld.toml")),
        "--otlp-endpoint",
        receiver.endpoint,
        env=env,
        timeout=WAIT,
    )
    try:
        assert address, f"aworld serve never listened:\n{log.read_text()}"
        # (engine, the client's trace id, the client's span id) per task id
        sent: dict[str, tuple[str, str, str]] = {}
        for engine in ("ray", "spark", "ray", "spark"):
            trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
            task_id = await _submit(
                address, chain_task(engine, steps=2), f"00-{trace_id}-{parent_id}-01"
            )
            sent[task_id] = (engine, trace_id, parent_id)
        async with AsyncClient(address) as client:
            responses = await asyncio.gather(*(_end(client, task_id) for task_id in sent))
        for response in responses:
            assert response.status == TaskStatus.SUCCEEDED, response
            assert response.answer.as_text() == "total=1"
            assert response.trace_id == sent[response.id][1]  # the client's trace, throughout
    finally:
        code = await _stop(process)
    # Stopped: its Ray actor and Spark worker are gone, whatever they had not sent is lost.
    assert code == 0, log.read_text()

    def trace(trace_id: str) -> list[ReceivedSpan]:
        return [s for s in receiver.spans if s.trace_id == trace_id]

    def complete() -> bool:
        for _, trace_id, _ in sent.values():
            names = [s.name for s in trace(trace_id)]
            if {n: names.count(n) for n in set(names)} != EXPECTED:
                return False
        return True

    await assert_eventually(
        complete,
        timeout=WAIT,
        message="missing spans: "
        + repr({t: sorted(s.name for s in trace(t)) for _, t, _ in sent.values()}),
    )
    by_id = {s.span_id: s for s in receiver.spans}

    def parent(span: ReceivedSpan) -> ReceivedSpan:
        assert span.parent_id in by_id, f"{span.name}'s parent was never exported"
        return by_id[span.parent_id]

    for task_id, (engine, trace_id, client_span) in sent.items():
        spans = trace(trace_id)
        submit = next(s for s in spans if s.name == SUBMIT)
        assert (submit.service, submit.parent_id) == ("aworld-server", client_span)
        task = next(s for s in spans if s.name == "task")
        # The worker's task span continues the trace in the task's headers: the SubmitTask span.
        assert task.service == f"aworld-engine-{engine}"
        assert task.attributes["aworld.task_id"] == task_id
        assert parent(task) is submit
        steps = [s for s in spans if s.name == "agent_step"]
        assert all(parent(step) is task for step in steps)
        for name in ("llm_call", "tool_call"):
            assert all(parent(s) in steps for s in spans if s.name == name)
        tool = next(s for s in spans if s.name == "tool_call")
        assert tool.attributes["aworld.tool"] == "add"
        worker_side = {s.service for s in spans if s is not submit}
        assert worker_side == {f"aworld-engine-{engine}"}, worker_side


class HeldEngine:
    """An engine double whose jobs report only when the test says so; it remembers whether a
    job's report had been taken when the engine was closed (which ends its workers)."""

    name = "held"

    def __init__(self) -> None:
        self.jobs: list[TaskJob] = []
        self.reports: asyncio.Queue[JobResult | None] = asyncio.Queue()
        self.unreported_at_close: int | None = None

    async def start(self) -> None:
        pass

    async def submit(self, job: TaskJob) -> None:
        self.jobs.append(job)

    async def results(self) -> AsyncIterator[JobResult]:
        while (result := await self.reports.get()) is not None:
            yield result

    async def cancel(self, task_id: str) -> None:
        pass

    async def close(self) -> None:
        self.unreported_at_close = self.reports.qsize()
        self.reports.put_nowait(None)


async def test_closing_lets_the_job_of_an_ended_task_report_before_its_worker_goes() -> None:
    """A worker reports a job once its spans are exported, just after the task's end is in the
    log; a server stopping right then waits for that report instead of ending the worker."""
    runtime = Runtime(store=MemoryEventStore(), control_plane="127.0.0.1:1")
    runtime.engines.trace_endpoint = "http://collector.example:4317"
    await runtime.start(resume=False, sweep_interval=0)
    engine = HeldEngine()
    await runtime.add_engine(engine)
    try:
        submitted = await runtime.submit(chain_task("held"))
        task_id = submitted.task_id
        (job,) = engine.jobs
        assert decode_job(encode_job(job)).trace_endpoint == "http://collector.example:4317"
        assert decode_job(encode_job(job)).trace_service == "aworld-engine-held"
        ended = TaskResponse(id=task_id, status=TaskStatus.SUCCEEDED)
        await runtime.engines.record_end(task_id, submitted.session_id, ended)  # the worker's
        engine.reports.put_nowait(JobResult(task_id, response=ended, job_id=job.job_id))
    finally:
        await runtime.close()
    assert engine.unreported_at_close == 0
