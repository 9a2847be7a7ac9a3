"""Engine benchmarks (DESIGN.md §9 "trivial task"): 1,000 trivial tasks on each engine, compared
in the same run with the raw engine doing the same trivial work.

* A trivial task is 2 agent steps: a scripted model call that asks for ``add(1, 2)``, the tool
  call, and the answer. It is submitted to the server's runtime with ``Task.engine`` set; the
  K tasks are started together and the wall time runs until every response is in (for Ray and
  Spark, every event of every task has been appended to the control plane's durable SQLite log
  over gRPC by then).
* The raw engine does the same trivial work without AWorld: K ``ray.remote`` calls of ``add``
  (``ray.get`` of all refs), and ``sc.parallelize(range(K), 2).map(add).collect()``.
* Ray and Spark are started once (local Ray with 2 CPUs and 2 warm actors, Spark ``local[2]``
  with reused Python workers); every figure is the median of ``--runs`` runs after a warm-up.

Target: engine wall time <= 2x the raw engine's. Run:
``.venv/bin/python bench/bench_engines.py [--quick] [--runs N] [--tasks K] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET_VS_LOCAL = 1.5  # issue #16: 1,000 trivial tasks <= 1.5x the local engine's wall time


def add(a: int, b: int) -> int:
    return a + b


def setup(runtime: Any) -> None:
    """Handlers of the control plane and of every engine worker (``bench_engines:setup``)."""
    from aworld_client.handlers import tool

    runtime.registry.add_tool(tool(add))


def _trivial_task(engine: str) -> Any:
    from aworld_client import AgentSpec, ModelConfig, Payload, Swarm, Task

    script = [
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
        {"content": "{last_tool_output}"},
    ]
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="solver", tool_names=["add"], model=model)
    return Task(
        input=Payload.from_text("add"),
        swarm=Swarm(agents=[agent]),
        engine="" if engine == "local" else engine,
    )


async def _engine_wall(runtime: Any, engine: str, k: int) -> float:
    from aworld_client import TaskStatus

    tasks = [_trivial_task(engine) for _ in range(k)]
    started = time.perf_counter()
    responses = await asyncio.gather(*(runtime.run(task) for task in tasks))
    wall = time.perf_counter() - started
    bad = [r for r in responses if r.status != TaskStatus.SUCCEEDED]
    if bad:
        raise RuntimeError(f"{len(bad)} of {k} tasks on {engine} did not succeed: {bad[0]}")
    return wall


def _raw_ray_wall(k: int) -> float:
    import ray

    remote_add = ray.remote(add)
    ray.get([remote_add.remote(i, 1) for i in range(10)])  # warm
    started = time.perf_counter()
    ray.get([remote_add.remote(i, 1) for i in range(k)])
    return time.perf_counter() - started


def _raw_spark_wall(k: int) -> float:
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    assert sc is not None
    sc.parallelize(range(10), 2).map(lambda i: add(i, 1)).collect()  # warm
    started = time.perf_counter()
    sc.parallelize(range(k), 2).map(lambda i: add(i, 1)).collect()
    return time.perf_counter() - started


async def _measure(k: int, runs: int, data_dir: Path) -> dict[str, dict[str, list[float]]]:
    from aworld_server.config import ServerConfig
    from aworld_server.server import start_server

    config = ServerConfig.load(
        port=0,
        data_dir=data_dir,
        engines=["ray", "spark"],
        engine_setup="bench_engines:setup",
        engine_options={"ray": {"num_cpus": 2, "worker_num": 2}},
    )
    server = await start_server(config, setup=setup)
    raw = {"ray": _raw_ray_wall, "spark": _raw_spark_wall}
    walls: dict[str, dict[str, list[float]]] = {}
    try:
        for engine in ("local", "ray", "spark"):
            await _engine_wall(server.runtime, engine, min(k, 100))  # warm the workers
            walls[engine] = {"engine": [], "raw": []}
            for _ in range(runs):
                walls[engine]["engine"].append(await _engine_wall(server.runtime, engine, k))
                if engine in raw:
                    walls[engine]["raw"].append(await asyncio.to_thread(raw[engine], k))
    finally:
        await server.stop(5)
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 run of 200 tasks")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    runs, k = (1, 200) if args.quick else (args.runs, args.tasks)

    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p
    )  # engine workers import this module for its handlers
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    sys.path.insert(0, str(HERE))
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory() as data_dir:
        walls = asyncio.run(_measure(k, runs, Path(data_dir)))

    table = Table(title=f"{k:,} trivial tasks per engine (median of {runs})")
    columns = ("engine", "wall (s)", "tasks/s", "raw engine (s)", "engine / raw", "engine / local")
    for column in (*columns, f"target <= {TARGET_VS_LOCAL}x local"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    report: dict[str, Any] = {"tasks": k, "runs": runs, "engines": {}}
    local = statistics.median(walls["local"]["engine"]) if "local" in walls else None
    for engine, measured in walls.items():
        wall = statistics.median(measured["engine"])
        raw = statistics.median(measured["raw"]) if measured["raw"] else None
        ratio = wall / raw if raw else None
        vs_local = wall / local if local and engine != "local" else None
        verdict = "" if vs_local is None else ("met" if vs_local <= TARGET_VS_LOCAL else "missed")
        table.add_row(
            engine,
            f"{wall:.2f}",
            f"{k / wall:,.0f}",
            f"{raw:.3f}" if raw else "-",
            f"{ratio:.1f}x" if ratio else "-",
            f"{vs_local:.2f}x" if vs_local else "-",
            verdict,
        )
        report["engines"][engine] = {
            "wall": measured["engine"],
            "raw": measured["raw"],
            "median_wall": wall,
            "median_raw": raw,
            "ratio": ratio,
            "vs_local": vs_local,
        }
    console = Console()
    console.print(table)
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("ray", "pyspark", "grpcio"))
    console.print(f"{os.cpu_count()} cores, Python {platform.python_version()}; {versions}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
