"""The ``aworld`` command line.

Server side: ``aworld serve``, ``aworld demo``. Client side (``--target`` / ``AWORLD_TARGET``,
``--token`` / ``AWORLD_TOKEN``): ``run``, ``tasks list|get|cancel``, ``events tail|replay``,
``state``, ``trajectory``, ``workers``. One module per command or command group; shared
options, error reporting and rendering live in the private modules.
"""

from __future__ import annotations

import typer

from aworld_server.cli import events, tasks
from aworld_server.cli._common import console
from aworld_server.cli.batch import batch
from aworld_server.cli.demo import demo
from aworld_server.cli.inspect import state, trajectory, workers
from aworld_server.cli.run import run
from aworld_server.cli.serve import serve

__all__ = ["app", "main"]

app = typer.Typer(
    help="AWorld Runtime: run and watch agent tasks.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(rich_help_panel="Server")(serve)
app.command(rich_help_panel="Server")(demo)
app.command(rich_help_panel="Tasks")(run)
app.command(rich_help_panel="Tasks")(batch)
app.add_typer(tasks.app, name="tasks", rich_help_panel="Tasks")
app.add_typer(events.app, name="events", rich_help_panel="Tasks")
app.command(rich_help_panel="Tasks")(state)
app.command(rich_help_panel="Tasks")(trajectory)
app.command(rich_help_panel="Workers")(workers)


@app.command(rich_help_panel="Server")
def version() -> None:
    """Print the server and client versions."""
    import aworld_client

    import aworld_server

    console.print(
        f"aworld-server {aworld_server.__version__}, aworld-client {aworld_client.__version__}"
    )


def main() -> None:
    """Entry point for ``python -m aworld_server.cli``."""
    app(prog_name="aworld")
