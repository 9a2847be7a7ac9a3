"""``aworld tasks list|get|cancel``: the tasks a server knows."""

from __future__ import annotations

from typing import Annotated

import typer
from aworld_client import AsyncClient, TaskStatus
from aworld_client.runtime_service import GetTaskResponse, ListTasksResponse
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from aworld_server.cli._common import (
    DEFAULT_TARGET,
    TargetOption,
    TokenOption,
    console,
    fail,
    format_duration,
    format_time,
    plural,
    reported_errors,
    run_client,
    status_text,
)
from aworld_server.cli._views import answer_panel

__all__ = ["app"]

app = typer.Typer(help="List, inspect and cancel tasks.", no_args_is_help=True)

TaskId = Annotated[str, typer.Argument(help="The task id.", show_default=False, metavar="TASK_ID")]


@app.command("list")
def list_tasks(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", "-s", help="Only tasks in this status (repeatable).", show_default=False
        ),
    ] = None,
    session: Annotated[str, typer.Option(help="Only tasks of this session.")] = "",
    user: Annotated[str, typer.Option(help="Only tasks of this user.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Tasks per page.")] = 20,
    page_token: Annotated[str, typer.Option(help="Continue after a previous page.")] = "",
    target: TargetOption = DEFAULT_TARGET,
    token: TokenOption = "",
) -> None:
    """The newest tasks, as a table."""
    with reported_errors(target):
        statuses = [_status(name) for name in status or []]

    async def body(client: AsyncClient) -> ListTasksResponse:
        return await client.list_tasks(
            session_id=session,
            user_id=user,
            statuses=statuses,
            page_size=limit,
            page_token=page_token,
        )

    page = run_client(target, token, body)
    if not page.tasks:
        console.print("no tasks" + (" match" if statuses or session or user else " yet"))
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "NAME", "STATUS", "SESSION", "CREATED", "UPDATED"):
        table.add_column(column, no_wrap=column != "NAME")
    for task in page.tasks:
        table.add_row(
            task.id,
            task.name or "-",
            status_text(task.status),
            task.session_id,
            format_time(task.created_at),
            format_time(task.updated_at),
        )
    console.print(table)
    if page.next_page_token:
        console.print(Text(f"more: --page-token {page.next_page_token}", style="dim"))


@app.command("get")
def get_task(
    task_id: TaskId, target: TargetOption = DEFAULT_TARGET, token: TokenOption = ""
) -> None:
    """A task's status, agents, usage and answer."""

    async def body(client: AsyncClient) -> GetTaskResponse:
        return await client.get(task_id)

    console.print(task_details(task_id, run_client(target, token, body)))


@app.command("cancel")
def cancel_task(
    task_id: TaskId,
    reason: Annotated[str, typer.Option(help="Why; recorded with the cancellation.")] = "",
    target: TargetOption = DEFAULT_TARGET,
    token: TokenOption = "",
) -> None:
    """Cancel a running task (a finished one keeps its status)."""

    async def body(client: AsyncClient) -> TaskStatus:
        return await client.cancel(task_id, reason=reason)

    status = run_client(target, token, body)
    console.print(Text(f"task {task_id} ") + status_text(status))


def task_details(task_id: str, view: GetTaskResponse) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    task, response = view.task, view.response
    grid.add_row("id", task_id)
    if task is not None and task.name:
        grid.add_row("name", task.name)
    if response is not None:
        grid.add_row("status", status_text(response.status))
    if task is not None:
        grid.add_row("session", task.session_id or "-")
        if task.input is not None:
            grid.add_row("input", Text(task.input.as_text()))
        if task.swarm is not None and task.swarm.agents:
            topology = task.swarm.topology.name.lower()
            agents = ", ".join(a.name for a in task.swarm.agents)
            grid.add_row(
                "agents", f"{agents} ({topology})" if topology != "unspecified" else agents
            )
    grid.add_row("created", format_time(view.created_at))
    grid.add_row("updated", format_time(view.updated_at))
    parts: list[RenderableType] = [grid]
    if response is not None:
        if response.time_cost is not None:
            grid.add_row("took", format_duration(response.time_cost))
        usage = response.usage
        if usage is not None:
            grid.add_row(
                "usage",
                f"{plural(usage.steps, 'agent step')} · {plural(usage.tool_calls, 'tool call')} · "
                f"{plural(usage.llm_calls, 'model call')} · {plural(usage.total_tokens, 'token')}",
            )
        if response.status_reason:
            grid.add_row("reason", response.status_reason)
        if response.status.is_terminal:
            parts.append(answer_panel(response))
    return Group(*parts)


def _status(name: str) -> TaskStatus:
    try:
        return TaskStatus[name.strip().upper()]
    except KeyError:
        known = ", ".join(s.name for s in TaskStatus if s != TaskStatus.UNSPECIFIED)
        fail(f"unknown status {name!r}; one of {known}")
