"""``aworld batch``: a JSON-lines file of tasks on each engine, results appended as they finish,
and a rerun skips what already finished (resumable)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import typer
from aworld_client import Task
from aworld_server.cli.batch import batch
from aworld_server.server import RunningServer
from engine_harness import ENGINES, chain_task
from google.protobuf.json_format import MessageToDict
from typer.testing import CliRunner

app = typer.Typer()
app.command()(batch)
app.command("noop")(lambda: None)  # two commands: typer keeps `batch` as a subcommand


def _line(task: Task) -> str:
    return json.dumps(MessageToDict(task.to_proto()))


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["batch", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("engine", ENGINES)
async def test_batch_runs_every_task_and_resumes(
    server: RunningServer, tmp_path: Path, engine: str
) -> None:
    """``server`` only makes sure Ray and Spark are up once for the session: the command runs
    its own embedded server, which joins them."""
    tasks = tmp_path / "tasks.jsonl"
    out = tmp_path / "results.jsonl"
    chains = [chain_task("local", steps=2 + i % 3) for i in range(6)]
    chains[0].id = "first"
    tasks.write_text("\n".join(_line(t) for t in chains[:4]) + "\n\n")
    args = (str(tasks), "--out", str(out), "--engine", engine, "--setup", "engine_handlers:setup")

    code, output = await asyncio.to_thread(_invoke, *args)
    assert code == 0, output
    first = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["line"] for r in first) == [1, 2, 3, 4]
    assert all(r["status"] == "SUCCEEDED" for r in first), first
    assert {r["task_id"]: r["answer"] for r in first}["first"] == "total=1"
    assert "4 succeeded, 0 failed, 0 skipped" in output

    # Two more tasks; a rerun only runs those (the first four already have results).
    tasks.write_text("\n".join(_line(t) for t in chains) + "\n")
    code, output = await asyncio.to_thread(_invoke, *args)
    assert code == 0, output
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(results) == 6
    assert len({r["task_id"] for r in results}) == 6
    assert "2 succeeded, 0 failed, 4 skipped" in output


async def test_batch_reports_invalid_lines(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"input": "x", "noSuchField": 1}\n' + _line(chain_task("local")) + "\n")
    out = tmp_path / "results.jsonl"
    code, output = await asyncio.to_thread(
        _invoke, str(tasks), "--out", str(out), "--setup", "engine_handlers:setup"
    )
    assert code == 1
    assert "line 1: not a Task" in output
    assert [json.loads(line)["line"] for line in out.read_text().splitlines()] == [2]
