"""Where spans go: the OpenTelemetry SDK with an OTLP exporter, set up by the process.

The runtime's own code only uses the OpenTelemetry API (see :mod:`.tracing`). A process entry
point (``aworld serve``, a worker program) calls :func:`configure_tracing` once, and from then
on every span — the runtime's and the gRPC instrumentation's — is batched and sent to the
collector. A library must not install a global tracer provider behind its embedder's back, so
``start_server`` never calls this; it only adds the gRPC server instrumentation when some
provider is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

__all__ = ["TracingSetup", "configure_tracing", "server_interceptors", "tracing_enabled"]


@dataclass(frozen=True)
class TracingSetup:
    """The installed provider; :meth:`shutdown` sends what is still batched."""

    provider: TracerProvider
    endpoint: str

    def shutdown(self) -> None:
        self.provider.force_flush()
        self.provider.shutdown()


def configure_tracing(endpoint: str, service_name: str) -> TracingSetup:
    """Install a global tracer provider exporting to the OTLP/gRPC ``endpoint``.

    ``endpoint`` is ``http://host:4317`` (plain text) or ``https://...`` (TLS), as in
    ``OTEL_EXPORTER_OTLP_ENDPOINT``. Batching honours the standard ``OTEL_BSP_*`` variables.
    """
    resource = Resource.create({"service.name": service_name})
    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=not endpoint.startswith("https:"))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return TracingSetup(provider, endpoint)


def tracing_enabled() -> bool:
    """True when some tracer provider (ours or the embedder's) records spans."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def server_interceptors() -> list[Any]:
    """The gRPC server instrumentation (one span per RPC, continuing the caller's
    ``traceparent`` metadata), or none when nothing records spans: it would cost every call
    for spans nobody sees."""
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]  # type: ignore[no-untyped-call]
