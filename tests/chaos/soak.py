"""``make soak``: the chaos suite's faults, for as long as asked (``SOAK_SECONDS``, default
600), against one server and one worker that live through all of them.

Each round submits ``--tasks`` tasks (default 100) x 5 sequential calls of the idempotent
remote tool ``step`` and, at seeded random points of the workload, SIGKILLs the server
``--kills`` times (every fourth round: SIGTERM with a 1 s grace instead), SIGKILLs the worker
once (it is started again) and SIGSTOPs it once until the server drops it (then SIGCONT).
Every round ends with the END-STATE CHECK against a fault-free run of the same tasks; the soak
prints each round and the totals (submitted, completed, lost, duplicates, ...) and exits 1 if
any round found a problem. ``--report FILE`` also writes the totals as JSON.

Not collected by pytest (not a ``test_*`` file); the bounded scenarios are the tests beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chaos_harness import (
    ChaosParams,
    EndState,
    Reference,
    ServerProcess,
    WorkerControl,
    make_chain_tasks,
    run_kill_scenario,
    start_worker,
)


async def soak(seconds: float, tasks: int, kills: int, report: Path | None) -> int:
    root = Path(tempfile.mkdtemp(prefix="aworld-soak-"))
    env = {"AWORLD_HEARTBEAT_INTERVAL": "0.5", "AWORLD_HEARTBEAT_TIMEOUT": "2"}
    server = ServerProcess(root / "server", "--shutdown-grace", "1", env=env)
    ref_server = ServerProcess(root / "reference", "--shutdown-grace", "1")
    worker = WorkerControl(server.address, root / "record")
    ref_worker = None
    total = EndState()
    recoveries: list[float] = []
    restarts: list[float] = []
    rounds = 0
    began = time.monotonic()
    print(f"soak: {seconds:.0f} s, rounds of {tasks} tasks x 5 calls, data under {root}")
    try:
        await ref_server.start()
        ref_worker = await start_worker(ref_server.address, root / "reference-record")
        reference = Reference(ref_server, ref_worker)
        await server.start()
        await worker.start()
        while time.monotonic() - began < seconds:
            rounds += 1
            params = ChaosParams(
                tasks=tasks,
                calls=5,
                kills=kills,
                worker_kills=1,
                worker_stops=1,
                seed=1000 + rounds,
                fault="term" if rounds % 4 == 0 else "kill",
                prefix=f"soak{rounds}",
            )
            round_tasks, analytic = make_chain_tasks(params)
            expected = await reference.answers(round_tasks)
            if expected != analytic:
                total.problems.append(f"round {rounds}: the fault-free run itself is wrong")
            run = await run_kill_scenario(
                server, worker.record, params, expected, round_tasks, worker=worker,
                assert_ok=False,
            )  # fmt: skip
            total.add(run.end)
            recoveries += [r for r in run.recoveries if not math.isnan(r)]
            restarts += run.restarts
            status = "ok" if not run.end.problems else f"{len(run.end.problems)} PROBLEM(S)"
            print(
                f"round {rounds} ({params.fault}, {time.monotonic() - began:.0f} s): "
                f"{run.end.summary()} -> {status}",
                flush=True,
            )
            for problem in run.end.problems[:10]:
                print(f"    {problem}", flush=True)
    finally:
        await worker.close()
        if ref_worker is not None:
            await ref_worker.kill()
        await server.close()
        await ref_server.close()
    elapsed = time.monotonic() - began
    result = {
        "seconds": round(elapsed, 1),
        "rounds": rounds,
        "server_starts": server.starts,
        "submitted": total.submitted,
        "completed": total.completed,
        "lost": total.lost,
        "wrong_answers": total.wrong_answers,
        "duplicates": total.duplicates,
        "executions": total.executions,
        "re_executions": total.re_executions,
        "in_flight_at_kills": total.in_flight_at_kills,
        "tracebacks": total.tracebacks,
        "problems": len(total.problems),
        "restart_p50_s": _quantile(restarts, 0.5),
        "recovery_p50_s": _quantile(recoveries, 0.5),
        "recovery_p99_s": _quantile(recoveries, 0.99),
    }
    print("soak end state: " + json.dumps(result))
    if report is not None:
        report.write_text(json.dumps({**result, "first_problems": total.problems[:20]}, indent=2))
    return 1 if total.problems else 0


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 600)))
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    sys.exit(asyncio.run(soak(args.seconds, args.tasks, args.kills, args.report)))


if __name__ == "__main__":
    main()
