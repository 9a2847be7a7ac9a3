"""Recovery after SIGKILL, and a short soak's end state (issue #10, the chaos suite).

* **Recovery**: ``aworld serve`` (SQLite under a fresh temporary directory, one port kept
  across restarts) runs tasks of 10 sequential calls of the remote idempotent tool ``step``
  (chaos worker process, 20-120 ms per call) while it is SIGKILLed at seeded random points of
  the workload and restarted on the same port and data dir; the worker reconnects by itself.
  Per kill: **restart** = SIGKILL -> the restarted server's ready file; **recovery** = ready
  file -> the first event appended after the restart to a task unfinished at the kill (the
  event's own timestamp, server clock, same machine); negative when the server resumed tasks
  before it wrote its ready file. Every run ends with the chaos suite's END-STATE CHECK
  against a fault-free run (nothing lost, answers right, ...). p50/p99 over all kills.
* **Soak**: ``tests/chaos/soak.py`` for ``--soak-seconds`` (rounds of 100 tasks x 5 calls, 5
  server SIGKILLs (every fourth round SIGTERM, 1 s grace), a worker SIGKILL and a worker
  SIGSTOP past the heartbeat timeout per round): submitted, completed, lost, duplicates.

Run alone (check ``uptime``): ``.venv/bin/python bench/bench_recovery.py [--runs 3]
[--kills 8] [--soak-seconds 120] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "chaos"))

from chaos_harness import (  # noqa: E402
    ChaosParams,
    EndState,
    Reference,
    ServerProcess,
    make_chain_tasks,
    run_kill_scenario,
    start_worker,
)
from soak import soak  # noqa: E402


def quantile(values: list[float], q: float) -> float:
    values = sorted(v for v in values if not math.isnan(v))
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


async def recovery(runs: int, kills: int, tasks: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="aworld-bench-recovery-"))
    restarts: list[float] = []
    recoveries: list[float] = []
    total = EndState()
    ref_server = ServerProcess(root / "reference", "--shutdown-grace", "1")
    ref_worker = None
    try:
        await ref_server.start()
        ref_worker = await start_worker(ref_server.address, root / "reference-record")
        reference = Reference(ref_server, ref_worker)
        for run in range(runs):
            params = ChaosParams(
                tasks=tasks, calls=10, kills=kills, seed=9000 + run, prefix=f"bench{run}"
            )
            round_tasks, _ = make_chain_tasks(params)
            expected = await reference.answers(round_tasks)
            server = ServerProcess(root / f"server-{run}", "--shutdown-grace", "1")
            worker = None
            try:
                await server.start()
                worker = await start_worker(server.address, root / f"record-{run}")
                result = await run_kill_scenario(
                    server,
                    root / f"record-{run}",
                    params,
                    expected,
                    round_tasks,
                    assert_ok=False,
                )
            finally:
                if worker is not None:
                    await worker.kill()
                await server.close()
            restarts += result.restarts
            recoveries += result.recoveries
            total.add(result.end)
    finally:
        if ref_worker is not None:
            await ref_worker.kill()
        await ref_server.close()
    if not total.problems:
        shutil.rmtree(root, ignore_errors=True)  # kept for a look when something was wrong
    measured = [r for r in recoveries if not math.isnan(r)]
    return {
        "kills": len(restarts),
        "recoveries_measured": len(measured),
        "restart_p50_s": quantile(restarts, 0.5),
        "restart_p99_s": quantile(restarts, 0.99),
        "recovery_p50_s": quantile(measured, 0.5),
        "recovery_p99_s": quantile(measured, 0.99),
        "kill_to_first_event_p50_s": quantile(
            [a + b for a, b in zip(restarts, recoveries, strict=True) if not math.isnan(b)], 0.5
        ),
        "kill_to_first_event_p99_s": quantile(
            [a + b for a, b in zip(restarts, recoveries, strict=True) if not math.isnan(b)], 0.99
        ),
        "end_state": total.summary(),
        "problems": total.problems[:20],
    }


def machine() -> dict[str, Any]:
    cpu = ""
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": metadata.version("grpcio"),
        "load_average": os.getloadavg(),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kills", type=int, default=8, help="SIGKILLs per run")
    parser.add_argument("--tasks", type=int, default=30, help="tasks per run (10 calls each)")
    parser.add_argument("--soak-seconds", type=float, default=120)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine()}
    began = time.monotonic()
    results["recovery"] = await recovery(args.runs, args.kills, args.tasks)
    results["recovery"]["seconds"] = round(time.monotonic() - began, 1)
    print(json.dumps(results["recovery"], indent=2), flush=True)
    if args.soak_seconds > 0:
        report = Path(tempfile.mkdtemp(prefix="aworld-bench-soak-")) / "soak.json"
        code = await soak(args.soak_seconds, 100, 5, report)
        results["soak"] = {**json.loads(report.read_text()), "exit_code": code}
        shutil.rmtree(report.parent, ignore_errors=True)
    results["machine"]["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
