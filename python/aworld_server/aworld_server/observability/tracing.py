"""Spans for task, agent step, model call, tool call and hook, joined into one trace.

The runtime only uses the OpenTelemetry *API*: with no SDK configured every span is a cheap
no-op, and an application (or ``aworld serve`` with an exporter configured through the standard
``OTEL_*`` variables) decides where spans go. The trace context travels as the W3C
``traceparent`` header: a client puts it in ``Task.headers`` (or gRPC metadata), the task span
continues that trace, and each remote call carries the calling span's context in its Call
headers, so a TypeScript or Go tool's span joins the Python task's trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import context, propagate, trace

__all__ = ["inject_headers", "span", "trace_id_of", "within"]

_tracer = trace.get_tracer("aworld_server")


@contextmanager
def span(
    name: str,
    *,
    headers: Mapping[str, str] | None = None,
    parent: trace.Span | None = None,
    **attributes: Any,
) -> Iterator[trace.Span]:
    """A span named ``name``: a child of ``parent``, else of the trace ``headers`` carry,
    else of the current span."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        # No SDK configured: spans would be dropped anyway, so skip building them (a runtime
        # opens several per step). Trace context still reaches workers through task headers.
        yield trace.INVALID_SPAN
        return
    if parent is not None and parent.get_span_context().is_valid:
        start: context.Context | None = trace.set_span_in_context(parent)
    else:
        start = propagate.extract(dict(headers)) if headers else None
    clean = {f"aworld.{k}": v for k, v in attributes.items() if v not in (None, "")}
    with _tracer.start_as_current_span(name, context=start, attributes=clean) as current:
        yield current


def inject_headers(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current span's trace context (``traceparent``, ``tracestate``) into headers."""
    propagate.inject(headers, context=context.get_current())
    return headers


def call_headers(
    task_headers: Mapping[str, str] | None, headers: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Headers of a handler call: ``headers`` if given, else the task's, with the calling
    span's trace context, so the worker's span joins the task's trace."""
    chosen = dict(headers if headers is not None else task_headers or {})
    propagate.inject(chosen, context=context.get_current())
    return chosen


def trace_id_of(current: trace.Span) -> str:
    """The span's trace id as 32 hex digits, or empty when there is no valid trace."""
    span_context = current.get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""


def within(parent: trace.Span) -> AbstractContextManager[object]:
    """Make ``parent`` the current span for the block (spans started there are its
    children), without ending it; an invalid span (tracing off) changes nothing."""
    if not parent.get_span_context().is_valid:
        return nullcontext()
    # The parent may have ended already (an agent step ends before its tool calls run): an
    # error escaping the block is recorded by the spans inside it, never on the parent.
    return trace.use_span(
        parent, end_on_exit=False, record_exception=False, set_status_on_exception=False
    )
