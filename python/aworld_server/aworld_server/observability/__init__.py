"""Observability: OpenTelemetry spans with W3C trace context carried in task and call headers."""

from aworld_server.observability.tracing import inject_headers, span, trace_id_of

__all__ = ["inject_headers", "span", "trace_id_of"]
