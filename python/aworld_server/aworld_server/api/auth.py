"""The gate every RPC passes, as one server interceptor: decode, authenticate, authorize the
method, check the request's shape, then run the servicer as the caller.

In order, each refusal ending the call before any servicer code runs:

1. bytes that do not decode as the request type: INVALID_ARGUMENT (gRPC would otherwise
   answer UNKNOWN naming a Python exception class);
2. credentials (``api.principals``): none, malformed, unknown or duplicated: UNAUTHENTICATED;
3. the method's scope and the request's namespace (``api.authz``): PERMISSION_DENIED;
4. field ranges (``api.limits``): INVALID_ARGUMENT with field violations.

Health checks and reflection skip 2-4. With no principals configured, 2-3 are skipped and
every call runs as the local caller (namespace ``default``, every scope). A refused call is
logged once, at WARNING, without a traceback: a scanner must not fill the log with stacks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from aworld_server.api.authz import caller_of, required_scope
from aworld_server.api.limits import check_request
from aworld_server.api.principals import LOCAL, Caller, PrincipalResolver, bind_caller
from aworld_server.api.status import abort
from aworld_server.config import Limits
from aworld_server.errors import (
    AWorldError,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)

__all__ = ["AuthInterceptor", "required_scope"]

log = logging.getLogger(__name__)


class _Undecodable:
    """Stands in for a request whose bytes did not parse, so the refusal can say so."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """See the module docstring. ``resolver`` disabled: authentication is off."""

    def __init__(self, resolver: PrincipalResolver, limits: Limits) -> None:
        self._resolver = resolver
        self._limits = limits

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        scope = required_scope(method)
        deserialize = _lenient(handler.request_deserializer)

        async def admit(request: Any, context: grpc.aio.ServicerContext) -> None:
            """Raise the refusal for this call, or bind its caller."""
            if isinstance(request, _Undecodable):
                raise InvalidArgument(
                    f"the request is not a valid {request.type_name} message",
                    [FieldViolation("request", "does not decode as protobuf (UTF-8 strings)")],
                )
            if scope is None:
                return
            bind_caller(self._caller(context, scope, method))
            if request is not None:
                check_request(request, self._limits)

        kwargs = {
            "request_deserializer": deserialize,
            "response_serializer": handler.response_serializer,
        }
        if handler.request_streaming and handler.response_streaming:
            inner_ss = handler.stream_stream

            async def stream_stream(requests: AsyncIterator[Any], context: Any) -> Any:
                if not await _admitted(admit, None, context, method):
                    return
                async for response in inner_ss(self._checked(requests), context):
                    yield response

            return grpc.stream_stream_rpc_method_handler(stream_stream, **kwargs)
        if handler.response_streaming:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: Any) -> Any:
                if not await _admitted(admit, request, context, method):
                    return
                async for response in inner_us(request, context):
                    yield response

            return grpc.unary_stream_rpc_method_handler(unary_stream, **kwargs)
        if handler.request_streaming:  # no such RPC today; refuse rather than run unchecked
            raise NotImplementedError(f"client-streaming {method} is not supported")
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: Any) -> Any:
            if not await _admitted(admit, request, context, method):
                return None
            return await inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, **kwargs)

    def _caller(self, context: grpc.aio.ServicerContext, scope: str, method: str) -> Caller:
        metadata = tuple(context.invocation_metadata() or ())
        if not self._resolver.enabled:
            return caller_of(LOCAL, metadata, authenticated=False)
        subjects = [
            s.decode("utf-8", "replace") if isinstance(s, bytes) else str(s)
            for s in (context.auth_context() or {}).get("x509_subject", ())
        ]
        principal = self._resolver.resolve(metadata, subjects)
        if not principal.has(scope):
            raise PermissionDenied(f"this caller lacks the {scope!r} scope for {method}")
        return caller_of(principal, metadata, authenticated=True)

    async def _checked(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """A client stream's messages, each decoded and range-checked like a unary request."""
        async for request in requests:
            if isinstance(request, _Undecodable):
                raise InvalidArgument(f"a message is not a valid {request.type_name}")
            check_request(request, self._limits)
            yield request


async def _admitted(
    admit: Callable[[Any, Any], Awaitable[None]], request: Any, context: Any, method: str
) -> bool:
    try:
        await admit(request, context)
    except AWorldError as error:
        if isinstance(error, Unauthenticated | PermissionDenied):
            # One line, no traceback, no credential: the reason and who asked.
            log.warning("refused %s from %s: %s", method, context.peer(), error)
        await abort(context, error)
        return False
    except Exception as error:  # a bug in a check must not become UNKNOWN with a class name
        log.exception("checking a %s request failed", method)
        await abort(context, error)
        return False
    return True


def _lenient(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    def parse(raw: bytes) -> Any:
        if deserialize is None:
            return raw
        try:
            return deserialize(raw)
        except Exception:
            owner = getattr(deserialize, "__self__", None)
            name = getattr(owner, "DESCRIPTOR", None)
            return _Undecodable(getattr(name, "full_name", "request"))

    return parse
