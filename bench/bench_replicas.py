"""Replicas on one Redis (issue #13): failover time, and trivial-task throughput with 1 vs 2
replicas.

``.venv/bin/python bench/bench_replicas.py [--lease-ttl 3] [--rounds 5] [--per-round 5]
[--tasks 400] [--concurrency 64] [--skip-throughput] [--json PATH]``

Everything runs here: a ``redis-server`` on a free port (no persistence), and replica processes
(``tests/replicas/replica_server.py``: ``aworld_server.server.serve``, what ``aworld serve
--store redis --bus redis`` runs, with the tests' local tools).

* **Failover**: per round, a fresh replica (the victim) is started beside a survivor; the round's
  tasks are submitted to the victim and run until their second tool call, which waits on a gate;
  the victim is SIGKILLed. Failover time of a task = the time of the first event the survivor
  writes to its log (``Event.time``, set when the event is made) minus the time of the kill.
  Rounds kill at different points of the victim's renewal period. Target: p99 ≤ 2 x lease TTL.
* **Throughput**: ``--tasks`` trivial tasks (a scripted agent that answers at once), submitted
  ``--concurrency`` at a time, spread round-robin over the replicas; each is followed to its end
  on the replica it was submitted to. Tasks/s with 1 replica and with 2. Target: ≥ 1.7x.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "replicas"))

import redis  # noqa: E402
from aworld_client import (  # noqa: E402
    AgentSpec,
    AsyncClient,
    ModelConfig,
    Payload,
    Swarm,
    Task,
)
from redis_harness import RedisServer  # noqa: E402
from replica_harness import Record, Replica, chain_task, final, read_log  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def wait_for(condition: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition never held")
        await asyncio.sleep(0.01)  # polling a condition under a deadline


async def failover(
    root: Path, redis_url: str, ttl: float, rounds: int, per_round: int
) -> list[float]:
    prefix = f"bench-replicas:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(redis_url)
    record = Record(client, f"{prefix}t:", root / "gate")  # never opened: the tasks wait
    survivor = Replica(root / "survivor", redis_url, prefix, ttl)
    await survivor.start()
    on_survivor = AsyncClient(survivor.address)
    delays: list[float] = []
    try:
        for round_ in range(rounds):
            victim = Replica(root / f"victim-{round_}", redis_url, prefix, ttl)
            await victim.start()
            on_victim = AsyncClient(victim.address)
            try:
                names = [f"r{round_}-{i}" for i in range(per_round)]
                ids = {}
                for i, name in enumerate(names):
                    ids[name] = await on_victim.submit(chain_task(name, seed=i))

                def waiting(names: list[str] = names) -> bool:
                    return all(record.entries(n, 2, "start") for n in names)

                await wait_for(waiting)
                # Kill at a different point of the renewal period each round.
                await asyncio.sleep((round_ % 3) * ttl / 9)  # the kill's phase, by design
                last = {n: (await read_log(on_survivor, ids[n]))[-1].seq for n in names}
                killed_at = time.time()
                await victim.kill()
                for name in names:
                    async for event in on_survivor.events(ids[name], after_seq=last[name]):
                        assert event.time is not None
                        delays.append(event.time.timestamp() - killed_at)
                        break
            finally:
                await on_victim.close()
                await victim.kill()
        return delays
    finally:
        await on_survivor.close()
        await survivor.kill()
        client.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def trivial_task(i: int) -> Task:
    script = [{"content": f"done {i}"}]
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="solver", model=model)
    return Task(input=Payload.from_text("hi"), swarm=Swarm(agents=[agent]))


async def throughput(
    root: Path,
    redis: RedisServer,
    ttl: float,
    replicas: int,
    tasks: int,
    concurrency: int,
    bus: str,
) -> dict[str, float]:
    """Tasks/s, and the CPU share (CPU seconds per wall second) of each replica, of Redis and
    of this process (the clients) over the timed part."""
    redis_url = redis.url
    prefix = f"bench-replicas:{uuid.uuid4().hex[:8]}:"
    started = [
        Replica(root / f"tp{replicas}-{bus}-{i}", redis_url, prefix, ttl, "--bus", bus)
        for i in range(replicas)
    ]
    for replica in started:
        await replica.start()
    clients = [AsyncClient(r.address) for r in started]
    try:
        for client in clients:  # warm-up: one task each
            await final(client, await client.submit(trivial_task(-1)))
        turn = itertools.cycle(clients)
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int, client: AsyncClient) -> None:
            async with gate:
                await final(client, await client.submit(trivial_task(i)))

        pids = {f"replica {i}": r.pid for i, r in enumerate(started)}
        pids |= {"redis": redis.pid, "client": os.getpid()}
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        begin = time.perf_counter()
        await asyncio.gather(*(one(i, next(turn)) for i in range(tasks)))
        wall = time.perf_counter() - begin
        out = {f"cpu {name}": (cpu_seconds(pid) - cpu[name]) / wall for name, pid in pids.items()}
        return {"tasks/s": tasks / wall, **out}
    finally:
        for client in clients:
            await client.close()
        for replica in started:
            await replica.kill()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lease-ttl", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-failover", action="store_true")
    parser.add_argument("--bus", choices=["redis", "memory"], default="redis")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start"
    )
    out: dict[str, Any] = {"lease_ttl": args.lease_ttl}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = RedisServer(root / "redis").start()
        try:
            if not args.skip_failover:
                delays = await failover(
                    root, server.url, args.lease_ttl, args.rounds, args.per_round
                )
                p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
                out["failover"] = {"tasks": len(delays), "p50": p50, "p99": p99, "max": max(delays)}
                verdict = "met" if p99 <= 2 * args.lease_ttl else "missed"
                print(
                    f"failover over {len(delays)} tasks (lease TTL {args.lease_ttl:g}s): "
                    f"p50 {p50:.2f}s, p99 {p99:.2f}s, max {max(delays):.2f}s "
                    f"= {p99 / args.lease_ttl:.2f}x TTL at p99 (target <= 2x: {verdict})"
                )
            if not args.skip_throughput:
                runs = [
                    await throughput(
                        root, server, args.lease_ttl, n, args.tasks, args.concurrency, args.bus
                    )
                    for n in (1, 2)
                ]
                one, two = runs[0]["tasks/s"], runs[1]["tasks/s"]
                out["throughput"] = {"bus": args.bus, "one": runs[0], "two": runs[1]}
                print(
                    f"trivial tasks (bus {args.bus}): 1 replica {one:.0f}/s, 2 replicas "
                    f"{two:.0f}/s = {two / one:.2f}x (target >= 1.7x)"
                )
                for n, run in zip((1, 2), runs, strict=True):
                    shares = ", ".join(
                        f"{k.removeprefix('cpu ')} {v:.2f}"
                        for k, v in run.items()
                        if k != "tasks/s"
                    )
                    print(f"  CPU share with {n} replica(s): {shares}")
        finally:
            server.stop()
    out["load_average_end"] = os.getloadavg()[0]
    print(f"load average {out['load_average_end']:.2f} at end")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
