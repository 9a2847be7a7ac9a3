"""Errors raised by the runtime. One base class; the gRPC layer maps them to status codes.

RuntimeError_ (AWorldError)
├── InvalidArgument          bad input; carries field violations   -> INVALID_ARGUMENT
├── NotFound                 unknown task, session, handler, ...   -> NOT_FOUND
├── FailedPrecondition       valid request, wrong state            -> FAILED_PRECONDITION
├── AlreadyExists            request id reused with another body   -> ALREADY_EXISTS
├── ResourceExhausted        overload, queue full, too large       -> RESOURCE_EXHAUSTED
├── PermissionDenied         authenticated but not allowed         -> PERMISSION_DENIED
├── Unauthenticated          no or bad credentials                 -> UNAUTHENTICATED
├── DeadlineExceeded         ran out of time                       -> DEADLINE_EXCEEDED
└── Unavailable              shutting down; safe to retry          -> UNAVAILABLE
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "AWorldError",
    "AlreadyExists",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
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
