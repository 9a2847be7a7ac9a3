"""``EngineJobs``: tasks that run on a plugin engine (Ray, Spark) as jobs in other processes.

The control plane stores a task, hands it to its engine as a job fenced by an unguessable id
(a superseded job's writes and calls are refused), and records how jobs ended when their
worker could not record it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable

from aworld_client import Failure, Session, Task, TaskResponse, TaskStatus, TaskStatusChanged

from aworld_server.engines import Engine, TaskJob
from aworld_server.events import EventManager
from aworld_server.namespaces import namespace_of
from aworld_server.storage import EventStore

__all__ = ["EngineJobs", "JobCredentials"]

# (task, job id) -> the credential the job presents when it calls back; None: one shared token.
JobCredentials = Callable[[Task, str], str]

# How long ``close`` waits for jobs whose task already ended to report back. Such a job is only
# exporting its spans (at most 2 s, ``engine_worker.tracing.FLUSH_TIMEOUT``); closing the engine
# first would end its worker process and lose them.
_SETTLE_SECONDS = 5.0


class EngineJobs:
    """Plugin engines by name and the jobs they run now."""

    def __init__(
        self,
        store: EventStore,
        events: EventManager,
        *,
        control_plane: str,
        control_plane_token: str = "",
        job_credentials: JobCredentials | None = None,
        job_finished: Callable[[str], None] | None = None,
        trace_endpoint: str = "",
    ) -> None:
        self._store = store
        self._events = events
        self.control_plane = control_plane  # this server's address, for workers to call back
        self._token = control_plane_token
        self.job_credentials = job_credentials
        self.job_finished = job_finished  # ends a job credential's grant
        # The OTLP collector this server exports spans to, for workers to export theirs
        # (as ``aworld-engine-<engine>``) to the same place; empty: jobs carry none.
        self.trace_endpoint = trace_endpoint
        self.engines: dict[str, Engine] = {}
        self._tasks: dict[str, str] = {}  # task id -> engine, for tasks not run here
        self._jobs: dict[str, str] = {}  # task id -> the job it runs as now
        # task id -> its namespace: the engine service checks a job's appends against it
        # without reading the task's record from the store on every append.
        self._namespaces: dict[str, str] = {}
        self._collectors: list[asyncio.Task[None]] = []
        self._reported = asyncio.Event()  # set whenever a job is forgotten (see ``_settle``)

    def names(self) -> list[str]:
        return list(self.engines)

    def runs(self, task_id: str) -> bool:
        """True while an engine runs the task."""
        return task_id in self._tasks

    def task_ids(self) -> list[str]:
        return list(self._tasks)

    def current_job(self, task_id: str) -> str | None:
        """The job an engine runs the task as now, for fencing its writes; None if none."""
        return self._jobs.get(task_id)

    def namespace(self, task_id: str) -> str | None:
        """The namespace of a task an engine runs now; None if no engine runs it here."""
        return self._namespaces.get(task_id)

    async def add(self, engine: Engine) -> None:
        """Start a plugin engine and collect how its jobs end."""
        await engine.start()
        self.engines[engine.name] = engine
        self._collectors.append(
            asyncio.create_task(self._collect(engine), name=f"engine:{engine.name}")
        )

    async def submit(
        self, engine: Engine, task: Task, *, fresh: bool = True, session: Session | None = None
    ) -> None:
        """Hand a stored task to an engine; its workers append the rest of the log.
        ``fresh``: the log holds only TaskSubmitted; otherwise the job replays the log.
        ``session``: the task's session as stored now, handed to a fresh job with it."""
        job_id = secrets.token_urlsafe(18)  # unguessable: with auth on it is the job's capability
        self._tasks[task.id] = engine.name
        self._jobs[task.id] = job_id
        self._namespaces[task.id] = namespace_of(task.headers)
        token = self.job_credentials(task, job_id) if self.job_credentials else self._token
        job = TaskJob(
            task.id,
            task.to_bytes(),
            self.control_plane,
            token,
            job_id=job_id,
            fresh=fresh,
            trace_endpoint=self.trace_endpoint,
            trace_service=f"aworld-engine-{engine.name}" if self.trace_endpoint else "",
            session=session.to_bytes() if fresh and session is not None else b"",
        )
        try:
            await engine.submit(job)
        except Exception as error:
            self._forget(task.id)
            failure = Failure.from_exception(error, source=f"engine:{engine.name}")
            await self.record_end(
                task.id,
                task.session_id,
                TaskResponse(
                    id=task.id,
                    status=TaskStatus.FAILED,
                    failure=failure,
                    status_reason=failure.type,
                ),
            )

    async def cancel(
        self, task_id: str, wait: Callable[[str], Awaitable[TaskResponse]]
    ) -> TaskStatus | None:
        """Cancel the task on its engine and wait for its end; None if no engine runs it."""
        engine = self.engines.get(self._tasks.get(task_id, ""))
        if engine is None:
            return None
        await engine.cancel(task_id)
        return (await wait(task_id)).status

    def _forget(self, task_id: str) -> None:
        self._tasks.pop(task_id, None)
        self._jobs.pop(task_id, None)
        self._namespaces.pop(task_id, None)
        self._reported.set()

    async def _collect(self, engine: Engine) -> None:
        """Record how jobs ended when their worker could not record it itself: a lost worker
        (``failure``), or an end decided by the engine, such as a cancel before the job
        started (``response``). A task's own end is already in its log and is left alone."""
        async for result in engine.results():
            if result.job_id and result.job_id != self._jobs.get(result.task_id):
                continue  # a superseded job (handed out before a restart): not this task's end
            self._forget(result.task_id)
            if self.job_finished is not None:
                self.job_finished(result.task_id)
            response = result.response
            if result.failure is not None:
                response = TaskResponse(
                    id=result.task_id,
                    status=TaskStatus.FAILED,
                    failure=result.failure,
                    status_reason=result.failure.type,
                )
            if response is None or not response.status.is_terminal:
                continue
            record = await self._store.get_task(result.task_id)
            if record is not None and not record.status.is_terminal:
                await self.record_end(result.task_id, record.session_id, response)

    async def record_end(self, task_id: str, session_id: str, response: TaskResponse) -> None:
        """Write a task's terminal status on behalf of a job that could not."""
        await self._events.open_task(task_id, session_id)
        await self._events.emit(
            task_id,
            TaskStatusChanged(
                status=response.status, reason=response.status_reason, response=response
            ),
        )
        self._events.close_task(task_id)

    async def _settle(self) -> None:
        """Wait (at most ``_SETTLE_SECONDS``) for the jobs of ended tasks to report back."""
        ended = set()
        for task_id in list(self._tasks):
            record = await self._store.get_task(task_id)
            if record is not None and record.status.is_terminal:
                ended.add(task_id)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_SETTLE_SECONDS):
                while ended & self._tasks.keys():
                    self._reported.clear()
                    await self._reported.wait()

    async def close(self) -> None:
        await self._settle()
        for engine in self.engines.values():
            await engine.close()
        for collector in self._collectors:
            collector.cancel()
