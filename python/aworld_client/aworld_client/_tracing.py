"""Tracing in the SDK: a span per call a worker runs, and the gRPC client instrumentation.

Only the OpenTelemetry API is used; an application that installs an SDK (a tracer provider and
an exporter) gets the spans, one that does not pays next to nothing. The Call's
``traceparent`` header is read with the W3C propagator itself, not the global one: the protocol
fixes that format, and an application may set another propagator for its own traffic.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["call_span", "client_interceptors"]

_tracer = trace.get_tracer("aworld_client")
_w3c = TraceContextTextMapPropagator()


def _recording() -> bool:
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@contextmanager
def call_span(
    handler: str, headers: Mapping[str, str], **attributes: str | int
) -> Iterator[trace.Span]:
    """The worker's span for one call attempt, a child of the caller's ``traceparent``;
    current while the handler runs, so the handler's own spans nest under it."""
    if not _recording():
        yield trace.INVALID_SPAN
        return
    parent = _w3c.extract(dict(headers))
    clean = {f"aworld.{k}": v for k, v in attributes.items() if v not in (None, "")}
    clean["aworld.handler"] = handler
    clean["aworld.sdk"] = "python"
    with _tracer.start_as_current_span(
        "worker_call", context=parent, kind=trace.SpanKind.SERVER, attributes=clean
    ) as span:
        yield span


def client_interceptors() -> list[Any]:
    """The gRPC client instrumentation (a span per RPC, ``traceparent`` in its metadata)
    when it is installed (``aworld-client[otel]``) and something records spans; else none."""
    if not _recording():
        return []
    try:
        from opentelemetry.instrumentation.grpc import aio_client_interceptors
    except ImportError:
        return []
    return list(aio_client_interceptors())  # type: ignore[no-untyped-call]
