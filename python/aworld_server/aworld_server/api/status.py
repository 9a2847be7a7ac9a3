"""Errors to gRPC status codes, in one place.

Every servicer method runs inside :func:`grpc_errors`, which turns the runtime's exceptions into
the right status code with a readable message and, for INVALID_ARGUMENT, the field violations as
``google.rpc.BadRequest`` details that any gRPC client can decode.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from aworld_client._convert import ProtoModel
from aworld_client.handlers import InvalidHandlerInput
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from aworld_server.errors import (
    AlreadyExists,
    AWorldError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

__all__ = ["abort", "grpc_errors", "grpc_stream_errors", "status_of", "wire"]

log = logging.getLogger(__name__)

_CODES: list[tuple[type[BaseException], grpc.StatusCode]] = [
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidHandlerInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
]


def status_of(error: BaseException) -> status_pb2.Status:
    """The google.rpc.Status for an error (INTERNAL for anything unexpected)."""
    code = next((c for cls, c in _CODES if isinstance(error, cls)), grpc.StatusCode.INTERNAL)
    # An unexpected error's text may quote anything (a path, a body): the log keeps it, the
    # caller gets a fixed message.
    internal = code == grpc.StatusCode.INTERNAL
    message = "internal error; see the server log" if internal else str(error)
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    violations: list[tuple[str, str]] = []
    if isinstance(error, InvalidArgument):
        violations = [(v.field, v.description) for v in error.violations]
    elif isinstance(error, InvalidHandlerInput):
        violations = [
            (".".join(str(p) for p in e.get("loc", ())) or "input", str(e.get("msg", "")))
            for e in error.errors
        ]
    if violations:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in violations
                ]
            )
        )
        status.details.append(detail)
    return status


async def abort(context: grpc.aio.ServicerContext, error: BaseException) -> None:
    """Abort the RPC with the status of ``error``."""
    await context.abort_with_status(rpc_status.to_status(status_of(error)))


T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
M = TypeVar("M", bound=Message)


def wire(model: ProtoModel, message_type: type[M]) -> M:
    """A domain value as the generated message a servicer method returns (checked, typed)."""
    message = model.to_proto()
    if not isinstance(message, message_type):
        raise TypeError(f"{type(model).__name__} is not a {message_type.__name__}")
    return message


def grpc_errors(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Decorate a unary servicer method: runtime errors become status codes."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> T:
        try:
            return await method(self, request, context)
        except (AWorldError, InvalidHandlerInput) as error:
            await abort(context, error)
            raise AssertionError("unreachable") from error
        except Exception as error:
            if isinstance(error, grpc.aio.AbortError):
                raise
            log.exception("unexpected error in %s", method.__name__)
            await abort(context, error)
            raise AssertionError("unreachable") from error

    return wrapper


def grpc_stream_errors(
    method: Callable[..., AsyncIterator[T]],
) -> Callable[..., AsyncIterator[T]]:
    """Decorate a server-streaming servicer method the same way."""

    @functools.wraps(method)
    async def wrapper(
        self: Any, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[T]:
        try:
            async for item in method(self, request, context):
                yield item
        except (AWorldError, InvalidHandlerInput) as error:
            await abort(context, error)
        except Exception as error:
            if isinstance(error, grpc.aio.AbortError):
                raise
            log.exception("unexpected error in %s", method.__name__)
            await abort(context, error)

    return wrapper
