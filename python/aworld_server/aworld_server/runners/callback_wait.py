"""Waiting for a callback (human input, a tool's Pending answer) without holding a thread,
and parking: a run whose only work is such a wait leaves memory until the answer arrives."""

from __future__ import annotations

from typing import Any

from aworld_client import Failure, InputRequested, Payload, TaskStatus

from aworld_server.errors import HandlerFailed, TaskParked
from aworld_server.ids import new_id
from aworld_server.runners.run_state import RunState

__all__ = ["CallbackWaits"]


class CallbackWaits:
    """The callbacks one run waits on. The task is INPUT_REQUIRED while any is pending."""

    def __init__(self, run: RunState) -> None:
        self._run = run
        self._waiting = 0

    async def wait(
        self,
        kind: str,
        prompt: Any,
        node_id: str,
        callback_id: str = "",
        *,
        announce: bool = True,
        parkable: bool = True,
    ) -> Any:
        """Wait until the callback is completed; return its value. A completion that carries a
        failure raises it (non-retryable: the answer was given, not lost). ``parkable=False``:
        hold the run in memory (a wait a replay could not rebuild at this point)."""
        run = self._run
        callbacks = run.ctx.callbacks
        callback_id = callback_id or new_id()
        answered = run.recorded_answers.pop(callback_id, None)
        if answered is not None:  # resumed after the answer arrived: it is in the log already
            await run.log.set_status(TaskStatus.RUNNING, "input_provided")
            return _answer(*answered)
        waiting = callbacks.expect(run.task_id, callback_id)
        self._waiting += 1
        if announce:
            # The request names its node: a node started deferred is recorded before it.
            run.ctx.state.record(node_id)
            if self._waiting == 1:  # the status is recorded before the request clients see
                await run.log.set_status(TaskStatus.INPUT_REQUIRED, kind)
            await run.log.emit(
                InputRequested(
                    callback_id=callback_id,
                    prompt=Payload.of(prompt) if prompt is not None else None,
                    kind=kind,
                    node_id=node_id,
                )
            )
        if (
            run.ctx.parkable
            and parkable
            and self._waiting == 1
            and run.tools_in_flight <= 1
            and callbacks.try_park(callback_id)
        ):
            # Nothing else runs and the answer has not arrived: drop the whole run from
            # memory until it does. No await from here on, so no answer can slip in between.
            run.snapshot()
            raise TaskParked([callback_id])
        try:
            value, failure = await waiting
        finally:
            callbacks.forget(callback_id)
            self._waiting -= 1
        if self._waiting == 0:
            await run.log.set_status(TaskStatus.RUNNING, "input_provided")
        return _answer(value, failure)


def _answer(value: Any, failure: Failure | None) -> Any:
    if failure is not None:
        failure.non_retryable = True  # the answer was given, not lost: never ask again
        raise HandlerFailed(failure)
    return value
