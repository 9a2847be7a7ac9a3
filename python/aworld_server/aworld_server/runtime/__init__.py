"""The embedded runtime: submit, run, watch and steer tasks inside one process.

``Runtime`` is a façade over named parts, built once from keyword arguments:

* :class:`~aworld_server.runtime.executor.TaskExecutor` (``executor``) — accept, launch, park,
  resume, step and cancel tasks;
* :class:`~aworld_server.runtime.reader.TaskReader` (``reader``) — every read of tasks, logs and
  sessions;
* :class:`~aworld_server.runtime.gateway.Handlers` (``handlers``) — tools and hooks, in this
  process or on workers;
* :class:`~aworld_server.runtime.sessions.Sessions` (``sessions``);
* :class:`~aworld_server.runtime.engine_jobs.EngineJobs` (``engines``) — tasks on Ray or Spark.

Runners see none of these: they get a :class:`~aworld_server.runners.RunContext`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aworld_client import (
    Event,
    Failure,
    NodeGroup,
    Payload,
    RunNode,
    Task,
    TaskResponse,
    TaskStatus,
    TrajectoryItem,
)

from aworld_server.agents.providers import ModelProviders
from aworld_server.engines import Engine
from aworld_server.events import EventBus, EventManager, MemoryEventBus
from aworld_server.handlers import HandlerRegistry
from aworld_server.handlers.callbacks import CallbackRegistry
from aworld_server.mcp import McpToolSource
from aworld_server.runners import RunContext, Runner
from aworld_server.runtime.engine_jobs import EngineJobs, JobCredentials
from aworld_server.runtime.executor import SubmitResult, TaskExecutor
from aworld_server.runtime.gateway import Handlers, RemoteHandlers
from aworld_server.runtime.reader import TaskReader, TaskView
from aworld_server.runtime.sessions import Sessions
from aworld_server.runtime.subtasks import SubTasks
from aworld_server.runtime.trajectories import TrajectoryExport
from aworld_server.state import StateManager
from aworld_server.storage import EventStore, SqliteEventStore

__all__ = ["RemoteHandlers", "Runtime", "SubmitResult", "TaskView"]

DEFAULT_DATA_DIR = Path(".aworld")


class Runtime:
    """Runs tasks in this process. Use ``async with Runtime(...)`` or start()/close().

    ``store`` defaults to SQLite under ``data_dir``, ``bus`` to the in-memory bus. A served
    runtime also gets ``remote`` (handlers on workers), ``control_plane`` (its address, for
    engine workers to call back), and with authentication ``job_credentials`` /
    ``job_finished`` (a credential per engine job). ``engine``: the default engine of tasks that
    name none; ``parking``: runs waiting on a callback leave memory until it is answered;
    ``trajectory_dir``: each finished task's trajectory is written there as JSONL (its URI in
    ``TaskResponse.trajectory_uri``); ``subtasks``: offer the ``run_subtask`` / ``run_subtasks``
    tools (an engine worker's runtime does not: sub-tasks run on the control plane);
    ``trace_endpoint``: the OTLP collector this process exports spans to, handed to engine jobs
    so their workers export theirs there too (one trace per task on Ray or Spark)."""

    def __init__(
        self,
        store: EventStore | None = None,
        bus: EventBus | None = None,
        *,
        data_dir: str | Path = DEFAULT_DATA_DIR,
        remote: RemoteHandlers | None = None,
        engine: str = "local",
        control_plane: str = "",
        control_plane_token: str = "",
        job_credentials: JobCredentials | None = None,
        job_finished: Callable[[str], None] | None = None,
        parking: bool = True,
        trajectory_dir: str | Path | None = None,
        subtasks: bool = True,
        trace_endpoint: str = "",
    ) -> None:
        self.store: EventStore = store or SqliteEventStore(Path(data_dir) / "runtime.db")
        self.bus: EventBus = bus or MemoryEventBus()
        self.events = EventManager(self.store, self.bus)
        self.state = StateManager(self.events)
        self.registry = HandlerRegistry()
        self.models = ModelProviders()
        self.callbacks = CallbackRegistry()
        # MCP servers as tool sources; the server starts the configured ones (start_server).
        self.mcp = McpToolSource(self.registry)
        self.engine_name = engine
        self.handlers = Handlers(self.registry, remote)
        self.sessions = Sessions(self.store)
        self.reader = TaskReader(self.store, self.events)
        self.engines = EngineJobs(
            self.store,
            self.events,
            control_plane=control_plane,
            control_plane_token=control_plane_token,
            job_credentials=job_credentials,
            job_finished=job_finished,
            trace_endpoint=trace_endpoint,
        )
        context = RunContext(
            events=self.events,
            state=self.state,
            handlers=self.handlers,
            registry=self.registry,
            callbacks=self.callbacks,
            models=self.models,
            sessions=self.sessions,
            bus=self.bus,
            mcp=self.mcp,
            engine=engine,
            trajectories=TrajectoryExport(
                self.reader, Path(trajectory_dir) if trajectory_dir is not None else None
            ),
        )
        self.executor = TaskExecutor(
            context,
            self.store,
            handlers=self.handlers,
            sessions=self.sessions,
            reader=self.reader,
            engines=self.engines,
            default_engine=engine,
            parking=parking,
            mcp_servers=self.mcp.configured,
        )
        if subtasks:
            self.registry.add_tool(*SubTasks(self.executor, self.reader, self.state).tools())
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, *, resume: bool = True, sweep_interval: float = 30.0) -> Runtime:
        """Open the store and (``resume``) continue the unfinished tasks of an earlier run.

        A server passes ``resume=False`` and calls :meth:`resume` once it listens, so resumed
        calls to remote handlers find their workers reconnecting. Every ``sweep_interval``
        seconds (0: never) stored tasks that run nowhere are picked up, as at start."""
        if not self._started:
            await self.store.open()
            self._started = True
            if resume:
                await self.resume()
            if sweep_interval > 0:
                self.executor.start_sweeping(sweep_interval)
        return self

    async def resume(self) -> int:
        """Continue the stored, unfinished tasks that run nowhere; see TaskExecutor.resume."""
        return await self.executor.resume()

    async def stop_runs(self) -> None:
        """Stop every run here without recording an end (they resume on the next start)."""
        await self.executor.stop_runs()

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for running tasks to finish (before a shutdown)."""
        await self.executor.drain(timeout)

    async def close(self) -> None:
        """Stop running tasks (they stay resumable in the log) and close the store."""
        await self.executor.stop_runs()
        await self.engines.close()
        await self.mcp.aclose()  # after the runs: no call is left to need a server
        await self.models.aclose()
        if self._started:
            await self.store.close()
            self._started = False

    async def __aenter__(self) -> Runtime:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- extending ------------------------------------------------------------------------
    def add_runner(self, runner: type[Runner], name: str = "") -> None:
        """Register a custom runner class, chosen by ``TaskConfig.runner == name`` (default:
        the class's ``name``)."""
        self.executor.runners[name or runner.name] = runner

    async def add_engine(self, engine: Engine) -> None:
        """Start a plugin engine; tasks that name it (or all, if it is the default) run on it."""
        await self.engines.add(engine)

    def engine_names(self) -> list[str]:
        return self.executor.engine_names()

    # -- tasks ----------------------------------------------------------------------------
    async def submit(self, task: Task, request_id: str = "") -> SubmitResult:
        """Validate, durably store and start a task (idempotent on ``request_id``)."""
        return await self.executor.submit(task, request_id)

    async def run(self, task: Task, request_id: str = "") -> TaskResponse:
        """Submit a task and wait for its response."""
        result = await self.executor.submit(task, request_id)
        return await self.executor.wait(result.task_id)

    async def wait(self, task_id: str) -> TaskResponse:
        """Wait for the task's terminal response."""
        return await self.executor.wait(task_id)

    async def step(self, task_id: str) -> tuple[bool, str, TaskResponse | None]:
        """Let an interactive task take one agent step; see ``Runners.step``."""
        return await self.executor.step(task_id)

    async def cancel(self, task_id: str, reason: str = "") -> TaskStatus:
        """Cancel a live task; cancelling a finished one changes nothing."""
        return await self.executor.cancel(task_id, reason)

    async def complete_callback(
        self,
        task_id: str,
        callback_id: str,
        result: Payload | None = None,
        failure: Failure | None = None,
    ) -> TaskStatus:
        """Complete a pending callback with a result or a failure (on disk when it returns)."""
        return await self.executor.complete_callback(task_id, callback_id, result, failure)

    async def provide_input(self, task_id: str, callback_id: str, value: Payload) -> TaskStatus:
        """Answer a request for human input (the same path as a callback)."""
        return await self.executor.complete_callback(task_id, callback_id, result=value)

    @property
    def live_tasks(self) -> int:
        """Tasks running in this process now."""
        return self.executor.live_tasks

    def running(self, task_id: str) -> bool:
        """True while the task's runner runs in this process."""
        return self.executor.running(task_id)

    def current_job(self, task_id: str) -> str | None:
        """The engine job the task runs as now (for fencing its writes), or None."""
        return self.engines.current_job(task_id)

    def engine_task_namespace(self, task_id: str) -> str | None:
        """The namespace of a task an engine runs now (known without a store read), or None."""
        return self.engines.namespace(task_id)

    @property
    def job_credentials(self) -> JobCredentials | None:
        return self.engines.job_credentials

    @property
    def job_finished(self) -> Callable[[str], None] | None:
        return self.engines.job_finished

    # -- reading --------------------------------------------------------------------------
    def stream(
        self, task_id: str, after_seq: int = 0, *, follow: bool = True
    ) -> AsyncIterator[Event]:
        """The task's events after ``after_seq``; with ``follow``, live until terminal."""
        return self.reader.stream(task_id, after_seq, follow=follow)

    async def get_task(self, task_id: str) -> TaskView:
        return await self.reader.get(task_id)

    async def task_state(self, task_id: str) -> tuple[TaskStatus, list[RunNode], list[NodeGroup]]:
        return await self.reader.state(task_id)

    async def trajectory(self, task_id: str) -> list[TrajectoryItem]:
        return await self.reader.trajectory(task_id)

    @property
    def session_hooks(self) -> dict[str, dict[str, list[str]]]:
        """Hooks for every task of a session: {session id: {hook point: [hook names]}}."""
        return self.sessions.session_hooks
