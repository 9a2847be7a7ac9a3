"""What every command shares: the consoles, the ``--target`` / ``--token`` options, turning
errors into one readable line, and small formatting helpers.

Errors a user can cause (a wrong task id, no server, a bad file) never print a traceback: they
become one red line on stderr and a non-zero exit code. Exit codes: 0 success, 1 an error or a
task that did not succeed, 2 a usage error (typer's own), 130 interrupted.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any, NoReturn, TypeVar

import grpc
import typer
from aworld_client import AsyncClient, Payload, RuntimeServiceError
from rich.console import Console
from rich.text import Text

__all__ = [
    "AGENT_STYLE",
    "DEFAULT_TARGET",
    "TOOL_STYLE",
    "CliError",
    "TargetOption",
    "TokenOption",
    "console",
    "err_console",
    "fail",
    "format_arguments",
    "format_duration",
    "format_time",
    "plural",
    "preview",
    "run_client",
    "status_text",
]

T = TypeVar("T")

DEFAULT_TARGET = "127.0.0.1:50051"

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

TargetOption = Annotated[
    str,
    typer.Option(
        "--target",
        "-t",
        envvar="AWORLD_TARGET",
        help="Server address (host:port).",
        show_default=True,
    ),
]
TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="AWORLD_TOKEN",
        help="Bearer token, when the server requires one.",
        show_default=False,
    ),
]


class CliError(Exception):
    """A mistake the user can fix (a bad file or flag, a missing server). Printed as one line."""

    def __init__(self, message: str, exit_code: int = 1, *, details: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.details = details


def fail(message: str, exit_code: int = 1, *, details: str = "") -> NoReturn:
    """Stop the command with ``message`` as the one-line error (``details``, such as the end
    of a child's log, are printed dimmed below it)."""
    raise CliError(message, exit_code, details=details)


# Phrases gRPC uses when nothing answers at the address (as opposed to a server that answered
# UNAVAILABLE itself, e.g. because it is shutting down).
_NO_CONNECTION = (
    "failed to connect",
    "connection refused",
    "dns resolution failed",
    "name resolution",
    "connection reset",
    "socket closed",
    "unreachable",
    "timeout occurred",
    "connect failed",
)


def describe_rpc_error(error: RuntimeServiceError, target: str) -> str:
    """One line that says what went wrong and, where there is one, what to do."""
    message = error.message.strip() or error.code.name
    if error.violations and not all(field in message for field, _ in error.violations):
        details = "; ".join(f"{field}: {why}" for field, why in error.violations)
        message = f"{message} ({details})"
    code = error.code
    if code == grpc.StatusCode.UNAVAILABLE and any(p in message.lower() for p in _NO_CONNECTION):
        return f"no server at {target}; start one with `aworld serve`"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"{message} — pass --token or set AWORLD_TOKEN"
    if code == grpc.StatusCode.NOT_FOUND:
        return message if "not found" in message.lower() else f"{message} not found"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return message
    return f"{code.name.lower().replace('_', ' ')}: {message}"


@contextmanager
def reported_errors(target: str = "") -> Iterator[None]:
    """Turn user-facing failures into one red line and an exit code."""
    try:
        yield
    except CliError as error:
        _print_error(str(error))
        if error.details:
            err_console.print(Text(error.details, style="dim"))
        raise typer.Exit(error.exit_code) from None
    except RuntimeServiceError as error:
        _print_error(describe_rpc_error(error, target))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/yellow]")
        raise typer.Exit(130) from None


def _print_error(message: str) -> None:
    line = Text("error: ", style="bold red")
    line.append(" ".join(message.split()), style="red")
    err_console.print(line)


def run_client(target: str, token: str, body: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Run ``body`` with a client for ``target`` on a fresh event loop, reporting errors."""

    async def main() -> T:
        # A principal of several namespaces picks one with AWORLD_NAMESPACE (see the README).
        namespace = os.environ.get("AWORLD_NAMESPACE", "")
        async with AsyncClient(target, token=token, namespace=namespace) as client:
            return await body(client)

    with reported_errors(target):
        if not target.strip():
            fail("--target is empty")
        return asyncio.run(main())


# -- formatting ---------------------------------------------------------------------------------

AGENT_STYLE = "bold cyan"
TOOL_STYLE = "bold yellow"

_STATUS_STYLES = {
    "SUCCEEDED": "bold green",
    "RUNNING": "cyan",
    "PENDING": "dim",
    "INIT": "dim",
    "INPUT_REQUIRED": "yellow",
    "FAILED": "bold red",
    "TIMED_OUT": "red",
    "CANCELLED": "magenta",
    "INTERRUPTED": "yellow",
    "BREAKED": "yellow",
}


def status_text(status: Any) -> Text:
    """A task or run-node status, coloured by outcome."""
    name = getattr(status, "name", str(status))
    return Text(name, style=_STATUS_STYLES.get(name, ""))


def plural(count: int, noun: str) -> str:
    """``1 tool call``, ``2 tool calls``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def format_time(value: datetime | None) -> str:
    """Local wall-clock time; the date too when it is not today."""
    if value is None:
        return "-"
    local = value.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(value: timedelta | float | None) -> str:
    """``850 µs``, ``12 ms``, ``3.4 s``, ``2 min 5 s``."""
    if value is None:
        return "-"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def preview(value: Any, limit: int = 120) -> str:
    """A short one-line rendering of a value or a Payload."""
    if isinstance(value, Payload):
        if value.json is not None:
            decoded = value.value()
            text = decoded if isinstance(decoded, str) else _compact_json(decoded)
        else:
            text = value.as_text()
    elif isinstance(value, str):
        text = value
    else:
        text = _compact_json(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_arguments(arguments: Any, limit: int = 100) -> str:
    """Call arguments as ``a=420, b=3``."""
    if isinstance(arguments, Payload):
        arguments = arguments.value()
    if not isinstance(arguments, dict):
        return preview(arguments, limit)
    text = ", ".join(f"{key}={_compact_json(value)}" for key, value in arguments.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compact_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        return repr(value)
