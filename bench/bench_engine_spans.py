"""What flushing an engine worker's spans after each job costs (issue #14, engine spans).

An engine worker (Ray actor, Spark Python worker) exports its spans to the server's collector
and flushes them before reporting each job (``engine_worker.tracing.SpanFlusher``), because the
engine may end the process right after. This measures that flush, in a child process set up as
a worker is (``export_spans``: the SDK with a ``BatchSpanProcessor`` exporting over OTLP/gRPC)
against a real receiver in another process (``bench_observability.py --receiver``):

* ``sequential``: one job at a time; each job ends the spans of a small task (task, 2 agent
  steps, 2 model calls, 1 tool call: 6 spans), then awaits ``flush()``; the time of the flush.
* ``concurrent``: ``--jobs`` jobs end at once (as a busy actor's do) and all await ``flush()``;
  the wall time until all are done and how many exports (``force_flush`` calls) they shared,
  against the same jobs not flushing (their spans left to the batch processor's schedule).

Run: ``.venv/bin/python bench/bench_engine_spans.py [--jobs N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SPANS_PER_JOB = ("task", "agent_step", "llm_call", "tool_call", "agent_step", "llm_call")


async def _child(endpoint: str, jobs: int, sequential: int) -> dict[str, Any]:
    from aworld_server.engine_worker.tracing import SpanFlusher, export_spans
    from opentelemetry import trace

    export_spans(endpoint, "aworld-engine-bench")
    provider: Any = trace.get_tracer_provider()
    flushes = 0
    real_flush = provider.force_flush

    def counted_flush(*args: Any) -> bool:
        nonlocal flushes
        flushes += 1
        return bool(real_flush(*args))

    provider.force_flush = counted_flush
    tracer = trace.get_tracer("bench")
    flusher = SpanFlusher()

    def job_spans() -> None:
        for name in SPANS_PER_JOB:
            with tracer.start_as_current_span(name, attributes={"aworld.task_id": "t"}):
                pass

    async def job(flush: bool = True) -> None:
        job_spans()
        await asyncio.sleep(0)  # jobs interleave on the loop, as on an actor
        if flush:
            await flusher.flush()

    await job()  # warm-up: the exporter's channel connects
    times = []
    for _ in range(sequential):
        job_spans()
        started = time.perf_counter()
        await flusher.flush()
        times.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    await asyncio.gather(*(job(flush=False) for _ in range(jobs)))
    unflushed_ms = (time.perf_counter() - started) * 1000
    await flusher.flush()
    flushes = 0
    started = time.perf_counter()
    await asyncio.gather(*(job() for _ in range(jobs)))
    concurrent_ms = (time.perf_counter() - started) * 1000
    times.sort()
    return {
        "sequential_median_ms": statistics.median(times),
        "sequential_p95_ms": times[int(len(times) * 0.95) - 1],
        "concurrent_jobs": jobs,
        "concurrent_wall_ms": concurrent_ms,
        "concurrent_wall_without_flush_ms": unflushed_ms,
        "concurrent_flushes": flushes,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", default="")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, args.jobs, args.sequential))))
        return
    here = Path(__file__).parent
    receiver = subprocess.Popen(
        [sys.executable, str(here / "bench_observability.py"), "--receiver"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        endpoint = f"http://127.0.0.1:{receiver.stdout.readline().strip()}"
        runs = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, __file__, "--child", endpoint, "--jobs", str(args.jobs)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        receiver.terminate()
        receiver.wait()
    for run in runs:
        print(json.dumps(run))
    print(
        "median over runs:",
        json.dumps({k: statistics.median(r[k] for r in runs) for k in runs[0]}),
    )


if __name__ == "__main__":
    main()
