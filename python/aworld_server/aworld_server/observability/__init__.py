"""Observability: OpenTelemetry spans with W3C trace context carried in task and call headers,
their export over OTLP, and structured logs. (Prometheus metrics are served by ``web``.)"""

from aworld_server.observability.tracing import (
    call_headers,
    inject_headers,
    span,
    trace_id_of,
    within,
)

__all__ = ["call_headers", "inject_headers", "span", "trace_id_of", "within"]
