"""``StreamWriter``: in-order writes to one gRPC stream without a writer task.

gRPC takes one write at a time per stream, so the usual shape is a queue drained by a writer
task: every message then costs a pass of the event loop through that task. Here the sender
starts the write itself when the stream is idle, and the write's completion is driven by a
callback on the future it waits on (what an asyncio Task would do, minus the Task). The sender
never awaits the write, so a sender cancelled right after ``send`` cannot abandon a write half
done: the write finishes on its own and the messages queued behind it follow, in order.

Both ends of ``WorkerService.Connect`` use it: the server for ``Call`` / ``CancelCall``, the
Python worker for ``CallCompleted``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["StreamWriter"]

M = TypeVar("M")


class StreamWriter(Generic[M]):
    """Writes messages through ``write`` (e.g. ``context.write`` or ``call.write``) one at a
    time, in the order given to :meth:`send`. After a write fails, the writer is broken: later
    messages are dropped, :attr:`error` says why and ``on_error`` (if given) is told once, so
    the owner ends the stream."""

    def __init__(
        self,
        write: Callable[[M], Coroutine[Any, Any, Any]],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._write = write
        self._on_error = on_error
        self._queue: deque[M] = deque()
        self._busy = False
        self._idle: asyncio.Future[None] | None = None
        self.error: BaseException | None = None

    @property
    def busy(self) -> bool:
        """A write is in flight (messages sent now wait behind it)."""
        return self._busy

    def send(self, message: M) -> None:
        """Write ``message`` after those sent before it; returns at once."""
        if self.error is not None:
            return
        if self._busy:
            self._queue.append(message)
            return
        self._start(message)

    async def drained(self) -> None:
        """Wait until every message sent so far is written (or the writer broke)."""
        if not self._busy:
            return
        if self._idle is None:
            self._idle = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._idle)

    def _start(self, message: M) -> None:
        self._busy = True
        self._step(self._write(message))

    def _step(self, coroutine: Coroutine[Any, Any, Any], _: object = None) -> None:
        # One step of the write coroutine, as asyncio.Task.__step does it: run it to its next
        # suspension, then resume it when the future it waits on is done (the future's result
        # or exception is read by the coroutine's own ``await``).
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            self._next()
            return
        except (Exception, asyncio.CancelledError) as error:  # a failed write breaks the stream
            self._broken(error)
            return
        if getattr(waiting_on, "_asyncio_future_blocking", None):
            waiting_on._asyncio_future_blocking = False
            waiting_on.add_done_callback(lambda _: self._step(coroutine))
        elif waiting_on is None:  # a bare yield (asyncio.sleep(0)): resume on the next pass
            asyncio.get_running_loop().call_soon(self._step, coroutine)
        else:
            coroutine.close()
            self._broken(RuntimeError(f"a stream write yielded {waiting_on!r}"))

    def _next(self) -> None:
        if self._queue:
            self._step(self._write(self._queue.popleft()))
            return
        self._busy = False
        self._wake_drained()

    def _broken(self, error: BaseException) -> None:
        self.error = error
        self._queue.clear()
        self._busy = False
        self._wake_drained()
        if self._on_error is not None:
            self._on_error(error)

    def _wake_drained(self) -> None:
        if self._idle is not None:
            idle, self._idle = self._idle, None
            if not idle.done():
                idle.set_result(None)
