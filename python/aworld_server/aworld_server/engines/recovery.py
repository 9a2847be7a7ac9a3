"""What an engine does with the job of a lost worker (a killed Ray actor or Spark Python
worker): run it again, per the task's retry policy, or give up with a failure.

A job that runs again resumes the task from its log at the control plane (see
``Runtime.run_submitted``), so finished steps and tool calls are not repeated. Attempts count
every run of the job, the first included: ``maximum_attempts = 1`` never runs a job twice.
"""

from __future__ import annotations

from dataclasses import replace

from aworld_client import Failure, RetryPolicy, Task, TaskResponse, TaskStatus

from aworld_server.engines.base import JobResult, TaskJob
from aworld_server.retry import backoff_delay

__all__ = ["WORKER_LOST", "cancelled", "next_attempt", "worker_lost"]

WORKER_LOST = "EngineWorkerLost"


def next_attempt(job: TaskJob) -> tuple[TaskJob, float] | None:
    """The job to run again and the delay (seconds) before it, or None when attempts ran out."""
    try:
        policy = Task.from_bytes(job.task).retry_policy or RetryPolicy()
    except Exception:  # an unreadable task is not worth another attempt
        return None
    resolved = policy.resolved()
    if job.attempt >= resolved.maximum_attempts:
        return None
    if WORKER_LOST in resolved.non_retryable_error_types:
        return None
    delay = backoff_delay(resolved, job.attempt).total_seconds()
    return replace(job, attempt=job.attempt + 1), delay


def worker_lost(job: TaskJob, engine: str, detail: str) -> JobResult:
    """The result of a job whose worker was lost and which will not run again."""
    return JobResult(
        task_id=job.task_id,
        job_id=job.job_id,
        failure=Failure(
            type=WORKER_LOST,
            message=f"the {engine} worker running the task was lost on attempt {job.attempt} "
            f"and the task's retry policy allows no more: {detail}",
            non_retryable=True,
            source=f"engine:{engine}",
        ),
    )


def cancelled(task_id: str, reason: str = "cancelled") -> JobResult:
    """The result of a job cancelled before (or while) its runner could record it."""
    return JobResult(
        task_id=task_id,
        response=TaskResponse(id=task_id, status=TaskStatus.CANCELLED, status_reason=reason),
    )
