"""The engine seam: where task runners execute.

An engine is deliberately small (httpx's transport is the model): submit jobs, get results as
they finish, cancel, close. A job is language-neutral — the Task's protobuf bytes plus how to
reach the control plane — never a pickled runner, agent or client. Remote engines (Ray, Spark)
run the same Runner in their workers and keep the control plane in sync through EngineService,
so clients watch a task on any engine exactly as a local one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from aworld_client import Failure, TaskResponse

__all__ = ["Engine", "JobResult", "TaskJob"]


@dataclass(frozen=True, slots=True)
class TaskJob:
    """Everything an engine worker needs to run one task."""

    task_id: str
    task: bytes  # aworld.runtime.v1.Task, serialised
    control_plane: str  # host:port of the control plane's EngineService
    token: str = ""  # engine credential for this job's task (scopes engine, read), when auth is on
    attempt: int = 1  # 1 for the first run; more when the job of a lost worker runs again
    # This hand-out of the task; the control plane accepts writes of its current job only.
    job_id: str = ""
    # The log holds only TaskSubmitted (just submitted): the worker need not read it first.
    fresh: bool = True
    # Where the worker exports its spans (OTLP/gRPC, as ``aworld serve --otlp-endpoint``) and
    # the service.name it exports them as; empty when the control plane exports none. A job
    # field rather than engine-specific environment (Ray runtime_env, Spark executorEnv):
    # one path for every engine, and it reaches workers of a cluster or SparkContext that
    # was started before this server (their environment is fixed by then).
    trace_endpoint: str = ""
    trace_service: str = ""
    # The task's session (aworld.runtime.v1.Session, serialised) as the control plane handed
    # the job over, for a first run to start from without asking (GetSession); empty: ask.
    session: bytes = b""


@dataclass(frozen=True, slots=True)
class JobResult:
    """How a job ended: the task's response, or why the job itself failed (worker lost, ...)."""

    task_id: str
    response: TaskResponse | None = None
    failure: Failure | None = None
    job_id: str = ""  # the job it is the result of; empty when not known


class Engine(Protocol):
    """Runs task jobs. Implementations must not block the event loop."""

    name: str

    async def start(self) -> None:
        """Connect to the cluster / start warm workers. Idempotent."""

    async def submit(self, job: TaskJob) -> None:
        """Start running a job; returns once the engine accepted it."""

    def results(self) -> AsyncIterator[JobResult]:
        """Results of submitted jobs, as they finish (in any order)."""

    async def cancel(self, task_id: str) -> None:
        """Stop a job; its runner records the task as CANCELLED."""

    async def close(self) -> None:
        """Cancel what is running and release the cluster resources."""
