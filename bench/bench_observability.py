"""Observability overhead (issue #14): per-step time with tracing exported and metrics on,
against both off, in the same run.

* Workload: bench_core's per-step task — 50 agent steps, each a scripted model call plus a
  local ``add`` tool call — on the embedded ``Runtime`` with its durable SQLite log; per step =
  wall / 50, the median of 7 sequential tasks per child process.
* ``off``: no tracer provider (the runtime's spans are skipped), no metrics.
* ``on``: the OpenTelemetry SDK with a ``BatchSpanProcessor`` exporting over OTLP/gRPC to a
  real receiver in another process (every span of every task is sent: ~151 per task), and
  ``RuntimeMetrics`` observing every commit, as ``aworld serve --otlp-endpoint ... --http-port``
  runs them.
* ``tracing`` and ``metrics``: one of the two, to tell their costs apart; ``sampled``: ``on``
  with the standard ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` at 10% of the tasks.
* Children alternate between the modes so all see the same machine load; the figure is the
  median over ``--runs`` children of each. Target: ``on`` costs at most 15% more per step.

Run: ``.venv/bin/python bench/bench_observability.py [--runs N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_core import _add_chain_script

STEPS = 50
TASKS_PER_RUN = 7
TARGET = 0.15
MODES = ("off", "on", "tracing", "metrics", "sampled")
SAMPLED = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


async def _child(mode: str, endpoint: str) -> dict[str, Any]:
    from aworld_server.server import tune_gc

    tune_gc()
    from aworld_client import AgentSpec, ModelConfig, Payload, Swarm, Task, TaskStatus
    from aworld_client.handlers import tool
    from aworld_server import Runtime
    from aworld_server.observability.telemetry import configure_tracing
    from aworld_server.web import RuntimeMetrics

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    def make_task() -> Task:
        model = ModelConfig(
            provider="scripted", options=Payload.of({"script": _add_chain_script(STEPS)})
        )
        agent = AgentSpec(name="solver", tool_names=["add"], model=model)
        return Task(input=Payload.from_text("go"), swarm=Swarm(agents=[agent]))

    traced = mode in ("on", "tracing", "sampled")
    measured = mode in ("on", "metrics", "sampled")
    tracing = configure_tracing(endpoint, "aworld-bench") if traced else None
    with tempfile.TemporaryDirectory(prefix="aworld-bench-obs-") as data_dir:
        runtime = Runtime(data_dir=data_dir)
        runtime.registry.add_tool(add)
        metrics = RuntimeMetrics(runtime.bus, list) if measured else None
        if metrics is not None:
            runtime.events.observe(metrics.on_commit)
        async with runtime:
            warm = await runtime.run(make_task())
            assert warm.status == TaskStatus.SUCCEEDED, warm
            walls = []
            for _ in range(TASKS_PER_RUN):
                started = time.perf_counter()
                response = await runtime.run(make_task())
                walls.append(time.perf_counter() - started)
                assert response.status == TaskStatus.SUCCEEDED, response
    if tracing is not None:
        tracing.shutdown()
    if metrics is not None:  # the metrics saw the run
        assert b"aworld_tasks_finished_total" in metrics.render()
    return {"mode": mode, "per_step_ms": statistics.median(walls) / STEPS * 1000}


async def _receive() -> None:
    """A real OTLP receiver in its own process: counts spans, prints its port."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(self, request: Any, context: Any) -> Any:
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=MODES)
    parser.add_argument("--endpoint", default="")
    parser.add_argument("--receiver", action="store_true")
    args = parser.parse_args()
    if args.receiver:
        asyncio.run(_receive())
        return
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, args.endpoint))))
        return

    receiver = subprocess.Popen(
        [sys.executable, __file__, "--receiver"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert receiver.stdout is not None
        endpoint = f"http://127.0.0.1:{receiver.stdout.readline().strip()}"
        results: dict[str, list[float]] = {mode: [] for mode in MODES}
        for run in range(args.runs):
            for mode in MODES:
                command = [sys.executable, __file__, "--child", mode, "--endpoint", endpoint]
                env = {**os.environ, **(SAMPLED if mode == "sampled" else {})}
                out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
                per_step = json.loads(out.stdout.strip().splitlines()[-1])["per_step_ms"]
                results[mode].append(per_step)
                print(f"run {run + 1} {mode:>7}: {per_step:.3f} ms/step", flush=True)
    finally:
        receiver.terminate()
        receiver.wait()
    medians = {mode: statistics.median(values) for mode, values in results.items()}
    off = medians["off"]
    for mode in MODES:
        print(f"median per step {mode:>7}: {medians[mode]:.3f} ms ({medians[mode] / off - 1:+.1%})")
    overhead = medians["on"] / off - 1
    verdict = "met" if overhead <= TARGET else "missed"
    print(
        f"on vs off: {overhead:+.1%} (target <= {TARGET:.0%}: {verdict}); "
        f"load {os.getloadavg()[0]:.2f}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"runs": results, "medians_ms": medians, "overhead": overhead}, indent=2)
        )


if __name__ == "__main__":
    main()
