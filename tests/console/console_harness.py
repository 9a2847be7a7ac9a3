"""Harness for the console tests: a gate the test opens to let a task go on."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable

from aworld_server.server import RunningServer

__all__ = ["Gates", "StartServer"]

StartServer = Callable[..., Awaitable[RunningServer]]


class Gates:
    """Keys a ``gate`` call waits on until the test opens them."""

    def __init__(self) -> None:
        self._open: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def open(self, key: str) -> None:
        self._open[key].set()

    async def pass_through(self, key: str) -> None:
        await self._open[key].wait()
