"""Interactive runs: an agent step happens only when the caller asks for it (``Runners.step``).

The gate holds the runner before each agent step until a permit is granted, and reports each
step's observation back. Nothing polls: both sides wait on asyncio primitives.
"""

from __future__ import annotations

import asyncio

__all__ = ["StepGate"]


class StepGate:
    """Permits for agent steps of one interactive task, and the observations they produced."""

    def __init__(self) -> None:
        self._permits = 0
        self._changed = asyncio.Condition()
        self.observations: asyncio.Queue[str] = asyncio.Queue()
        self.idle = asyncio.Event()  # set while the runner waits for a permit

    async def acquire(self) -> None:
        """Called by the runner before an agent step."""
        async with self._changed:
            self.idle.set()
            await self._changed.wait_for(lambda: self._permits > 0)
            self._permits -= 1
            self.idle.clear()

    async def grant(self) -> None:
        """Allow one more agent step."""
        async with self._changed:
            self._permits += 1
            self._changed.notify_all()

    def stepped(self, observation: str) -> None:
        """Called by the runner after an agent step."""
        self.observations.put_nowait(observation)
