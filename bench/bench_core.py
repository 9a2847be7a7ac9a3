"""Runtime core benchmarks (DESIGN.md §9): per-step overhead, throughput and peak RSS.

* Per-step overhead: one task of 50 agent steps (a scripted model call plus a local ``add``
  tool call each; 49 tool calls and a final answer); per step = wall time / 50. Both execution
  modes. Target <= 1 ms per step. Each run times 7 such tasks one after another and keeps the
  median task.
* Throughput: K trivial tasks (2 steps: one tool call) started together with
  ``asyncio.gather(*(runtime.run(t) ...))``; tasks/s = K / wall. K = 1, 100, 1,000. Target
  >= 1,000 tasks/s at K = 1,000.
* Peak RSS: every measurement runs in a fresh subprocess, which reports its own
  ``ru_maxrss``, so one run does not inflate the next. Target <= 200 MB at K = 1,000.

The durable SQLite event log is on, in a fresh temporary data directory per run. Each child
runs one warm-up task before the timed part (imports, first connections, model cache).

Run: ``.venv/bin/python bench/bench_core.py [--quick] [--runs N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from rich.console import Console
from rich.table import Table

STEPS = 50
STEP_TASKS_PER_RUN = 7
STEP_TARGET_MS = 1.0
THROUGHPUT_K = 1_000
THROUGHPUT_TARGET = 1_000.0
RSS_TARGET_MB = 200.0
MODES = ("event", "call")


# --- child side: one measurement in a fresh process -----------------------------------------


def _add_chain_script(steps: int) -> list[dict[str, Any]]:
    """N agent steps: N-1 ``add`` calls (each adds 1 to the previous result), then the answer."""
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 0, "b": 1}}]}
    ]
    for _ in range(steps - 2):
        script.append(
            {"tool_calls": [{"name": "add", "arguments": {"a": "{last_tool_output}", "b": 1}}]}
        )
    script.append({"content": "total={last_tool_output}"})
    return script


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _GcClock:
    """Wall time spent in the cyclic garbage collector while installed (informational)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


async def _child(kind: str, mode: str, steps: int, k: int) -> dict[str, Any]:
    if os.environ.get("AWORLD_BENCH_DEFAULT_GC") != "1":
        # Configure the process as `aworld serve` does (see aworld_server.server.tune_gc).
        from aworld_server.server import tune_gc

        tune_gc()
    from aworld_client import (
        AgentSpec,
        ExecutionMode,
        ModelConfig,
        Payload,
        Swarm,
        Task,
        TaskConfig,
        TaskStatus,
    )
    from aworld_client.handlers import tool
    from aworld_server import Runtime
    from aworld_server.storage import SqliteEventStore

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    execution_mode = ExecutionMode.CALL_DRIVEN if mode == "call" else ExecutionMode.EVENT_DRIVEN

    def make_task(n_steps: int) -> Task:
        script = _add_chain_script(n_steps)
        model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
        agent = AgentSpec(name="solver", tool_names=["add"], model=model)
        return Task(
            input=Payload.from_text("go"),
            swarm=Swarm(agents=[agent]),
            conf=TaskConfig(execution_mode=execution_mode),
        )

    with tempfile.TemporaryDirectory(prefix="aworld-bench-") as data_dir:
        runtime = Runtime(data_dir=data_dir)
        runtime.registry.add_tool(add)
        async with runtime:
            store = runtime.store
            assert isinstance(store, SqliteEventStore)
            warm = await runtime.run(make_task(2))
            assert warm.status == TaskStatus.SUCCEEDED, warm
            before = (store.stats.events, store.stats.commits, store.stats.syncs)
            gc_clock = _GcClock()
            gc.callbacks.append(gc_clock)
            cpu_started = time.process_time()
            walls: list[float] = []
            responses = []
            if kind == "steps":
                # One task at a time; the median of a few tasks steadies a ~50 ms measurement.
                for _ in range(STEP_TASKS_PER_RUN):
                    task = make_task(steps)
                    started = time.perf_counter()
                    responses.append(await runtime.run(task))
                    walls.append(time.perf_counter() - started)
            else:
                tasks = [make_task(2) for _ in range(k)]
                started = time.perf_counter()
                responses = await asyncio.gather(*(runtime.run(t) for t in tasks))
                walls.append(time.perf_counter() - started)
            cpu = time.process_time() - cpu_started
            gc.callbacks.remove(gc_clock)
            after = (store.stats.events, store.stats.commits, store.stats.syncs)
    n = len(responses)
    ok = sum(r.status == TaskStatus.SUCCEEDED for r in responses)
    if ok != n:
        raise SystemExit(f"{n - ok} of {n} tasks did not succeed")
    if kind == "steps" and any(r.usage.steps != steps for r in responses):
        raise SystemExit(f"expected {steps} steps, ran {[r.usage.steps for r in responses]}")
    return {
        "kind": kind,
        "mode": mode,
        "steps": steps if kind == "steps" else 2,
        "tasks": k if kind == "throughput" else 1,
        "wall_s": statistics.median(walls),
        "walls_s": walls,
        "events_per_task": (after[0] - before[0]) / n,
        "commits_per_task": (after[1] - before[1]) / n,
        "syncs_per_task": (after[2] - before[2]) / n,
        "peak_rss_mb": _rss_mb(),
        # Over all timed tasks of the run: process CPU (both threads) and GC, per wall second.
        "cpu_per_wall": cpu / sum(walls),
        "gc_per_wall": gc_clock.seconds / sum(walls),
    }


