"""Handlers of the engine tests, registered in the server and in every engine worker through
the ``engine_setup`` import path ``engine_handlers:setup`` (this directory is on PYTHONPATH).

``pid`` and ``hold_in`` let a test find and kill the process running a task: ``pid`` reports
the process, and ``hold_in(pid)`` waits (until cancelled) only in that same process, so a run
of the task resumed elsewhere passes straight through.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aworld_client.handlers import tool
from aworld_server import Context


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def pid() -> int:
    """The id of the process running this call."""
    return os.getpid()


@tool(idempotent=True)  # run again when the process running it dies: it has no effects
async def hold_in(pid: int) -> str:
    """Wait until cancelled when running in process ``pid``; elsewhere return at once."""
    if int(pid) == os.getpid():
        await asyncio.Event().wait()
    return f"resumed in {os.getpid()}"


@tool
def visit(context: Context) -> int:
    """Count the visits of the session (session state, kept across its tasks)."""
    context.session["visits"] = context.session.get("visits", 0) + 1
    return int(context.session["visits"])


@tool
def explode(message: str) -> None:
    """Raise ValueError(message)."""
    raise ValueError(message)


def setup(runtime: Any) -> None:
    runtime.registry.add_tool(add, pid, hold_in, explode, visit)
