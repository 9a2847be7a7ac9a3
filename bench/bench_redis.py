"""Batched event appends to the Redis event store, against the SQLite store in the same run
(issue #13: target >= 50,000 events/s to Redis).

Workload: ``--tasks`` concurrent writers (tasks), each appending a TaskSubmitted and then
``--events`` MessageEmitted events (a ~100-byte text payload, a topic and a sender, as agents
emit) in awaited calls of ``--batch`` events — a runner's flushes. Concurrent calls share
script runs (Redis) and transactions (SQLite): group commit. Timed: from the first append to
the last acknowledgement, serialisation included (the stores serialise). Events are built
before the clock starts.

Redis is a real ``redis-server`` started by this script on a free port in a temporary
directory (tests/redis_harness.py), once per persistence setting: no AOF, ``appendonly yes``
with ``appendfsync everysec`` (the usual production setting) and with ``always``. SQLite is a
fresh WAL file per run. Median of ``--runs`` runs each.

Run alone (check ``uptime``): ``.venv/bin/python bench/bench_redis.py [--runs 3] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from aworld_client import (  # noqa: E402
    Event,
    Message,
    MessageEmitted,
    Payload,
    Task,
    TaskSubmitted,
)
from aworld_server.storage import EventStore, RedisEventStore, SqliteEventStore  # noqa: E402
from redis_harness import RedisServer  # noqa: E402

TEXT = "x" * 100


def workload(tasks: int, events: int, batch: int) -> list[list[list[Event]]]:
    """Per task, its append calls (lists of events) in order."""
    out = []
    for t in range(tasks):
        task_id = f"bench-{t:05}"
        calls: list[list[Event]] = [
            [Event(task_id=task_id, seq=1, body=TaskSubmitted(task=Task(id=task_id, name="b")))]
        ]
        seq = 2
        for start in range(0, events, batch):
            call = []
            for _ in range(min(batch, events - start)):
                message = Message(
                    id=f"{task_id}/{seq}",
                    topic="step",
                    sender="agent",
                    payload=Payload(text=TEXT),
                )
                call.append(Event(task_id=task_id, seq=seq, body=MessageEmitted(message=message)))
                seq += 1
            calls.append(call)
        out.append(calls)
    return out


async def timed_appends(store: EventStore, calls: list[list[list[Event]]]) -> float:
    """Seconds for every task to append all its calls, tasks concurrently."""

    async def one_task(task_calls: Sequence[Sequence[Event]]) -> None:
        for call in task_calls:
            await store.append(call)

    started = time.perf_counter()
    await asyncio.gather(*(one_task(c) for c in calls))
    return time.perf_counter() - started


async def run_redis(
    directory: Path, calls: list[list[list[Event]]], appendonly: bool, fsync: str
) -> dict[str, Any]:
    server = RedisServer(directory / "redis", appendonly=appendonly).start()
    try:
        if appendonly:
            subprocess.run(
                ["redis-cli", "-p", str(server.port), "config", "set", "appendfsync", fsync],
                check=True,
                capture_output=True,
            )
        store = RedisEventStore.from_url(server.url, epoch_file=directory / "epoch.json")
        await store.open()
        try:
            redis_cpu = await _redis_cpu(store)
            client_cpu = time.process_time()
            seconds = await timed_appends(store, calls)
            client_cpu = time.process_time() - client_cpu
            redis_cpu = await _redis_cpu(store) - redis_cpu
            commits, events = store.stats.commits, store.stats.events
            last = await store.last_seq(calls[0][0][0].task_id)
        finally:
            await store.close()
    finally:
        server.stop()
    total = sum(len(c) for task in calls for c in task)
    # Everything acknowledged is there: every event counted, the first task's log complete.
    assert events == total and last == sum(len(c) for c in calls[0]), (events, total, last)
    return {
        "seconds": seconds,
        "events": total,
        "commits": commits,
        "client_cpu": client_cpu,
        "redis_cpu": redis_cpu,
    }


async def _redis_cpu(store: RedisEventStore) -> float:
    """CPU seconds the redis-server process has used (user + system)."""
    info = await store.client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def run_sqlite(directory: Path, calls: list[list[list[Event]]]) -> dict[str, Any]:
    store = SqliteEventStore(directory / "bench.sqlite")
    await store.open()
    try:
        client_cpu = time.process_time()  # the event loop and the writer thread
        seconds = await timed_appends(store, calls)
        client_cpu = time.process_time() - client_cpu
        commits, events = store.stats.commits, store.stats.events
    finally:
        await store.close()
    return {
        "seconds": seconds,
        "events": events,
        "commits": commits,
        "client_cpu": client_cpu,
        "redis_cpu": 0.0,
    }


def redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    return out.split()[2].removeprefix("v=") if out else "?"


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, Redis {redis_version()}, "
        f"SQLite {sqlite3.sqlite_version}, redis-py {metadata.version('redis')}; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--events", type=int, default=500, help="events per task")
    parser.add_argument("--batch", type=int, default=10, help="events per append call")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(machine())
    calls = workload(args.tasks, args.events, args.batch)
    total = sum(len(c) for task in calls for c in task)
    print(f"{args.tasks} tasks x {args.events + 1} events, {args.batch} per append: {total:,}")
    settings = [
        ("redis, no AOF", lambda d: run_redis(d, calls, False, "")),
        ("redis, AOF everysec", lambda d: run_redis(d, calls, True, "everysec")),
        ("redis, AOF always", lambda d: run_redis(d, calls, True, "always")),
        ("sqlite (WAL, synchronous NORMAL)", lambda d: run_sqlite(d, calls)),
    ]
    results: dict[str, Any] = {}
    for name, run in settings:
        runs = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="aworld-bench-redis-") as directory:
                runs.append(await run(Path(directory)))
        rates = sorted(r["events"] / r["seconds"] for r in runs)
        median = statistics.median(rates)
        commits = statistics.median(r["commits"] for r in runs)
        # CPU per event does not depend on what else the machine runs, unlike events/s.
        client_us = statistics.median(1e6 * r["client_cpu"] / r["events"] for r in runs)
        redis_us = statistics.median(1e6 * r["redis_cpu"] / r["events"] for r in runs)
        results[name] = {
            "events_per_s": median,
            "runs": rates,
            "commits": commits,
            "client_cpu_us_per_event": client_us,
            "redis_cpu_us_per_event": redis_us,
        }
        print(
            f"{name:34} {median:>10,.0f} events/s (runs: "
            f"{', '.join(f'{r:,.0f}' for r in rates)}); {commits:,.0f} script runs/commits; "
            f"CPU per event: {client_us:.1f} us here, {redis_us:.1f} us in Redis"
        )
    headline = results["redis, AOF everysec"]["events_per_s"]
    verdict = "met" if headline >= 50_000 else "MISSED"
    print(f"target >= 50,000 events/s to Redis (AOF everysec): {verdict}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
