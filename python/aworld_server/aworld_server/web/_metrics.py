"""Prometheus metrics of one server, read from what it already records.

Counters and histograms are a view of the event log: :class:`RuntimeMetrics` observes each
commit of events (``EventManager.observe``) and each attempt the worker dispatcher runs, so the
runtime's code paths carry no metric calls, and a number on ``/metrics`` always agrees with the
events a client can stream. Gauges that describe *now* (tasks running, bus queue depth,
workers per handler) are read when scraped. Each server has its own registry, so several
servers in one process (tests) keep their numbers apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

from aworld_client import (
    Event,
    HandlerInfo,
    LlmCallFinished,
    RunNodeChanged,
    RunNodeKind,
    TaskStatus,
    TaskStatusChanged,
    TaskSubmitted,
    ToolCallFinished,
    ToolCallStarted,
)
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aworld_server.dispatch import AttemptFinished, AttemptStarted, DispatchEvent
from aworld_server.events.bus import EventBus

__all__ = ["CONTENT_TYPE", "RuntimeMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds; agent steps and tool calls span sub-millisecond local tools to minute-long models.
_LATENCY = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_COMMIT = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class RuntimeMetrics:
    """The metrics of one server; feed it with :meth:`on_commit` and :meth:`on_dispatch`.
    ``handlers`` lists the remote handlers and their worker counts (the dispatcher's)."""

    def __init__(self, bus: EventBus, handlers: Callable[[], list[HandlerInfo]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.submitted = Counter("aworld_tasks_submitted", "Tasks accepted.", registry=r)
        self.finished = Counter(
            "aworld_tasks_finished", "Tasks that reached a terminal status.", ["status"], registry=r
        )
        self.task_seconds = Histogram(
            "aworld_task_duration_seconds",
            "From submit to terminal status.",
            buckets=_LATENCY,
            registry=r,
        )
        self.step_seconds = Histogram(
            "aworld_agent_step_duration_seconds",
            "One agent step (the model's decision).",
            buckets=_LATENCY,
            registry=r,
        )
        self.tool_seconds = Histogram(
            "aworld_tool_call_duration_seconds",
            "One attempt of a tool call.",
            ["tool"],
            buckets=_LATENCY,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "aworld_store_commit_duration_seconds",
            "One group commit of events to the store.",
            buckets=_COMMIT,
            registry=r,
        )
        self.retries = Counter(
            "aworld_retries", "Attempts after the first, by kind (tool, llm).", ["kind"], registry=r
        )
        self.reassignments = Counter(
            "aworld_reassignments",
            "Tool calls run again elsewhere because their worker was lost.",
            registry=r,
        )
        # Live state for the gauges: tasks not yet terminal, and attempts on workers.
        self._status: dict[str, TaskStatus] = {}
        self._submitted_at: dict[str, datetime] = {}
        self._tool_started: dict[tuple[str, str, int], datetime] = {}
        self._attempts: dict[tuple[str, int], tuple[str, str]] = {}  # -> (task id, handler)
        r.register(_LiveGauges(self, bus, handlers))

    def calls_in_flight(self) -> dict[str, int]:
        """Attempts running on workers now, by handler name."""
        counts: dict[str, int] = {}
        for _, handler in self._attempts.values():
            counts[handler] = counts.get(handler, 0) + 1
        return counts

    def render(self) -> bytes:
        """The text exposition format, for ``GET /metrics``."""
        return generate_latest(self.registry)

    # -- feeds ----------------------------------------------------------------------------
    def on_commit(self, events: Sequence[Event], seconds: float) -> None:
        """``EventManager`` observer: one group commit and the events it made durable."""
        self.commit_seconds.observe(seconds)
        for event in events:
            self._count(event)

    def on_dispatch(self, event: DispatchEvent) -> None:
        """``WorkerDispatcher`` observer: attempts sent to workers and their ends."""
        if isinstance(event, AttemptStarted):
            self._attempts[(event.call_id, event.attempt)] = (event.task_id, event.handler)
        elif isinstance(event, AttemptFinished):
            self._attempts.pop((event.call_id, event.attempt), None)

    def _count(self, event: Event) -> None:
        body = event.body
        if isinstance(body, TaskSubmitted):
            self.submitted.inc()
            self._status[event.task_id] = TaskStatus.PENDING
            if event.time is not None:
                self._submitted_at[event.task_id] = event.time
        elif isinstance(body, TaskStatusChanged):
            self._status_changed(event, body)
        elif isinstance(body, RunNodeChanged):
            node = body.node
            if node is not None and node.kind == RunNodeKind.AGENT and node.ended_at:
                self._step_ended(node.started_at, node.ended_at)
            if body.llm_call is not None and body.llm_call.attempt > 1:  # the step's model call
                self.retries.labels("llm").inc()
        elif isinstance(body, ToolCallStarted):
            if event.time is not None:
                self._tool_started[(event.task_id, body.call_id, body.attempt)] = event.time
            if body.attempt > 1:
                self.retries.labels("tool").inc()
        elif isinstance(body, ToolCallFinished):
            # An attempt lost with its worker may never be answered by the dispatcher.
            self._attempts.pop((body.call_id, body.attempt), None)
            started = self._tool_started.pop((event.task_id, body.call_id, body.attempt), None)
            # A failed attempt records no duration; its start and end events tell it.
            if body.duration is not None:
                self.tool_seconds.labels(body.tool_name).observe(body.duration.total_seconds())
            elif started is not None and event.time is not None:
                self.tool_seconds.labels(body.tool_name).observe(
                    (event.time - started).total_seconds()
                )
            if body.will_retry and body.failure is not None and body.failure.type == "WorkerLost":
                self.reassignments.inc()
        elif isinstance(body, LlmCallFinished) and body.attempt > 1:
            self.retries.labels("llm").inc()

    def _step_ended(self, started: datetime | None, ended: datetime) -> None:
        if started is not None:
            self.step_seconds.observe((ended - started).total_seconds())

    def _status_changed(self, event: Event, body: TaskStatusChanged) -> None:
        if not body.status.is_terminal:
            self._status[event.task_id] = body.status
            return
        self.finished.labels(body.status.name.lower()).inc()
        self._status.pop(event.task_id, None)
        started = self._submitted_at.pop(event.task_id, None)
        if started is not None and event.time is not None:
            self.task_seconds.observe((event.time - started).total_seconds())
        for key, (task_id, _) in list(self._attempts.items()):
            if task_id == event.task_id:
                del self._attempts[key]
        for started_key in [k for k in self._tool_started if k[0] == event.task_id]:
            del self._tool_started[started_key]


class _LiveGauges(Collector):
    """Gauges computed at scrape time from the runtime's current state."""

    def __init__(
        self, metrics: RuntimeMetrics, bus: EventBus, handlers: Callable[[], list[HandlerInfo]]
    ) -> None:
        self._metrics = metrics
        self._bus = bus
        self._handlers = handlers

    def describe(self) -> Iterable[Metric]:
        return []  # computed on collect; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        statuses = list(self._metrics._status.items())
        tasks = GaugeMetricFamily(
            "aworld_tasks", "Tasks not finished, by status.", labels=["status"]
        )
        for status in (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.INPUT_REQUIRED):
            count = sum(1 for _, s in statuses if s == status)
            tasks.add_metric([status.name.lower()], count)
        yield tasks
        depth = sum(self._bus.pending(task_id) for task_id, _ in statuses)
        yield GaugeMetricFamily(
            "aworld_bus_queue_depth",
            "Messages queued on the event bus for unfinished tasks.",
            value=depth,
        )
        workers = GaugeMetricFamily(
            "aworld_handler_workers",
            "Connected workers serving each handler.",
            labels=["handler", "kind"],
        )
        for info in self._handlers():
            if info.spec is not None:
                kind = info.spec.kind.name.lower()
                workers.add_metric([info.spec.name, kind], info.worker_count)
        yield workers
        in_flight = self._metrics.calls_in_flight()
        calls = GaugeMetricFamily(
            "aworld_handler_calls_in_flight",
            "Attempts running on workers, by handler.",
            labels=["handler"],
        )
        for handler, count in sorted(in_flight.items()):
            calls.add_metric([handler], count)
        yield calls
