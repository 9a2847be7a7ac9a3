"""10,000 tasks waiting on callbacks at once in one process: peak RSS (target <= 200 MB).

Each task's tool answers "pending"; the task parks in INPUT_REQUIRED holding only an asyncio
future. Once all are waiting, every callback is completed and every task must succeed. The
durable SQLite event log is on. Run: ``.venv/bin/python bench/bench_callbacks.py [--tasks N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from rich.console import Console
from rich.table import Table

TARGET_MB = 200.0


async def _child(tasks: int) -> dict[str, float]:
    from aworld_client import (
        AgentSpec,
        InputRequested,
        ModelConfig,
        Payload,
        Swarm,
        Task,
        TaskStatus,
    )
    from aworld_client.handlers import Pending, tool
    from aworld_server import Runtime

    @tool
    def approve() -> Pending:
        """Wait for an approval."""
        return Pending()

    script = [
        {"tool_calls": [{"name": "approve", "arguments": {}}]},
        {"content": "approved {last_tool_output}"},
    ]
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    with tempfile.TemporaryDirectory() as data_dir:
        async with Runtime(data_dir=data_dir) as runtime:
            runtime.registry.add_tool(approve)
            waiting: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

            # Tasks arrive the way a server receives them: many at once, but not all 10,000 in
            # the same instant. The peak then reflects the waiting population, which is the
            # claim under test, rather than 10,000 simultaneous start-ups.
            gate = asyncio.Semaphore(256)

            async def run_one(n: int) -> None:
                async with gate:
                    task = Task(
                        input=Payload.from_text(f"t{n}"),
                        swarm=Swarm(
                            agents=[AgentSpec(name="a", tool_names=["approve"], model=model)]
                        ),
                    )
                    submitted = await runtime.submit(task)
                    async for event in runtime.stream(submitted.task_id):
                        if isinstance(event.body, InputRequested):
                            await waiting.put((submitted.task_id, event.body.callback_id))
                            return

            async def complete(task_id: str, callback_id: str) -> TaskStatus:
                async with gate:
                    await runtime.complete_callback(task_id, callback_id, Payload.of("ok"))
                    return (await runtime.wait(task_id)).status

            started = time.perf_counter()
            await asyncio.gather(*(run_one(n) for n in range(tasks)))
            while runtime.live_tasks:  # the last ones are still parking
                await asyncio.sleep(0.01)
            parked = time.perf_counter() - started
            rss_waiting = _current_rss_mb()
            peak_waiting = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            ids = [waiting.get_nowait() for _ in range(tasks)]
            statuses = await asyncio.gather(*(complete(t, c) for t, c in ids))
            total = time.perf_counter() - started
            ok = sum(s == TaskStatus.SUCCEEDED for s in statuses)
    return {
        "tasks": tasks,
        "succeeded": ok,
        "park_seconds": parked,
        "total_seconds": total,
        "rss_mb_all_waiting": rss_waiting,
        "peak_rss_mb_until_all_waiting": peak_waiting,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.tasks))))
        return
    console = Console()
    results = []
    for run in range(args.runs):
        console.print(f"run {run + 1}/{args.runs}: {args.tasks:,} waiting tasks ...")
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--tasks", str(args.tasks)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    table = Table(title=f"{args.tasks:,} tasks waiting on callbacks (median of {args.runs})")
    for column in ("metric", "median", "target"):
        table.add_column(column)
    peak = statistics.median(r["peak_rss_mb"] for r in results)
    table.add_row("peak RSS (MB)", f"{peak:.0f}", f"<= {TARGET_MB:.0f}")
    waiting_rss = statistics.median(r["rss_mb_all_waiting"] for r in results)
    table.add_row("RSS with all 10,000 waiting (MB)", f"{waiting_rss:.0f}", "")
    table.add_row(
        "time to park all (s)", f"{statistics.median(r['park_seconds'] for r in results):.2f}", ""
    )
    table.add_row(
        "park + resume all (s)", f"{statistics.median(r['total_seconds'] for r in results):.2f}", ""
    )
    table.add_row("succeeded", f"{min(r['succeeded'] for r in results):,}", f"{args.tasks:,}")
    console.print(table)
    console.print(
        "target met" if peak <= TARGET_MB else f"target MISSED by {peak - TARGET_MB:.0f} MB"
    )


if __name__ == "__main__":
    main()
