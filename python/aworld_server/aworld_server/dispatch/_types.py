"""What the dispatcher hands back besides a Payload: ``Pending``, and the observer events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aworld_client import Failure, HandlerKind, Payload

# The worker accepted the call; it finishes later through CompleteCallback. The same type a
# local handler returns, so the runtime treats local and remote pending calls alike.
from aworld_client.handlers import Pending

__all__ = [
    "AttemptFinished",
    "AttemptStarted",
    "ChunkReceived",
    "CompletionRejected",
    "DispatchEvent",
    "DispatchObserver",
    "OnStart",
    "Pending",
]

OnStart = Callable[[str], Awaitable[None]]
"""Awaited with the chosen worker's id just before the Call is sent (empty for in-process
handlers). The runtime records the attempt's start here, so a started attempt in the log is
one that was really sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptStarted:
    """An attempt was pushed to a worker."""

    call_id: str
    attempt: int
    handler: str
    kind: HandlerKind
    task_id: str
    worker_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptFinished:
    """A pushed attempt ended: with the worker's output, a pending callback, or a failure
    (the worker's own, or WorkerLost / AttemptTimedOut / Cancelled from the dispatcher)."""

    call_id: str
    attempt: int
    handler: str
    kind: HandlerKind
    task_id: str
    worker_id: str
    outcome: Payload | Pending | Failure


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkReceived:
    """The worker streamed a fragment of the current attempt's output."""

    call_id: str
    attempt: int
    task_id: str
    worker_id: str
    chunk: Payload


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletionRejected:
    """A CallCompleted was fenced off: reason is "superseded", "unknown_call", "cancelled" or
    "duplicate"."""

    call_id: str
    attempt: int
    worker_id: str
    reason: str


DispatchEvent = AttemptStarted | AttemptFinished | ChunkReceived | CompletionRejected

# Called synchronously on the event loop for every event; it must not block. Exceptions it
# raises are logged and otherwise ignored, so recording can never break dispatching.
DispatchObserver = Callable[[DispatchEvent], None]
