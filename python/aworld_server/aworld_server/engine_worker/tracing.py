"""Spans of an engine worker process: exported to the control plane's collector, flushed per job.

A Ray actor or Spark Python worker is a process of its own, so the SDK ``aworld serve`` installs
does not reach it. Each job names the collector (``TaskJob.trace_endpoint``) and the service
name to export as; the first such job installs the SDK in the process (:func:`export_spans`),
later ones change nothing. The runner's task span continues the trace in the task's headers,
so the worker's spans join the trace the server started.

Engines end their workers without warning (``ray.kill``, Spark stopping its Python workers),
so the SDK's own flush at interpreter exit cannot be counted on: :class:`SpanFlusher` sends a
job's spans before the job's result goes back. The task's end is already in the control plane's
log by then, so a client never waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from opentelemetry import trace

from aworld_server.observability.telemetry import configure_tracing, tracing_enabled

__all__ = ["FLUSH_TIMEOUT", "SpanFlusher", "export_spans"]

log = logging.getLogger(__name__)

# At most this long a job's result waits for its spans to leave. Exporting a job's spans to a
# collector on the network takes milliseconds; an unreachable collector would hold every job
# for the exporter's own timeout (10 s, with retries) instead.
FLUSH_TIMEOUT = 2.0

_lock = threading.Lock()  # Spark runs one event loop per setup in a worker: threads may race
_exporting_to: str | None = None  # the collector this process was set up for, once it was


def export_spans(endpoint: str, service_name: str) -> None:
    """Install the OpenTelemetry SDK exporting to ``endpoint``, once per process.

    A job without an endpoint changes nothing; one naming another collector than the first is
    logged and still exports to the first (a provider cannot be replaced). A provider installed
    by something else in the process (a setup hook) is left in place and used.
    """
    global _exporting_to
    if not endpoint:
        return
    with _lock:
        if _exporting_to is not None:
            if endpoint != _exporting_to:
                log.warning(
                    "spans of this worker go to %s; a job asked for %s", _exporting_to, endpoint
                )
            return
        _exporting_to = endpoint
        if tracing_enabled():
            log.info("a tracer provider is already installed: engine spans go there")
            return
        configure_tracing(endpoint, service_name)


class SpanFlusher:
    """Exports the spans ended so far, one flush at a time, shared by the jobs that wait.

    ``force_flush`` of the SDK blocks (and ignores its timeout), so it runs in a thread and a
    job stops waiting after ``timeout``. Jobs that end while a flush runs are covered by the
    next one, which starts when it is done: under load, many jobs share one export.
    """

    def __init__(self, timeout: float = FLUSH_TIMEOUT) -> None:
        self.timeout = timeout
        self._asked = 0  # flushes asked for so far
        self._done = 0  # every flush asked for up to this one has finished
        self._running: asyncio.Future[None] | None = None

    async def flush(self) -> None:
        """Return once the spans ended before this call were exported (or ``timeout``)."""
        provider = trace.get_tracer_provider()
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is None:  # no SDK (spans were never recorded) or a provider without it
            return
        self._asked += 1
        asked = self._asked
        try:
            async with asyncio.timeout(self.timeout):
                while self._done < asked:
                    if self._running is None or self._running.done():
                        self._running = asyncio.ensure_future(self._flush(force_flush))
                    await asyncio.shield(self._running)
        except TimeoutError:
            log.warning("spans not exported within %.1f s; the job's result goes on", self.timeout)

    async def _flush(self, force_flush: Callable[[], object]) -> None:
        covers = self._asked  # every job that asked by now ended its spans before this flush
        try:
            await asyncio.to_thread(force_flush)
        except Exception:
            log.exception("exporting spans failed")
        finally:
            self._done = max(self._done, covers)
