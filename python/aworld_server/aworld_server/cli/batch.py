"""``aworld batch``: run the tasks of a JSON-lines file on any engine, resumably.

    aworld batch tasks.jsonl --engine local|ray|spark --out results.jsonl [--setup mod:fn]

Each line of the input is one ``aworld.runtime.v1.Task`` in the protobuf JSON mapping (an
``input`` given as a plain string is taken as text). The command runs an embedded server in this
process — loopback, port 0, in-memory log — with the chosen engine, so Ray and Spark workers
call back to it as to any server; ``--setup`` names the function that registers tools, agents
and model providers there and in every engine worker. A rich progress bar shows what finished.

Results are appended to ``--out`` as they finish, one JSON object per line: ``task_id``,
``line``, ``status``, ``answer``, ``failure`` and ``time_cost`` (seconds). Rerunning the same
command skips every task whose id already has a result line, so an interrupted batch resumes
where it stopped. Tasks without an id get a stable one from their line (``line-N-<hash>``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from aworld_client import Failure, Task, TaskResponse, TaskStatus
from aworld_client.api import task_pb2
from google.protobuf import json_format
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["batch", "read_tasks", "finished_ids"]

console = Console(stderr=True)


@dataclass(slots=True)
class _Line:
    number: int
    task: Task | None
    error: str = ""


def read_tasks(path: Path) -> Iterator[_Line]:
    """The tasks of a JSON-lines file, lazily; blank lines are skipped, bad ones reported."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                data = json.loads(text)
                if isinstance(data, dict) and isinstance(data.get("input"), str):
                    data["input"] = {"text": data["input"]}
                task = Task.from_proto(json_format.ParseDict(data, task_pb2.Task()))
            except (ValueError, json_format.ParseError) as error:
                yield _Line(number, None, str(error))
                continue
            if not task.id:
                digest = hashlib.sha256(text.encode()).hexdigest()[:16]
                task.id = f"line-{number}-{digest}"
            yield _Line(number, task)


def finished_ids(out: Path) -> set[str]:
    """Task ids that already have a result line in ``out`` (a torn last line is ignored)."""
    if not out.exists():
        return set()
    done: set[str] = set()
    with out.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("task_id"):
                done.add(str(record["task_id"]))
    return done


def _answer(response: TaskResponse) -> Any:
    if response.answer is None:
        return None
    value = response.answer.value()
    return value if isinstance(value, str | int | float | bool | list | dict) else str(value)


def _result_line(line: int, response: TaskResponse) -> str:
    failure = response.failure
    return json.dumps(
        {
            "task_id": response.id,
            "line": line,
            "status": response.status.name,
            "answer": _answer(response),
            "failure": {"type": failure.type, "message": failure.message} if failure else None,
            "time_cost": response.time_cost.total_seconds() if response.time_cost else None,
        },
        ensure_ascii=False,
    )


@dataclass(slots=True)
class _Tally:
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: int = 0


async def _run(
    tasks_file: Path,
    out: Path,
    engine: str,
    setup: str,
    concurrency: int,
    overrides: dict[str, Any],
    config_file: Path | None,
) -> _Tally:
    from aworld_server.config import ServerConfig
    from aworld_server.engine_worker import load_setup
    from aworld_server.errors import AWorldError
    from aworld_server.server import start_server

    done = finished_ids(out)
    total = sum(1 for line in read_tasks(tasks_file) if line.task is not None)
    config = ServerConfig.load(
        config_file,
        host="127.0.0.1",
        port=0,
        store="memory",
        engine=engine,
        engine_setup=setup,
        **overrides,
    )
    server = await start_server(config, setup=load_setup(setup))
    tally = _Tally()
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[summary]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with out.open("a", encoding="utf-8") as sink, Progress(*columns, console=console) as bar:
            progress = bar.add_task(f"{engine}", total=total, summary="")

            def summary() -> str:
                return (
                    f"[green]{tally.succeeded} ok[/] [red]{tally.failed} failed[/]"
                    f" [dim]{tally.skipped} skipped[/]"
                )

            async def one(line: int, task: Task, sink: TextIO) -> None:
                try:
                    response = await server.runtime.run(task)
                except AWorldError as error:
                    response = TaskResponse(
                        id=task.id,
                        status=TaskStatus.FAILED,
                        status_reason=type(error).__name__,
                        failure=Failure.from_exception(error, non_retryable=True),
                    )
                finally:
                    slots.release()
                sink.write(_result_line(line, response) + "\n")
                sink.flush()  # appended as it finishes: a rerun resumes after it
                if response.status == TaskStatus.SUCCEEDED:
                    tally.succeeded += 1
                else:
                    tally.failed += 1
                bar.update(progress, advance=1, summary=summary())

            for entry in read_tasks(tasks_file):
                if entry.task is None:
                    tally.invalid += 1
                    console.print(f"[red]line {entry.number}: not a Task: {entry.error}[/]")
                    continue
                if entry.task.id in done:
                    tally.skipped += 1
                    bar.update(progress, advance=1, summary=summary())
                    continue
                done.add(entry.task.id)  # a repeated id in the file runs once
                await slots.acquire()
                job = asyncio.create_task(one(entry.number, entry.task, sink))
                running.add(job)
                job.add_done_callback(running.discard)
            if running:
                await asyncio.gather(*running)
    finally:
        for job in running:
            job.cancel()
        await server.stop(0)
    return tally


def batch(
    tasks_file: Annotated[
        Path, typer.Argument(help="JSON lines: one protobuf-JSON Task per line.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Results (JSON lines), appended; tasks already in it are skipped."
        ),
    ],
    engine: Annotated[
        str, typer.Option("--engine", "-e", help="local, ray, spark or another engine plugin.")
    ] = "local",
    setup: Annotated[
        str,
        typer.Option(
            help="'module:function' that registers tools, agents and providers "
            "(here and in engine workers)."
        ),
    ] = "",
    concurrency: Annotated[int, typer.Option(min=1, help="Tasks in flight at once.")] = 256,
    ray_address: Annotated[
        str, typer.Option(envvar="AWORLD_RAY_ADDRESS", help="Ray cluster; empty starts one.")
    ] = "",
    spark_master: Annotated[
        str, typer.Option(envvar="AWORLD_SPARK_MASTER", help="Spark master URL.")
    ] = "local[2]",
    config: Annotated[
        Path | None, typer.Option(help="Server config (TOML) for the rest, e.g. engine_options.")
    ] = None,
) -> None:
    """Run a file of tasks on an engine; resumable (finished tasks are skipped on a rerun)."""
    if not tasks_file.is_file():
        console.print(f"[red]{tasks_file} is not a file[/]")
        raise typer.Exit(2)
    overrides = {"ray_address": ray_address, "spark_master": spark_master}
    tally = asyncio.run(_run(tasks_file, out, engine, setup, concurrency, overrides, config))
    console.print(
        f"{tally.succeeded} succeeded, {tally.failed} failed, {tally.skipped} skipped "
        f"(already in {out})" + (f", {tally.invalid} invalid lines" if tally.invalid else "")
    )
    if tally.invalid:
        raise typer.Exit(1)
