"""Before/after: the core benchmarks (``bench_core.py``) of two revisions in one run.

Each measurement — per-step overhead in both runner modes, and K = 1,000 trivial tasks — runs
in a fresh child process of either revision, alternating between them run by run, so both see
the same machine state (other load, thermal, caches). The base revision is checked out into a
temporary git worktree; its sources come first on ``PYTHONPATH`` of its children, so the same
virtualenv serves both.

Run: ``.venv/bin/python bench/compare_revisions.py BASE [--head REV] [--runs N]`` (HEAD: the
working tree). Prints medians and after/before ratios (below 1.0 is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = [  # (label, child arguments, metric)
    ("per step, event-driven (ms)", ["--child", "steps", "--mode", "event"], "step_ms"),
    ("per step, call-driven (ms)", ["--child", "steps", "--mode", "call"], "step_ms"),
    ("K=1,000 trivial tasks (tasks/s)", ["--child", "throughput", "--k", "1000"], "tasks_per_s"),
]


def _tree(rev: str, scratch: Path) -> Path:
    path = scratch / rev.replace("/", "_")
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
        check=True,
        capture_output=True,
    )
    return path


def _child(tree: Path, arguments: list[str]) -> dict[str, Any]:
    sources = [tree / "python" / "aworld_server", tree / "python" / "aworld_client"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(s) for s in sources)}
    command = [sys.executable, str(tree / "bench" / "bench_core.py"), *arguments]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["step_ms"] = result["wall_s"] / result["steps"] * 1000
    result["tasks_per_s"] = result["tasks"] / result["wall_s"]
    # Process CPU (loop and store writer) per step or per task: steadier than wall time on a
    # machine shared with other work, which stretches the wall but not the CPU.
    walls = result["walls_s"]
    cpu = result["cpu_per_wall"] * sum(walls)
    result["cpu_ms"] = (
        cpu
        * 1000
        / (len(walls) * result["steps"] if result["kind"] == "steps" else result["tasks"])
    )
    return result


def _event_kinds(tree: Path) -> dict[str, Any]:
    """Events of one trivial task by type in both modes: this checkout's bench_events.py
    (the base may predate it) run on ``tree``'s sources."""
    sources = [tree / "python" / "aworld_server", tree / "python" / "aworld_client"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(s) for s in sources)}
    command = [sys.executable, str(ROOT / "bench" / "bench_events.py"), "--json"]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    kinds: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="the revision before (a commit, tag or branch)")
    parser.add_argument("--head", default="", help="the revision after (default: working tree)")
    parser.add_argument("--runs", type=int, default=3, help="runs per revision and measurement")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="aworld-revisions-") as scratch:
        trees = {"before": _tree(args.base, Path(scratch))}
        trees["after"] = _tree(args.head, Path(scratch)) if args.head else ROOT
        try:
            table = Table(title=f"{args.base} → {args.head or 'working tree'}, {args.runs} runs")
            for column in ("measurement", "before", "after", "after/before"):
                table.add_column(column, justify="right" if column != "measurement" else "left")
            for label, arguments, metric in MEASUREMENTS:
                values: dict[str, list[float]] = {"before": [], "after": []}
                events: dict[str, list[float]] = {"before": [], "after": []}
                cpu: dict[str, list[float]] = {"before": [], "after": []}
                for run in range(args.runs):
                    for side in ("before", "after") if run % 2 == 0 else ("after", "before"):
                        console.print(f"[dim]{label}: {side} run {run + 1}/{args.runs}[/dim]")
                        result = _child(trees[side], arguments)
                        values[side].append(result[metric])
                        events[side].append(result["events_per_task"])
                        cpu[side].append(result["cpu_ms"])
                before, after = (statistics.median(values[s]) for s in ("before", "after"))
                table.add_row(label, f"{before:.3f}", f"{after:.3f}", f"{after / before:.2f}")
                before, after = (statistics.median(cpu[s]) for s in ("before", "after"))
                unit = "step" if "step" in label else "task"
                table.add_row(
                    f"  CPU per {unit} (ms)",
                    f"{before:.3f}",
                    f"{after:.3f}",
                    f"{after / before:.2f}",
                )
                before, after = (statistics.median(events[s]) for s in ("before", "after"))
                table.add_row(
                    "  events per task", f"{before:g}", f"{after:g}", f"{after / before:.2f}"
                )
            console.print(table)
            for side, tree in trees.items():  # exact counts, by type (bench_events.py)
                console.print(f"{side}: events per trivial task by type")
                console.print_json(json.dumps(_event_kinds(tree)))
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                        check=False,
                        capture_output=True,
                    )


if __name__ == "__main__":
    main()
