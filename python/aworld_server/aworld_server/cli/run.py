"""``aworld run``: submit a task and watch it live until its answer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import grpc
import typer
from aworld_client import (
    AsyncClient,
    HandlerKind,
    Payload,
    RuntimeServiceError,
    Task,
    TaskResponse,
)
from rich.text import Text

from aworld_server.cli._common import (
    DEFAULT_TARGET,
    CliError,
    TargetOption,
    TokenOption,
    console,
    err_console,
    fail,
    reported_errors,
    run_client,
)
from aworld_server.cli._render import EventPrinter, served_tools, watch
from aworld_server.cli._taskfile import load_task, quick_task
from aworld_server.cli._views import answer_panel

__all__ = ["run"]


def run(
    task_file: Annotated[
        Path | None,
        typer.Argument(
            help="Task file: the JSON/YAML mapping of aworld.runtime.v1.Task.",
            show_default=False,
            metavar="TASK_FILE",
        ),
    ] = None,
    input: Annotated[
        str, typer.Option("--input", "-i", help="The task input (overrides the file's).")
    ] = "",
    script: Annotated[
        Path | None,
        typer.Option(
            help="Scripted-model steps (JSON/YAML list) for a one-agent task.", show_default=False
        ),
    ] = None,
    model: Annotated[
        str, typer.Option(help="OpenAI-compatible model name for a one-agent task.")
    ] = "",
    tool: Annotated[
        list[str] | None,
        typer.Option(help="A tool the agent may call (repeatable).", metavar="NAME"),
    ] = None,
    agent: Annotated[str, typer.Option(help="Agent name for a one-agent task.")] = "assistant",
    system_prompt: Annotated[str, typer.Option(help="System prompt for a one-agent task.")] = "",
    name: Annotated[str, typer.Option(help="Task name.")] = "",
    session: Annotated[str, typer.Option(help="Session id to run the task in.")] = "",
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Submit, print the task id and return.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the answer.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show messages and lifecycle events.")
    ] = False,
    target: TargetOption = DEFAULT_TARGET,
    token: TokenOption = "",
) -> None:
    """Submit a task and stream it: agent steps and tool calls live, then the answer.

    The task comes from TASK_FILE, or from flags: --input with --script (scripted model) or
    --model (OpenAI-compatible). Exits 1 when the task does not succeed.
    """
    with reported_errors(target):
        task = _build_task(task_file, input, script, model, tool or [], agent, system_prompt)
        if name:
            task.name = name
        if session:
            task.session_id = session
    printer = EventPrinter(verbose=verbose)
    printer.learn_task(task)

    async def submit(client: AsyncClient) -> str:
        return await client.submit(task)

    async def follow(client: AsyncClient) -> TaskResponse | None:
        printer.tool_workers = await served_tools(client)
        await _warn_about_unserved_tools(client, task)
        if quiet:
            return await client.run_to_completion(task)
        return await watch(client.run(task), printer, console)

    if detach:
        console.print(run_client(target, token, submit))
        return
    try:
        response = run_client(target, token, follow)
    except typer.Exit as stop:
        if stop.exit_code == 130 and printer.task_id:
            err_console.print(
                f"stopped watching; task {printer.task_id} keeps running "
                f"(`aworld tasks cancel {printer.task_id}` stops it)"
            )
        raise
    finish(response, quiet=quiet)


def finish(response: TaskResponse | None, *, quiet: bool = False) -> None:
    """Print the answer; exit 1 unless the task succeeded."""
    with reported_errors():
        if response is None:
            fail("the event stream ended before the task finished")
        if quiet:
            if response.answer is not None:
                console.print(response.answer.as_text(), markup=False, soft_wrap=True)
        else:
            console.print(answer_panel(response))
        if not response.success:
            why = response.failure.message if response.failure else response.status_reason
            raise CliError(
                f"task {response.id} {response.status.name}" + (f": {why}" if why else "")
            )


def _build_task(
    task_file: Path | None,
    input: str,
    script: Path | None,
    model: str,
    tools: list[str],
    agent: str,
    system_prompt: str,
) -> Task:
    if task_file is not None:
        if script is not None or model or tools:
            fail(
                "--script, --model and --tool build a task from flags; "
                "with a task file, put them in the file"
            )
        task = load_task(task_file)
        if input:
            task.input = Payload.from_text(input)
        return task
    if not input:
        fail("give a task file, or --input with --script or --model (see `aworld run --help`)")
    return quick_task(
        input=input,
        script=script,
        model=model,
        tools=tools,
        agent=agent,
        system_prompt=system_prompt,
    )


async def _warn_about_unserved_tools(client: AsyncClient, task: Task) -> None:
    """Say up front when a tool the task names is neither local nor served by a worker: the
    agent would only see ToolNotFound errors."""
    wanted = set(task.tool_names)
    for agent in task.swarm.agents if task.swarm is not None else []:
        wanted.update(agent.tool_names)
    if not wanted:
        return
    try:
        handlers = await client.handlers(HandlerKind.TOOL)
    except RuntimeServiceError as error:
        if error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED):
            raise
        return  # not allowed to look: the run will tell
    served = {h.spec.name for h in handlers if h.spec and (h.local or h.worker_count)}
    missing = sorted(wanted - served)
    if missing:
        warning = (
            f"warning: nothing serves {', '.join(missing)} yet; start a worker that does "
            "(e.g. python examples/demo_worker.py --target ADDRESS)"
        )
        err_console.print(Text(warning, style="yellow"))
