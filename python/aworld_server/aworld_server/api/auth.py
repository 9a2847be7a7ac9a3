"""Bearer-token authentication with scopes, as a server interceptor.

Each token grants scopes: ``submit`` (start, cancel and answer tasks, invoke handlers),
``read`` (get, list and stream) and ``register`` (connect as a worker or an engine
worker). A call without a valid
token gets UNAUTHENTICATED; a valid token without the method's scope gets PERMISSION_DENIED.
Health checks and reflection need no token. With no tokens configured, authentication is off
(and the server only listens on loopback; see ``aworld_server.server``).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import grpc

__all__ = ["SCOPES", "BearerTokenInterceptor", "required_scope"]

SCOPES = ("submit", "read", "register")
_PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_SUBMIT_METHODS = {
    "SubmitTask", "RunTask", "CancelTask", "ProvideInput", "CompleteCallback", "InvokeHandler",
}  # fmt: skip


def required_scope(method: str) -> str | None:
    """The scope a full method name needs; None for public methods."""
    if method.startswith(_PUBLIC_PREFIXES):
        return None
    service, _, name = method.rpartition("/")
    if service.endswith(("WorkerService", "EngineService")):
        return "register"
    return "submit" if name in _SUBMIT_METHODS else "read"


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Checks ``authorization: Bearer <token>`` metadata against configured tokens."""

    def __init__(self, tokens: Mapping[str, Sequence[str]]) -> None:
        unknown = {s for scopes in tokens.values() for s in scopes} - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes {sorted(unknown)}; known: {list(SCOPES)}")
        self._tokens = {token: frozenset(scopes) for token, scopes in tokens.items()}

    def _scopes(self, metadata: Sequence[tuple[str, Any]] | None) -> frozenset[str] | None:
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str):
                scheme, _, token = value.partition(" ")
                if scheme.lower() != "bearer":
                    return None
                # Constant-time comparison, so response timing does not leak token prefixes.
                for known, scopes in self._tokens.items():
                    if hmac.compare_digest(known.encode(), token.encode()):
                        return scopes
                return None
        return None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        scope = required_scope(details.method)
        if scope is None or handler is None:
            return handler
        granted = self._scopes(details.invocation_metadata)
        if granted is None:
            return _deny(handler, grpc.StatusCode.UNAUTHENTICATED,
                         "missing or invalid bearer token")  # fmt: skip
        if scope not in granted:
            return _deny(
                handler,
                grpc.StatusCode.PERMISSION_DENIED,
                f"the token lacks the {scope!r} scope for {details.method}",
            )
        return handler


def _deny(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str
          ) -> grpc.RpcMethodHandler:  # fmt: skip
    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)
        yield  # pragma: no cover - makes this an async generator

    kwargs = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}  # fmt: skip
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming, **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(unary, **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(streaming, **kwargs)
    return grpc.unary_unary_rpc_method_handler(unary, **kwargs)
