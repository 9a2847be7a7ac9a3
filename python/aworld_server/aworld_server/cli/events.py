"""``aworld events tail|replay``: a task's event log, followed live or as stored."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from aworld_client import AsyncClient
from google.protobuf.json_format import MessageToDict

from aworld_server.cli._common import (
    DEFAULT_TARGET,
    TargetOption,
    TokenOption,
    console,
    run_client,
)
from aworld_server.cli._render import EventPrinter, served_tools, watch

__all__ = ["app"]

app = typer.Typer(
    help="A task's events: follow them live or replay the stored log.", no_args_is_help=True
)

TaskId = Annotated[str, typer.Argument(help="The task id.", show_default=False, metavar="TASK_ID")]
AfterSeq = Annotated[
    int, typer.Option("--after-seq", min=0, help="Start after this seq (0: from the first).")
]
AsJson = Annotated[
    bool, typer.Option("--json", help="One JSON object per line (protobuf JSON mapping).")
]
Verbose = Annotated[
    bool,
    typer.Option("--all", "-a", help="Every event, including messages and lifecycle phases."),
]


@app.command()
def tail(
    task_id: TaskId,
    after_seq: AfterSeq = 0,
    as_json: AsJson = False,
    verbose: Verbose = False,
    target: TargetOption = DEFAULT_TARGET,
    token: TokenOption = "",
) -> None:
    """Stored events, then live ones until the task ends (Ctrl-C stops following)."""
    _stream(task_id, after_seq, as_json, verbose, target, token, follow=True)


@app.command()
def replay(
    task_id: TaskId,
    after_seq: AfterSeq = 0,
    as_json: AsJson = False,
    verbose: Verbose = False,
    target: TargetOption = DEFAULT_TARGET,
    token: TokenOption = "",
) -> None:
    """The stored events only, then return (the task may still be running)."""
    _stream(task_id, after_seq, as_json, verbose, target, token, follow=False)


def _stream(
    task_id: str,
    after_seq: int,
    as_json: bool,
    verbose: bool,
    target: str,
    token: str,
    *,
    follow: bool,
) -> None:
    async def body(client: AsyncClient) -> int:
        view = await client.get(task_id)  # NOT_FOUND before anything is printed
        if as_json:
            count = 0
            async for event in client.events(task_id, after_seq=after_seq, follow=follow):
                line = MessageToDict(event.to_proto(), preserving_proto_field_name=True)
                print(json.dumps(line, ensure_ascii=False), flush=True)
                count += 1
            return count
        printer = EventPrinter(
            show_seq=True, verbose=verbose, tool_workers=await served_tools(client)
        )
        printer.learn_task(view.task)
        await watch(client.events(task_id, after_seq=after_seq, follow=follow), printer, console)
        return printer.steps

    run_client(target, token, body)
