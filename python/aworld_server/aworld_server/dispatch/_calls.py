"""``CallLedger``: which attempt of each call is current, so only it may complete the call.

This is the fencing rule. A worker that was presumed dead, a call that was cancelled or timed
out, or a duplicate report must not overwrite the outcome of the attempt that counts.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from aworld_client import HandlerKind, Payload

from aworld_server.dispatch._session import WorkerSession
from aworld_server.dispatch._types import Pending
from aworld_server.errors import FailedPrecondition
from aworld_server.namespaces import DEFAULT_NAMESPACE

__all__ = ["Attempt", "CallLedger"]

# Rejection reasons sent in CallRejected.
SUPERSEDED = "superseded"
UNKNOWN_CALL = "unknown_call"
CANCELLED = "cancelled"
DUPLICATE = "duplicate"


def _new_future() -> asyncio.Future[Payload | Pending]:
    return asyncio.get_running_loop().create_future()


@dataclass(eq=False, kw_only=True)
class Attempt:
    """One attempt of a call, from ``call_attempt`` entry until it returns."""

    call_id: str
    number: int
    handler: str
    kind: HandlerKind
    task_id: str
    idempotent: bool
    namespace: str = DEFAULT_NAMESPACE  # where the handler is looked up
    # Resolved by the worker's CallCompleted, or failed by the dispatcher (lost, cancelled).
    result: asyncio.Future[Payload | Pending] = field(default_factory=_new_future)
    # The worker it was pushed to; None while it waits for capacity.
    session: WorkerSession | None = None
    # Why a completion arriving now is rejected; empty while the attempt may still complete.
    late_reason: str = ""
    # The Call went out to the worker: only then can a completion of it come.
    sent: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.call_id, self.number)

    def settle(self, late_reason: str, outcome: Payload | Pending | Exception) -> None:
        """Decide the attempt's outcome once; later completions are rejected with
        ``late_reason``."""
        if self.result.done():
            return
        self.late_reason = late_reason
        if isinstance(outcome, Exception):
            self.result.set_exception(outcome)
        else:
            self.result.set_result(outcome)

    def abandon(self, late_reason: str) -> None:
        """The caller stopped waiting (deadline, cancellation): no outcome will be used."""
        if not self.result.done():
            self.late_reason = late_reason
            self.result.cancel()


class CallLedger:
    """Live attempts by call id, plus the last attempt of recently finished calls (bounded),
    so a late report can be told apart from a report about a call never made."""

    def __init__(self, history: int = 10_000) -> None:
        self._live: dict[str, Attempt] = {}
        self._finished: OrderedDict[str, Attempt] = OrderedDict()
        self._history = history

    def latest(self, call_id: str) -> Attempt | None:
        return self._live.get(call_id) or self._finished.get(call_id)

    def begin(self, attempt: Attempt) -> None:
        """Make ``attempt`` the current one of its call. Attempts of a call run one at a time,
        with increasing numbers."""
        latest = self.latest(attempt.call_id)
        if latest is not None and attempt.call_id in self._live:
            raise FailedPrecondition(f"call {attempt.call_id} still runs attempt {latest.number}")
        if latest is not None and attempt.number <= latest.number:
            raise FailedPrecondition(
                f"call {attempt.call_id} already had attempt {latest.number}; "
                f"attempt {attempt.number} is not newer"
            )
        self._finished.pop(attempt.call_id, None)
        self._live[attempt.call_id] = attempt

    def end(self, attempt: Attempt) -> None:
        """Move a finished attempt to the bounded history. One that was never sent is
        forgotten: no completion of it can come, and its number may be tried again (a call
        routed from another replica that gave up on it before it started)."""
        if self._live.get(attempt.call_id) is attempt:
            del self._live[attempt.call_id]
        if not attempt.sent:
            return
        if not attempt.late_reason:
            attempt.late_reason = CANCELLED
        self._finished[attempt.call_id] = attempt
        while len(self._finished) > self._history:
            self._finished.popitem(last=False)

    def live(self) -> Iterator[Attempt]:
        return iter(list(self._live.values()))

    def running(self, call_id: str) -> bool:
        return call_id in self._live

    def rejection(self, call_id: str, number: int, session: WorkerSession) -> str | None:
        """Why a CallCompleted for ``(call_id, number)`` from ``session`` must be rejected, or
        None when it is the current attempt's outcome."""
        latest = self.latest(call_id)
        if latest is None or number > latest.number:
            return UNKNOWN_CALL
        if number < latest.number:
            return SUPERSEDED
        if latest.session is not session:
            return UNKNOWN_CALL
        return latest.late_reason or None
