"""What the HTTP side reads: a narrow view of one server, built complete and frozen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aworld_server.dispatch import WorkerDispatcher
from aworld_server.runtime import Runtime
from aworld_server.web._metrics import RuntimeMetrics

__all__ = ["Sources"]


@dataclass(frozen=True, kw_only=True)
class Sources:
    """The runtime (tasks, state, trajectories, streams), the dispatcher (workers and
    handlers), the server's metrics, and whether it still accepts tasks."""

    runtime: Runtime
    dispatcher: WorkerDispatcher
    metrics: RuntimeMetrics
    accepting: Callable[[], bool]
