"""Every error the runtime raises on purpose, in one tree.

AWorldError
├── InvalidArgument          bad input; carries field violations   -> INVALID_ARGUMENT
├── NotFound                 unknown task, session, handler, ...   -> NOT_FOUND
├── FailedPrecondition       valid request, wrong state            -> FAILED_PRECONDITION
├── AlreadyExists            request id reused with another body   -> ALREADY_EXISTS
├── ResourceExhausted        overload, queue full, too large       -> RESOURCE_EXHAUSTED
├── PermissionDenied         authenticated but not allowed         -> PERMISSION_DENIED
├── Unauthenticated          no or bad credentials                 -> UNAUTHENTICATED
├── DeadlineExceeded         ran out of time                       -> DEADLINE_EXCEEDED
├── Unavailable              shutting down; safe to retry          -> UNAVAILABLE
├── HandlerFailed            a tool, agent, hook or model call failed; ``failure`` describes it
│   │                        for the wire; retryable unless ``failure.non_retryable``
│   ├── WorkerLost               the worker disconnected or missed heartbeats mid-call;
│   │                            retryable only when the handler is idempotent
│   ├── AttemptTimedOut          the attempt passed its deadline; retryable only when idempotent
│   ├── CallCancelled            cancel_task stopped the call; never retried
│   ├── OutcomeUnknown           an earlier attempt was sent and never answered (the process
│   │                            running the task died) and the handler is not idempotent: not
│   │                            run again; never retried
│   ├── ScheduleToStartTimeout   no worker served the handler for the whole schedule-to-start
│   │                            timeout; never retried (the wait was the retry)
│   └── InvalidInput             the input fails the handler's input schema; never retried;
│                                also an InvalidArgument (-> INVALID_ARGUMENT)
├── TaskFailed               the task cannot go on (a tool failed under FAIL_TASK, a model kept
│                            failing, a hook denied a model call): it ends FAILED
└── BudgetExhausted          a budget ran out: the task ends INTERRUPTED with its best answer

Outside the tree, like ``asyncio.CancelledError``: :class:`TaskParked`, a BaseException that
takes a run waiting on callbacks out of memory (not a failure; the log holds all of it).

WorkerLost and AttemptTimedOut are *ambiguous*: the handler may have run. ``HandlerSpec``
promises that only idempotent handlers are re-run after such a failure, so their Failure is
non-retryable otherwise. The gRPC layer (``api.status``) maps the request errors to status
codes; any other error reaches a caller as INTERNAL with a fixed message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aworld_client import Failure

__all__ = [
    "AWorldError",
    "AlreadyExists",
    "AttemptTimedOut",
    "BudgetExhausted",
    "CallCancelled",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldViolation",
    "HandlerFailed",
    "InvalidArgument",
    "InvalidInput",
    "NotFound",
    "OutcomeUnknown",
    "PermissionDenied",
    "ResourceExhausted",
    "ScheduleToStartTimeout",
    "TaskFailed",
    "TaskParked",
    "Unauthenticated",
    "Unavailable",
    "WorkerLost",
]


class AWorldError(Exception):
    """Base class of every error the runtime raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: a dotted path (``task.swarm.agents[0].name``) and what is wrong."""

    field: str
    description: str


@dataclass
class InvalidArgument(AWorldError):
    """The request is malformed; ``violations`` says which fields and why."""

    message: str
    violations: list[FieldViolation] = field(default_factory=list)

    def __str__(self) -> str:
        details = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        return f"{self.message} ({details})" if details else self.message


class NotFound(AWorldError):
    """The named task, session, handler or callback does not exist."""


class FailedPrecondition(AWorldError):
    """The request is valid but the target is in the wrong state for it."""


class AlreadyExists(AWorldError):
    """An idempotency key was reused for a different request (the message names both)."""


class ResourceExhausted(AWorldError):
    """The runtime is at capacity or the input is too large."""


class PermissionDenied(AWorldError):
    """The caller is known but not allowed to do this."""


class Unauthenticated(AWorldError):
    """The caller presented no valid credentials."""


class DeadlineExceeded(AWorldError):
    """The operation ran out of time."""


class Unavailable(AWorldError):
    """The server cannot take this request now (it is shutting down); retrying is safe."""


class HandlerFailed(AWorldError):
    """A handler (tool, agent, hook, model) failed; ``failure`` describes it for the wire."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.type}: {failure.message}")
        self.failure = failure


class TaskFailed(AWorldError):
    """The task cannot go on (a tool failed under FAIL_TASK, a model kept failing, ...)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class BudgetExhausted(AWorldError):
    """A budget ran out; the task ends INTERRUPTED with its best partial answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TaskParked(BaseException):
    """The run waits on callbacks and was dropped from memory; the log holds all of it.

    A BaseException, like CancelledError, so no ``except Exception`` (retries, error
    observations) mistakes leaving memory for a failure."""

    def __init__(self, callback_ids: list[str]) -> None:
        super().__init__(f"parked on {callback_ids}")
        self.callback_ids = callback_ids


# -- how a remote call attempt can fail (raised by the dispatcher) ------------------------

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
