"""``aworld state``, ``aworld trajectory`` and ``aworld workers``: looking inside a server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from aworld_client import AsyncClient, TrajectoryItem, WorkerInfo
from aworld_client.runtime_service import GetTaskStateResponse
from rich.table import Table
from rich.text import Text

from aworld_server.cli._common import (
    DEFAULT_TARGET,
    TargetOption,
    TokenOption,
    console,
    err_console,
    fail,
    format_time,
    plural,
    reported_errors,
    run_client,
)
from aworld_server.cli._views import state_tree
from aworld_server.trajectory import write_jsonl

__all__ = ["export_trajectory", "state", "trajectory", "workers"]

TaskId = Annotated[str, typer.Argument(help="The task id.", show_default=False, metavar="TASK_ID")]


def state(task_id: TaskId, target: TargetOption = DEFAULT_TARGET, token: TokenOption = "") -> None:
    """The task's run-node tree: agent steps and the tool calls each one made."""

    async def body(client: AsyncClient) -> GetTaskStateResponse:
        return await client.state(task_id)

    console.print(state_tree(task_id, run_client(target, token, body)))


def trajectory(
    task_id: TaskId,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the JSONL here instead of to stdout.", show_default=False
        ),
    ] = None,
    target: TargetOption = DEFAULT_TARGET,
    token: TokenOption = "",
) -> None:
    """Export the task's trajectory as JSONL: one state-action-reward line per agent step."""

    async def body(client: AsyncClient) -> list[TrajectoryItem]:
        return await client.trajectory(task_id)

    items = run_client(target, token, body)
    if output is None:
        write_jsonl(items, sys.stdout)
        sys.stdout.flush()
        return
    with reported_errors(target):
        count = export_trajectory(items, output)
    err_console.print(f"wrote {plural(count, 'agent step')} to {output}", markup=False)


def export_trajectory(items: list[TrajectoryItem], path: Path) -> int:
    """Write ``items`` as JSONL to ``path`` (parents created); the number of lines."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            return write_jsonl(items, out)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")


def workers(
    handler: Annotated[str, typer.Option(help="Only workers serving this handler.")] = "",
    target: TargetOption = DEFAULT_TARGET,
    token: TokenOption = "",
) -> None:
    """The workers connected to the server and the handlers they serve."""

    async def body(client: AsyncClient) -> list[WorkerInfo]:
        return await client.workers(handler)

    found = run_client(target, token, body)
    if not found:
        message = f"no connected worker serves {handler}" if handler else "no workers connected"
        console.print(message, markup=False)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("WORKER", "SDK", "HANDLERS", "IN FLIGHT", "CONNECTED", "LAST SEEN", "LABELS"):
        table.add_column(column, no_wrap=column in ("WORKER", "SDK"))
    for worker in found:
        labels = " ".join(f"{k}={v}" for k, v in sorted(worker.labels.items()))
        table.add_row(
            worker.worker_id,
            worker.sdk,
            Text(", ".join(sorted(worker.handler_names)), style="yellow"),
            f"{worker.in_flight}/{worker.max_concurrency}",
            format_time(worker.connected_at),
            format_time(worker.last_seen_at),
            Text(labels, style="dim"),
        )
    console.print(table)
