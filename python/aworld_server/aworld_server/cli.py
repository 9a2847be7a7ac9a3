"""The ``aworld`` command line."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(help="AWorld Runtime: run and watch agent tasks.", no_args_is_help=True)
console = Console()


@app.command()
def version() -> None:
    """Print the server and client versions."""
    import aworld_client

    import aworld_server

    console.print(
        f"aworld-server {aworld_server.__version__}, aworld-client {aworld_client.__version__}"
    )


@app.command()
def demo() -> None:
    """Run the end-to-end demo (a server, a worker and a multi-agent task)."""
    console.print(
        "[yellow]The demo needs the gRPC server, which is not built yet.[/yellow]\n"
        "What exists today: the contracts in proto/aworld/runtime/v1 and their generated code "
        "for Python, TypeScript and Go (see README.md). Nothing was run."
    )
    raise typer.Exit(code=0)
