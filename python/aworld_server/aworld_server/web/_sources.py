"""What the HTTP side reads: a narrow view of one server, built complete and frozen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aworld_client.api import task_pb2
from aworld_client.runtime_service import SubmitTaskResponse

from aworld_server.api.runtime_service import ClusterWorkers
from aworld_server.dispatch import WorkerDispatcher
from aworld_server.runtime import Runtime
from aworld_server.web._metrics import RuntimeMetrics

__all__ = ["Sources"]


@dataclass(frozen=True, kw_only=True)
class Sources:
    """The runtime (tasks, state, trajectories, streams), the dispatcher (workers and
    handlers), the server's metrics, whether it still accepts tasks, and SubmitTask as the
    gRPC servicer runs it for the current caller (limits, ownership, idempotency scopes)."""

    runtime: Runtime
    dispatcher: WorkerDispatcher
    metrics: RuntimeMetrics
    accepting: Callable[[], bool]
    submit: Callable[[str, task_pb2.Task], Awaitable[SubmitTaskResponse]]
    # With replicas: the workers of all of them, as ListWorkers/ListHandlers show them.
    cluster: ClusterWorkers | None = None
