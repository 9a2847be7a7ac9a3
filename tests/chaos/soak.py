"""``make soak``: the chaos suite's faults, for as long as asked (``SOAK_SECONDS``, default
600), against one server and one worker that live through all of them.

Each round submits ``--tasks`` tasks (default 100) x 5 sequential calls of the idempotent
remote tool ``step`` and, at seeded random points of the workload, SIGKILLs the server
``--kills`` times (every fourth round: SIGTERM with a 1 s grace instead), SIGKILLs the worker
once (it is started again) and SIGSTOPs it once until the server drops it (then SIGCONT);
meanwhile 50 clients submit with 1-100 ms deadlines and give up.
Every round ends with the END-STATE CHECK against a fault-free run of the same tasks; the soak
prints each round and the totals (submitted, completed, lost, duplicates, ...) and exits 1 if
any round found a problem. ``--report FILE`` also writes the totals as JSON.

Not collected by pytest (not a ``test_*`` file); the bounded scenarios are the tests beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc
from aworld_client import Task
from aworld_client.api import runtime_service_pb2 as pb
from aworld_client.api import runtime_service_pb2_grpc as pb_grpc
from chaos_harness import (
    CHANNEL_OPTIONS,
    ChaosParams,
    EndState,
    Reference,
    ServerProcess,
    WorkerControl,
    chaos_client,
    check_end_state,
    list_all_tasks,
    make_chain_tasks,
    run_kill_scenario,
    start_worker,
    submit_retrying,
    wait_terminal,
)

IMPATIENT = 50  # submits with 1-100 ms deadlines per round, during the faults


async def impatient_burst(
    target: str, tasks: dict[str, Task], seed: int
) -> collections.Counter[str]:
    """Submit each task once with a 1-100 ms gRPC deadline, spread over 3 s (while the round's
    faults happen): how the calls ended (OK, DEADLINE_EXCEEDED, UNAVAILABLE, ...)."""
    rng = random.Random(seed)
    async with grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
        stub = pb_grpc.RuntimeServiceStub(channel)

        async def one(request_id: str, task: Task, after: float, timeout: float) -> str:
            await asyncio.sleep(after)  # the workload's shape
            request = pb.SubmitTaskRequest(request_id=request_id, task=task.to_proto())
            try:
                await stub.SubmitTask(request, timeout=timeout)
            except grpc.aio.AioRpcError as error:
                return str(error.code().name)
            return "OK"

        outcomes = await asyncio.gather(
            *(one(rid, t, rng.uniform(0, 3), rng.uniform(0.001, 0.1)) for rid, t in tasks.items())
        )
    return collections.Counter(outcomes)


async def settle_impatient(
    server: ServerProcess, tasks: dict[str, Task], expected: dict[str, object]
) -> EndState:
    """After the round: every stored impatient task ends by itself; a resubmit returns the
    stored task (or stores it now); then the END-STATE CHECK for them."""
    problems: list[str] = []
    async with chaos_client(server.address) as client:
        stored = {t.name: t.id for t in await list_all_tasks(client) if t.name in tasks}
        try:
            await wait_terminal(client, stored.values())
        except AssertionError as error:
            problems.append(f"stored impatient submits never ended: {error}")
        accepted = {}
        for request_id, task in tasks.items():
            accepted[request_id] = await submit_retrying(client, task, request_id)
            if request_id in stored and accepted[request_id] != stored[request_id]:
                problems.append(f"resubmit of {request_id} made a new task")
        end = await check_end_state(
            client, server, accepted=accepted, expected=expected, assert_ok=False
        )
    end.problems[:0] = problems
    return end


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
    deadlines = 0
    began = time.monotonic()
    print(f"soak: {seconds:.0f} s, rounds of {tasks} tasks x 5 calls, data under {root}")
    try:
        await ref_server.start()
        ref_worker = await start_worker(ref_server.address, root / "reference-record")
        reference = Reference(ref_server, ref_worker)
        await server.start()
        await worker.start()
        while rounds == 0 or time.monotonic() - began < seconds:  # at least one round
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
            impatient, _ = make_chain_tasks(
                ChaosParams(
                    tasks=IMPATIENT,
                    calls=1,
                    seed=5000 + rounds,
                    delay_ms=(0, 5),
                    prefix=f"soak{rounds}-impatient",
                )
            )
            expected = await reference.answers(round_tasks)
            impatient_expected = await reference.answers(impatient)
            if expected != analytic:
                total.problems.append(f"round {rounds}: the fault-free run itself is wrong")
            burst = asyncio.create_task(impatient_burst(server.address, impatient, rounds))
            run = await run_kill_scenario(
                server,
                worker.record,
                params,
                expected,
                round_tasks,
                worker=worker,
                assert_ok=False,
            )
            outcomes = await burst
            impatient_end = await settle_impatient(server, impatient, impatient_expected)
            deadlines += outcomes["DEADLINE_EXCEEDED"]
            print(f"round {rounds}: impatient submits {dict(outcomes)}", flush=True)
            run.end.add(impatient_end)
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
        "impatient_deadline_exceeded": deadlines,
        "problems": len(total.problems),
        "restart_p50_s": _quantile(restarts, 0.5),
        "recovery_p50_s": _quantile(recoveries, 0.5),
        "recovery_p99_s": _quantile(recoveries, 0.99),
    }
    print("soak end state: " + json.dumps(result))
    if total.problems:
        print(f"data kept under {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
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