# --- parent side: orchestration and the table ------------------------------------------------


def _spawn(kind: str, mode: str, steps: int, k: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--mode", mode]
    command += ["--steps", str(steps), "--k", str(k)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _machine() -> dict[str, Any]:
    versions = {}
    for dist in ("grpcio", "protobuf", "pydantic", "aworld-client", "aworld-server"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    import sqlite3

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "versions": versions,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _verdict(met: bool, miss: str) -> str:
    return "[green]met[/green]" if met else f"[red]missed[/red] ({miss})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 run each, K up to 100")
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement (5)")
    parser.add_argument("--json", metavar="PATH", help="write the raw numbers here")
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's GC thresholds instead of the server's",
    )
    parser.add_argument("--child", choices=("steps", "throughput"), help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, default="event", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, args.mode, args.steps, args.k))))
        return

    if args.default_gc:
        os.environ["AWORLD_BENCH_DEFAULT_GC"] = "1"  # inherited by the measuring children
    runs = args.runs or (1 if args.quick else 5)
    ks = (1, 100) if args.quick else (1, 100, 1_000)
    # Piped output (make bench, CI logs) gets a width that fits the table on one line per row.
    console = Console() if sys.stdout.isatty() else Console(width=150)
    machine = _machine()
    plan: list[tuple[str, str, int, int]] = [("steps", m, STEPS, 1) for m in MODES]
    plan += [("throughput", m, 2, k) for k in ks for m in MODES]
    raw: dict[str, list[dict[str, Any]]] = {}
    for kind, mode, steps, k in plan:
        label = f"{kind}:{mode}:" + (f"{steps}steps" if kind == "steps" else f"K={k}")
        console.print(f"[dim]{label}: {runs} run(s) ...[/dim]")
        raw[label] = [_spawn(kind, mode, steps, k) for _ in range(runs)]

    table = Table(title=f"Runtime core, durable SQLite log on (median of {runs} run(s))")
    for column, justify in (
        ("workload", "left"),
        ("mode", "left"),
        ("wall (ms)", "right"),
        ("per step (ms)", "right"),
        ("tasks/s", "right"),
        ("peak RSS (MB)", "right"),
        ("events/task", "right"),
        ("commits/task", "right"),
        ("syncs/task", "right"),
        ("CPU/wall", "right"),
        ("GC/wall", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    summary: dict[str, dict[str, float]] = {}
    for label, results in raw.items():
        kind, mode, what = label.split(":")
        wall = _median(results, "wall_s")
        per_step = wall / STEPS * 1000 if kind == "steps" else None
        tps = results[0]["tasks"] / wall if kind == "throughput" else None
        rss = _median(results, "peak_rss_mb")
        summary[label] = {
            "wall_ms": wall * 1000,
            "per_step_ms": per_step or 0.0,
            "tasks_per_s": tps or 0.0,
            "peak_rss_mb": rss,
            "events_per_task": _median(results, "events_per_task"),
            "commits_per_task": _median(results, "commits_per_task"),
            "syncs_per_task": _median(results, "syncs_per_task"),
            "cpu_per_wall": _median(results, "cpu_per_wall"),
            "gc_per_wall": _median(results, "gc_per_wall"),
        }
        table.add_row(
            f"{STEPS}-step task" if kind == "steps" else f"trivial x {what[2:]}",
            mode,
            f"{wall * 1000:,.1f}",
            f"{per_step:.3f}" if per_step is not None else "",
            f"{tps:,.0f}" if tps is not None else "",
            f"{rss:.0f}",
            f"{summary[label]['events_per_task']:.1f}",
            f"{summary[label]['commits_per_task']:.2f}",
            f"{summary[label]['syncs_per_task']:.2f}",
            f"{summary[label]['cpu_per_wall']:.2f}",
            f"{summary[label]['gc_per_wall']:.0%}",
        )
    console.print(table)
    console.print(
        "[dim]CPU/wall: process CPU time (event loop + store writer thread) per wall second of "
        "the timed part; near 1.0 means one core's worth of work, i.e. GIL-bound. GC/wall: share "
        "of the wall time spent in the cyclic garbage collector.[/dim]"
    )

    targets = Table(title="Targets")
    for column in ("target", "mode", "measured", "verdict"):
        targets.add_column(column)
    for mode in MODES:
        step = summary[f"steps:{mode}:{STEPS}steps"]["per_step_ms"]
        targets.add_row(
            f"per-step overhead <= {STEP_TARGET_MS:g} ms",
            mode,
            f"{step:.3f} ms",
            _verdict(step <= STEP_TARGET_MS, f"by {step - STEP_TARGET_MS:.3f} ms"),
        )
    k_top = ks[-1]
    for mode in MODES:
        s = summary[f"throughput:{mode}:K={k_top}"]
        tps, rss = s["tasks_per_s"], s["peak_rss_mb"]
        note = (
            "" if k_top == THROUGHPUT_K else f" (K={k_top:,}; the target is at K={THROUGHPUT_K:,})"
        )
        targets.add_row(
            f">= {THROUGHPUT_TARGET:,.0f} tasks/s at K={THROUGHPUT_K:,}",
            mode,
            f"{tps:,.0f} tasks/s{note}",
            _verdict(tps >= THROUGHPUT_TARGET, f"by {THROUGHPUT_TARGET - tps:,.0f} tasks/s"),
        )
        targets.add_row(
            f"peak RSS <= {RSS_TARGET_MB:.0f} MB at K={THROUGHPUT_K:,}",
            mode,
            f"{rss:.0f} MB{note}",
            _verdict(rss <= RSS_TARGET_MB, f"by {rss - RSS_TARGET_MB:.0f} MB"),
        )
    console.print(targets)
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    console.print(
        f"machine: {machine['cores']} cores ({machine['cpu']}), {machine['os']}, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}; {versions}; {machine['date']}"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {"machine": machine, "runs": runs, "summary": summary, "raw": raw}, out, indent=2
            )
        console.print(f"raw numbers written to {args.json}")


if __name__ == "__main__":
    main()
