"""How a remote call attempt can fail. Each error carries a :class:`Failure` for the wire.

    HandlerFailed (aworld_server.retry)   the worker reported a failure; retryable unless the
    │                                     worker set non_retryable
    ├── WorkerLost                        the worker disconnected or missed heartbeats mid-call;
    │                                     retryable only when the handler is idempotent
    ├── AttemptTimedOut                   the attempt passed its deadline; retryable only when
    │                                     the handler is idempotent
    ├── CallCancelled                     cancel_task stopped the call; never retried
    ├── OutcomeUnknown                    an earlier attempt was sent and never answered (the
    │                                     process running the task died) and the handler is
    │                                     not idempotent: not run again; never retried
    ├── ScheduleToStartTimeout            no worker served the handler for the whole
    │                                     schedule-to-start timeout; never retried (the wait
    │                                     was the retry)
    └── InvalidInput                      the input fails the handler's input schema; never
                                          retried; also an errors.InvalidArgument

A call to a handler no worker serves *now* waits for one (a worker may be reconnecting, or the
server just restarted) up to the schedule-to-start timeout, as Temporal's activities do.

WorkerLost and AttemptTimedOut are *ambiguous*: the handler may have run. ``HandlerSpec``
promises that only idempotent handlers are re-run after such a failure, so their Failure is
non-retryable otherwise.
"""

from __future__ import annotations

from aworld_client import Failure

from aworld_server.errors import FieldViolation, InvalidArgument
from aworld_server.retry import HandlerFailed

__all__ = [
    "AttemptTimedOut",
    "CallCancelled",
    "InvalidInput",
    "OutcomeUnknown",
    "ScheduleToStartTimeout",
    "WorkerLost",
]

_SOURCE = "dispatcher"


class WorkerLost(HandlerFailed):
    """The worker running the attempt disconnected or stopped sending heartbeats."""

    def __init__(self, worker_id: str, reason: str, *, idempotent: bool) -> None:
        self.worker_id = worker_id
        super().__init__(
            Failure(
                type="WorkerLost",
                message=f"worker {worker_id} lost: {reason}",
                non_retryable=not idempotent,
                source=_SOURCE,
            )
        )


class AttemptTimedOut(HandlerFailed):
    """The attempt did not finish before its deadline; the worker was told to cancel it."""

    def __init__(self, handler: str, seconds: float, *, idempotent: bool) -> None:
        super().__init__(
            Failure(
                type="AttemptTimedOut",
                message=f"{handler} did not finish within {seconds:g}s",
                non_retryable=not idempotent,
                source=_SOURCE,
            )
        )


class OutcomeUnknown(HandlerFailed):
    """The last attempt may have run; the handler is not idempotent, so it is not run again."""

    def __init__(self, handler: str, source: str = _SOURCE) -> None:
        super().__init__(
            Failure(
                type="OutcomeUnknown",
                message=f"an attempt of {handler} was running when the runtime stopped and its "
                "outcome is unknown; the handler is not idempotent, so it is not run again",
                non_retryable=True,
                source=source,
            )
        )


class ScheduleToStartTimeout(HandlerFailed):
    """No connected worker served the handler within the schedule-to-start timeout."""

    def __init__(self, handler: str, seconds: float) -> None:
        super().__init__(
            Failure(
                type="ScheduleToStartTimeout",
                message=f"no worker served {handler} within {seconds:g}s",
                non_retryable=True,
                source=_SOURCE,
            )
        )


class CallCancelled(HandlerFailed):
    """The call's task was cancelled; the worker was told to stop."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            Failure(type="Cancelled", message=reason, non_retryable=True, source=_SOURCE)
        )


class InvalidInput(HandlerFailed, InvalidArgument):
    """The input does not match the handler's input schema; it never reached a worker.

    Both a HandlerFailed (so retries stop and the failure can be recorded) and an
    InvalidArgument (so the gRPC layer answers INVALID_ARGUMENT with the field violations).
    """

    def __init__(self, handler: str, violations: list[FieldViolation]) -> None:
        self.message = f"invalid input for handler {handler!r}"
        self.violations = violations
        self.failure = Failure(
            type="InvalidHandlerInput", message=str(self), non_retryable=True, source=_SOURCE
        )
        Exception.__init__(self, str(self))

    def __str__(self) -> str:
        return InvalidArgument.__str__(self)

    # InvalidArgument is a dataclass, which makes instances unhashable; exceptions should hash.
    __hash__ = Exception.__hash__
