"""Pending callbacks: tasks waiting for a long-running call or a human to answer.

A waiting task holds an asyncio future here and nothing else — no thread, no worker slot — so
thousands can wait at once. Completing a callback claims it first, so two concurrent
completions cannot both deliver a value.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aworld_client import Failure

from aworld_server.errors import FailedPrecondition, NotFound

__all__ = ["CallbackRegistry"]

Outcome = tuple[Any, Failure | None]


@dataclass(eq=False, slots=True)
class _Waiting:
    task_id: str
    # None for a parked task: nothing in memory waits, the answer resumes it from its log.
    future: asyncio.Future[Outcome] | None = None
    claimed: bool = False


class CallbackRegistry:
    """Callback ids awaited by tasks in this process."""

    def __init__(self) -> None:
        self._waiting: dict[str, _Waiting] = {}

    def expect(self, task_id: str, callback_id: str) -> asyncio.Future[Outcome]:
        """Register a callback the task will wait for; returns the future to await."""
        if callback_id in self._waiting:
            raise FailedPrecondition(f"callback {callback_id} is already pending")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[callback_id] = _Waiting(task_id, future)
        return future

    def park(self, task_id: str, callback_id: str) -> None:
        """Register a callback of a task that is not in memory (parked)."""
        self._waiting[callback_id] = _Waiting(task_id)

    def try_park(self, callback_id: str) -> bool:
        """Turn a waiting callback into a parked one, unless its answer is already arriving
        (claimed) or arrived (resolved); then the caller keeps waiting on its future."""
        waiting = self._waiting.get(callback_id)
        if waiting is None or waiting.future is None:
            return False
        if waiting.claimed or waiting.future.done():
            return False
        waiting.future.cancel()
        waiting.future = None
        return True

    def parked(self, task_id: str) -> bool:
        return any(w.task_id == task_id and w.future is None for w in self._waiting.values())

    def forget(self, callback_id: str) -> None:
        self._waiting.pop(callback_id, None)

    def pending(self, task_id: str) -> list[str]:
        return [cid for cid, w in self._waiting.items() if w.task_id == task_id]

    def claim(self, task_id: str, callback_id: str) -> bool:
        """Reserve the right to complete a callback; NotFound or FailedPrecondition if not.
        Returns True when the waiting task is parked (it must be resumed)."""
        waiting = self._waiting.get(callback_id)
        if waiting is None or waiting.task_id != task_id:
            raise NotFound(f"task {task_id} has no pending callback {callback_id}")
        if waiting.claimed:
            raise FailedPrecondition(f"callback {callback_id} is already being completed")
        waiting.claimed = True
        return waiting.future is None

    def release(self, callback_id: str) -> None:
        """Undo a claim whose completion could not be recorded."""
        waiting = self._waiting.get(callback_id)
        if waiting is not None:
            waiting.claimed = False

    def resolve(self, callback_id: str, value: Any, failure: Failure | None) -> None:
        waiting = self._waiting.get(callback_id)
        if waiting is not None and waiting.future is not None and not waiting.future.done():
            waiting.future.set_result((value, failure))
