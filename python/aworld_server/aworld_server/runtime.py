"""The embedded runtime: submit, run, watch and steer tasks inside one process.

This is what the gRPC server serves and what the ``Runners`` façade drives. It owns the event
store, the bus, the event and state managers and the handler registry; tasks run as asyncio
tasks on the local engine (other engines plug in at :meth:`Runtime._launch`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aworld_client import (
    Event,
    ExecutionMode,
    Failure,
    HandlerKind,
    HandlerSpec,
    InputProvided,
    NodeGroup,
    Payload,
    RunMode,
    RunNode,
    Session,
    Task,
    TaskResponse,
    TaskStatus,
    TaskStatusChanged,
    TaskSubmitted,
    TrajectoryItem,
)

from aworld_server.agents.providers import ModelProviders
from aworld_server.context import Context
from aworld_server.dispatch._errors import OutcomeUnknown
from aworld_server.dispatch._types import OnStart
from aworld_server.engines import Engine, TaskJob
from aworld_server.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from aworld_server.events import EventBus, EventManager, MemoryEventBus
from aworld_server.handlers import HandlerRegistry
from aworld_server.handlers.callbacks import CallbackRegistry
from aworld_server.handlers.named import handler_names
from aworld_server.ids import new_id
from aworld_server.namespaces import DEFAULT_NAMESPACE, namespace_of
from aworld_server.retry import HandlerFailed
from aworld_server.runners.base import Runner
from aworld_server.runners.call_runner import CallRunner
from aworld_server.runners.event_runner import EventRunner
from aworld_server.runners.replay import Replay
from aworld_server.runners.stepping import StepGate
from aworld_server.state import StateManager, fold_groups, fold_nodes
from aworld_server.storage import EventStore, SqliteEventStore
from aworld_server.trajectory import build_trajectory
from aworld_server.validation import validate_task

__all__ = ["RemoteHandlers", "Runtime", "SubmitResult", "TaskView"]

DEFAULT_DATA_DIR = Path(".aworld")

log = logging.getLogger(__name__)

T = TypeVar("T")


async def _detached(work: Awaitable[T]) -> T:
    """Await ``work`` as its own task: cancelling the caller stops the wait, not the work."""
    task = asyncio.ensure_future(work)
    # A failure nobody waits for any more is still retrieved, so the loop does not log it.
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return await asyncio.shield(task)


class RemoteHandlers(Protocol):
    """Handlers served by workers (the server plugs its dispatcher in here).

    ``spec`` is the latest declaration of a handler, also while no worker serves it right now;
    ``invoke`` then waits for a worker (schedule-to-start) rather than failing."""

    def spec(
        self, name: str, kind: HandlerKind, namespace: str = DEFAULT_NAMESPACE
    ) -> HandlerSpec | None: ...

    async def invoke(
        self,
        name: str,
        kind: HandlerKind,
        arguments: Any,
        *,
        call_id: str,
        attempt: int,
        task: Task | None,
        hook_point: str = "",
        on_start: OnStart | None = None,
        require_idempotent: bool = False,
        namespace: str | None = None,
    ) -> Any: ...

    async def cancel_task(self, task_id: str, reason: str) -> None: ...


@dataclass(slots=True, frozen=True)
class SubmitResult:
    """What a submit accepted: the task id, its session, and whether this call created it."""

    task_id: str
    session_id: str
    created: bool


@dataclass(slots=True)
class TaskView:
    """A task as stored, with its current response."""

    task: Task
    response: TaskResponse
    created_at: datetime
    updated_at: datetime


# GetTask looks this many events back from the end of a log for the latest TaskResponse.
_TAIL_EVENTS = 32


class Runtime:
    """Runs tasks in this process. Use ``async with Runtime(...)`` or start()/close()."""

    def __init__(
        self,
        store: EventStore | None = None,
        bus: EventBus | None = None,
        *,
        data_dir: str | Path = DEFAULT_DATA_DIR,
    ) -> None:
        self.store: EventStore = store or SqliteEventStore(Path(data_dir) / "runtime.db")
        self.bus: EventBus = bus or MemoryEventBus()
        self.events = EventManager(self.store, self.bus)
        self.state = StateManager(self.events)
        self.registry = HandlerRegistry()
        self.registry.add_runner(EventRunner.name, EventRunner)
        self.registry.add_runner(CallRunner.name, CallRunner)
        self.models = ModelProviders()
        self.remote: RemoteHandlers | None = None
        self.session_hooks: dict[str, dict[str, list[str]]] = {}
        self.engine_name = "local"  # the default engine for tasks that name none
        self.engines: dict[str, Engine] = {}  # plugin engines by name ("local" is built in)
        self.control_plane = ""  # this server's address, for engine workers to call back
        self.control_plane_token = ""
        # Served with authentication: mints each engine job a credential for its task only.
        self.job_credentials: Callable[[Task, str], str] | None = None  # (task, job id)
        self.job_finished: Callable[[str], None] | None = None  # ends that credential's grant
        self._engine_tasks: dict[str, str] = {}  # task id -> engine, for tasks not run here
        self._engine_jobs: dict[str, str] = {}  # task id -> the job it runs as now
        self._engine_results: list[asyncio.Task[None]] = []
        self._runs: dict[str, asyncio.Task[TaskResponse | None]] = {}
        self._runners: dict[str, Runner] = {}
        self._sessions: dict[str, Session] = {}
        self._submitting: dict[str, asyncio.Task[SubmitResult]] = {}
        self._accepting: set[str] = set()  # tasks between their store write and their launch
        self._sweeper: asyncio.Task[None] | None = None
        self.stepping: dict[str, StepGate] = {}
        self.callbacks = CallbackRegistry()
        self._started = False
        # Drop runs that wait on a callback from memory; rebuild them from the log on answer.
        self.parking = True

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
                self._sweeper = asyncio.create_task(
                    self._sweep_every(sweep_interval), name="runtime:sweeper"
                )
        return self

    async def stop_runs(self) -> None:
        """Stop every run in this process without recording an end: each stays in the log as
        it was and resumes on the next start. (A shutdown does this before closing worker
        streams, so no call in flight is recorded as failed because the server stops.)"""
        if self._sweeper is not None:
            self._sweeper.cancel()
        runs = list(self._runs.values())
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    async def close(self) -> None:
        """Stop running tasks (they stay resumable in the log) and close the store."""
        await self.stop_runs()
        for engine in self.engines.values():
            await engine.close()
        for collector in self._engine_results:
            collector.cancel()
        await self.models.aclose()
        if self._started:
            await self.store.close()
            self._started = False

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for running tasks to finish (before a shutdown)."""
        runs: list[asyncio.Future[Any]] = list(self._runs.values())
        remote = [asyncio.ensure_future(self.wait(task_id)) for task_id in self._engine_tasks]
        if runs or remote:
            await asyncio.wait([*runs, *remote], timeout=timeout)
        for waiting in remote:
            waiting.cancel()

    async def __aenter__(self) -> Runtime:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def live_tasks(self) -> int:
        """Tasks running in this process now."""
        return len(self._runs)

    def running(self, task_id: str) -> bool:
        """True while the task's runner runs in this process."""
        return task_id in self._runners

    def current_job(self, task_id: str) -> str | None:
        """The job an engine runs the task as now, for fencing its writes; None if none."""
        return self._engine_jobs.get(task_id)

    def engine_names(self) -> list[str]:
        return ["local", *self.engines]

    async def add_engine(self, engine: Engine) -> None:
        """Start a plugin engine and route tasks that name it (or all, if it is the default)."""
        await engine.start()
        self.engines[engine.name] = engine
        self._engine_results.append(
            asyncio.create_task(self._collect(engine), name=f"engine:{engine.name}")
        )

    async def _collect(self, engine: Engine) -> None:
        """Record how jobs ended when their worker could not record it itself: a lost worker
        (``failure``), or an end decided by the engine, such as a cancel before the job
        started (``response``). A task's own end is already in its log and is left alone."""
        async for result in engine.results():
            if result.job_id and result.job_id != self._engine_jobs.get(result.task_id):
                continue  # a superseded job (handed out before a restart): not this task's end
            self._engine_tasks.pop(result.task_id, None)
            self._engine_jobs.pop(result.task_id, None)
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
            record = await self.store.get_task(result.task_id)
            if record is not None and not record.status.is_terminal:
                await self._record_end(result.task_id, record.session_id, response)

    async def _record_end(self, task_id: str, session_id: str, response: TaskResponse) -> None:
        await self.events.open_task(task_id, session_id)
        await self.events.emit(
            task_id,
            TaskStatusChanged(
                status=response.status, reason=response.status_reason, response=response
            ),
        )
        self.events.close_task(task_id)

    # -- tasks ----------------------------------------------------------------------------
    async def submit(self, task: Task, request_id: str = "") -> SubmitResult:
        """Validate and durably store a task, then start it. Idempotent on ``request_id``:
        concurrent and later submits with the same id return the first task (and start it if
        it is stored but runs nowhere).

        The work runs as its own asyncio task: a caller that gives up (a client deadline)
        stops waiting for it, never the work itself, so a stored task is always launched."""
        if not request_id:
            validate_task(task, self)
            return await _detached(self._accept(task, request_id))
        in_flight = self._submitting.get(request_id)
        if in_flight is not None:
            first = await asyncio.shield(in_flight)
            return SubmitResult(first.task_id, first.session_id, created=False)
        # Registered before the first await, so concurrent duplicates wait for this one.
        work = asyncio.ensure_future(self._submit_once(task, request_id))
        self._submitting[request_id] = work
        work.add_done_callback(lambda _: self._submitting.pop(request_id, None))
        return await _detached(work)

    async def _submit_once(self, task: Task, request_id: str) -> SubmitResult:
        record = await self.store.find_task_by_request_id(request_id)
        if record is None:
            validate_task(task, self)
            return await self._accept(task, request_id)
        if not record.status.is_terminal:
            await self._adopt(record.task_id)
        return SubmitResult(record.task_id, record.session_id, created=False)

    async def _accept(self, task: Task, request_id: str) -> SubmitResult:
        # An id generated here names nothing stored yet, so its store lookups are skipped.
        new_task, new_session = not task.id, not task.session_id
        task.id = task.id or new_id()
        if not new_task and await self.store.get_task(task.id) is not None:
            raise FailedPrecondition(f"task {task.id} already exists")
        engine = self.engines.get(task.engine or self.engine_name)
        if engine is not None and not self.control_plane:
            raise FailedPrecondition(
                f"engine {engine.name!r} runs tasks in other processes, which call back to the "
                "control plane: serve this runtime (aworld_server.server.start_server)"
            )
        task.session_id = task.session_id or new_id()
        self._accepting.add(task.id)  # the sweeper leaves it alone until it is launched
        try:
            await self._touch_session(task, new=new_session)
            await self.events.open_task(task.id, task.session_id, new=new_task)
            await self.events.emit(
                task.id, TaskSubmitted(task=task, request_id=request_id), sync=True
            )
            if engine is None:
                self._launch(task)
            else:
                await self._submit_job(engine, task)
        finally:
            self._accepting.discard(task.id)
        return SubmitResult(task.id, task.session_id, created=True)

    async def _submit_job(self, engine: Engine, task: Task, *, fresh: bool = True) -> None:
        """Hand a stored task to a plugin engine; its workers append the rest of the log.
        ``fresh``: the log holds only TaskSubmitted; otherwise the job replays the log."""
        job_id = secrets.token_urlsafe(18)  # unguessable: with auth on it is the job's capability
        self._engine_tasks[task.id] = engine.name
        self._engine_jobs[task.id] = job_id
        token = (
            self.job_credentials(task, job_id) if self.job_credentials else self.control_plane_token
        )
        job = TaskJob(
            task.id, task.to_bytes(), self.control_plane, token, job_id=job_id, fresh=fresh
        )
        try:
            await engine.submit(job)
        except Exception as error:
            self._engine_tasks.pop(task.id, None)
            self._engine_jobs.pop(task.id, None)
            failure = Failure.from_exception(error, source=f"engine:{engine.name}")
            await self._record_end(
                task.id,
                task.session_id,
                TaskResponse(
                    id=task.id,
                    status=TaskStatus.FAILED,
                    failure=failure,
                    status_reason=failure.type,
                ),
            )

    async def run_submitted(self, task: Task) -> TaskResponse | None:
        """Run a task whose log already holds its TaskSubmitted: an engine worker's entry
        point, with ``store`` forwarding to the control plane's log. The log continues from its
        last seq; a log with more than TaskSubmitted (the job of a lost worker, run again) is
        replayed first, so steps and tool calls that finished are not run again, and a log
        that already ended returns its response without running anything."""
        await self.events.open_task(task.id, task.session_id)
        replay: Replay | None = None
        if await self.store.last_seq(task.id) > 1:
            events = await self.store.read(task.id)
            last = events[-1].body if events else None
            if isinstance(last, TaskStatusChanged) and last.status.is_terminal:
                self.events.close_task(task.id)
                return last.response or TaskResponse(id=task.id, status=last.status)
            replay = Replay(events)
        return await self._launch(task, replay)

    def _launch(
        self, task: Task, replay: Replay | None = None
    ) -> asyncio.Task[TaskResponse | None]:
        runner = self.runner_for(task, replay)
        interactive = task.conf is not None and task.conf.run_mode == RunMode.INTERACTIVE
        if interactive:
            self.stepping[task.id] = StepGate()
        runner.execution.parkable = (
            self.parking and not interactive and type(runner) in (EventRunner, CallRunner)
        )
        self._runners[task.id] = runner
        run = asyncio.create_task(runner.run(), name=f"task:{task.id}")
        self._runs[task.id] = run

        def finished(done: asyncio.Task[TaskResponse | None]) -> None:
            if self._runs.get(task.id) is not done:
                return  # a resumed run already took over the task
            self._runs.pop(task.id, None)
            self._runners.pop(task.id, None)
            self.stepping.pop(task.id, None)
            self.state.release(task.id)
            parked = not done.cancelled() and done.exception() is None and done.result() is None
            if not parked:  # a parked task keeps its (empty) log open for streams and waiters
                self.events.close_task(task.id)

        run.add_done_callback(finished)
        return run

    def park(self, task_id: str, callback_ids: list[str]) -> None:
        """Remember that a task dropped from memory waits on these callbacks."""
        for callback_id in callback_ids:
            self.callbacks.park(task_id, callback_id)

    async def _resume(self, task_id: str) -> None:
        """Rebuild a task's run from its log and continue it live."""
        parking = self._runs.get(task_id)
        if parking is not None:  # the parked run may still be unwinding
            await asyncio.wait([parking])
        await self.events.flush(task_id)
        replay = Replay(await self.store.read(task_id))
        if replay.task is None:
            raise NotFound(f"task {task_id} has no stored submission")
        await self.events.open_task(task_id, replay.task.session_id)
        self._launch(replay.task, replay)

    async def resume(self) -> int:
        """Continue every unfinished task that runs nowhere in this process, from its log:
        local ones here, engine ones as a new job of their engine (which replays the log too);
        tasks waiting on a callback stay parked until it is answered. Called at start (after
        a restart) and by the sweeper. Returns how many tasks were picked up."""
        picked = 0
        for record in await self.store.live_tasks():
            if self._adoptable(record.task_id):
                picked += await self._adopt(record.task_id)
        return picked

    def _adoptable(self, task_id: str) -> bool:
        """False for a task this process already runs, parks or hands to an engine."""
        return not (
            task_id in self._runs
            or task_id in self._accepting
            or task_id in self._engine_tasks
            or self.callbacks.parked(task_id)
        )

    async def _adopt(self, task_id: str) -> int:
        """Run a stored, unfinished task that runs nowhere here (1), or leave it (0)."""
        events = await self.store.read(task_id)
        if not self._adoptable(task_id):  # picked up by someone else during the read
            return 0
        replay = Replay(events)
        task = replay.task
        if task is None or (events and events[-1].is_terminal):
            return 0
        engine_name = task.engine or self.engine_name
        if engine_name != "local":
            engine = self.engines.get(engine_name)
            if engine is None or not self.control_plane:
                log.warning(
                    "task %s needs engine %r, which this server does not run", task_id, engine_name
                )
                return 0
            await self._submit_job(engine, task, fresh=False)
            return 1
        await self.events.open_task(task.id, task.session_id)
        pending = replay.pending_callbacks()
        if pending:
            self.park(task.id, [c.callback_id for c in pending])
        else:
            self._launch(task, replay)
        return 1

    async def _sweep_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)  # a period, not a synchronisation
            try:
                picked = await self.resume()
            except Exception:  # e.g. the store is closing; the next sweep tries again
                log.warning("sweeping unfinished tasks failed", exc_info=True)
                continue
            if picked:
                log.warning("picked up %d stored task(s) that ran nowhere", picked)

    def runner_for(self, task: Task, replay: Replay | None = None) -> Runner:
        """The runner a task asks for: a custom one by name, else by execution mode."""
        conf = task.conf
        name = (
            conf.runner
            if conf and conf.runner
            else (
                CallRunner.name
                if conf and conf.execution_mode == ExecutionMode.CALL_DRIVEN
                else EventRunner.name
            )
        )
        cls = self.registry.runners.get(name)
        if cls is None:
            raise NotFound(f"runner {name!r}")
        return cls(self, task, replay)

    async def wait(self, task_id: str) -> TaskResponse:
        """Wait for the task's terminal response."""
        run = self._runs.get(task_id)
        if run is not None:
            response = await asyncio.shield(run)
            if response is not None:
                return response
        # Not running here, or parked: follow the log to the terminal event.
        async for event in self.events.stream(task_id):
            if isinstance(event.body, TaskStatusChanged) and event.body.status.is_terminal:
                return event.body.response or TaskResponse(id=task_id, status=event.body.status)
        return (await self.get_task(task_id)).response

    async def run(self, task: Task, request_id: str = "") -> TaskResponse:
        """Submit a task and wait for its response."""
        result = await self.submit(task, request_id)
        return await self.wait(result.task_id)

    async def step(self, task_id: str) -> tuple[bool, str, TaskResponse | None]:
        """Let an interactive task take one agent step; see ``Runners.step``."""
        gate = self.stepping.get(task_id)
        run = self._runs.get(task_id)
        if gate is None or run is None:
            response = await self.wait(task_id)
            return True, response.answer.as_text() if response.answer else "", response
        await gate.grant()
        observed = asyncio.ensure_future(gate.observations.get())
        await asyncio.wait({observed, run}, return_when=asyncio.FIRST_COMPLETED)
        if not observed.done():
            observed.cancel()
            response = run.result() or await self.wait(task_id)  # interactive runs never park
            return True, response.answer.as_text() if response.answer else "", response
        idle = asyncio.ensure_future(gate.idle.wait())
        await asyncio.wait({idle, run}, return_when=asyncio.FIRST_COMPLETED)
        idle.cancel()
        if run.done():
            return True, observed.result(), run.result()
        return False, observed.result(), None

    async def cancel(self, task_id: str, reason: str = "") -> TaskStatus:
        """Cancel a live task; cancelling a finished one changes nothing."""
        if self._adoptable(task_id):
            record = await self.store.get_task(task_id)
            if record is not None and not record.status.is_terminal:
                await self._adopt(task_id)  # stored but running nowhere: run it to cancel it
        if self.callbacks.parked(task_id):
            for callback_id in self.callbacks.pending(task_id):
                self.callbacks.forget(callback_id)
            await self._resume(task_id)  # rebuilt, then cancelled like any running task
        runner = self._runners.get(task_id)
        engine = self.engines.get(self._engine_tasks.get(task_id, ""))
        if engine is not None:
            await engine.cancel(task_id)
            return (await self.wait(task_id)).status
        if runner is None:
            return (await self.get_task(task_id)).response.status
        runner.reason = reason
        if self.remote is not None:
            await self.remote.cancel_task(task_id, reason or "task_cancelled")
        runner.cancel()
        return (await self.wait(task_id)).status

    async def set_status(self, task_id: str, status: TaskStatus, reason: str = "") -> None:
        """Record a non-terminal status change of a live task."""
        response = TaskResponse(id=task_id, status=status, status_reason=reason)
        await self.events.emit(
            task_id, TaskStatusChanged(status=status, reason=reason, response=response)
        )

    async def complete_callback(
        self,
        task_id: str,
        callback_id: str,
        result: Payload | None = None,
        failure: Failure | None = None,
    ) -> TaskStatus:
        """Complete a pending callback with a result or a failure. Returns once the completion
        is on disk; the waiting task then resumes."""
        if (result is None) == (failure is None):
            raise InvalidArgument(
                "exactly one of result and failure is required",
                [FieldViolation("result", "set exactly one of result and failure")],
            )
        parked = self.callbacks.claim(task_id, callback_id)
        try:
            if parked:
                await self.events.open_task(task_id, "")
            await self.events.emit(
                task_id,
                InputProvided(callback_id=callback_id, value=result, failure=failure),
                sync=True,
            )
        except BaseException:
            self.callbacks.release(callback_id)
            raise
        if parked:
            self.callbacks.forget(callback_id)
            await self._resume(task_id)
        else:
            self.callbacks.resolve(callback_id, result.value() if result else None, failure)
        return TaskStatus.RUNNING

    async def provide_input(self, task_id: str, callback_id: str, value: Payload) -> TaskStatus:
        """Answer a request for human input (the same path as a callback)."""
        return await self.complete_callback(task_id, callback_id, result=value)

    def stream(
        self, task_id: str, after_seq: int = 0, *, follow: bool = True
    ) -> AsyncIterator[Event]:
        """The task's events after ``after_seq``; with ``follow``, live until terminal."""
        return self.events.stream(task_id, after_seq, follow=follow)

    async def get_task(self, task_id: str) -> TaskView:
        record = await self.store.get_task(task_id)
        if record is None:
            raise NotFound(f"task {task_id}")
        # The task is the first event and its latest response near the end: two short reads
        # from the index's last seq, never the whole log (a long task's log is large).
        task = Task(id=task_id)
        response = TaskResponse(id=task_id, status=record.status)
        first = await self.store.read(task_id, limit=1)
        if first and isinstance(first[0].body, TaskSubmitted) and first[0].body.task is not None:
            task = first[0].body.task
        tail = await self.store.read(task_id, after_seq=max(record.last_seq - _TAIL_EVENTS, 0))
        for event in reversed(tail):
            if isinstance(event.body, TaskStatusChanged) and event.body.response is not None:
                response = event.body.response
                break
        return TaskView(task, response, record.created_at, record.updated_at)

    async def task_state(self, task_id: str) -> tuple[TaskStatus, list[RunNode], list[NodeGroup]]:
        """The task's status and run-node tree, derived from its events."""
        record = await self.store.get_task(task_id)
        if record is None:
            raise NotFound(f"task {task_id}")
        await self.events.flush(task_id)
        nodes = fold_nodes(await self.store.read(task_id))
        return record.status, nodes, fold_groups(nodes)

    async def trajectory(self, task_id: str) -> list[TrajectoryItem]:
        """The task's trajectory, derived from its events."""
        if await self.store.get_task(task_id) is None:
            raise NotFound(f"task {task_id}")
        await self.events.flush(task_id)
        return build_trajectory(await self.store.read(task_id))

    # -- sessions -------------------------------------------------------------------------
    async def _touch_session(self, task: Task, *, new: bool = False) -> None:
        """Add the task to its session; ``new``: the session id was just generated."""
        session = self._sessions.get(task.session_id)
        if session is None and not new:
            session = await self.store.get_session(task.session_id)
        now = datetime.now(UTC)
        if session is None:
            session = Session(id=task.session_id, user_id=task.user_id, created_at=now)
        session.updated_at = now
        session.task_ids.append(task.id)
        self._sessions[session.id] = session
        await self.store.put_session(session)

    async def save_session(self, task: Task, context: Context) -> None:
        """Store the session-level state a task leaves behind."""
        if not context.session:
            return
        session = (
            self._sessions.get(task.session_id)
            or await self.store.get_session(task.session_id)
            or Session(id=task.session_id, user_id=task.user_id)
        )
        session.state = Payload.of(context.session)
        session.updated_at = datetime.now(UTC)
        self._sessions[session.id] = session
        await self.store.put_session(session)

    # -- handlers -------------------------------------------------------------------------
    def tool_spec(self, name: str, task: Task | None = None) -> HandlerSpec | None:
        """A tool's declaration: in-process, else by a worker of the task's namespace."""
        fn = self.registry.tools.get(name)
        if fn is not None:
            return fn.spec
        if self.remote is None:
            return None
        return self.remote.spec(name, HandlerKind.TOOL, _namespace(task))

    async def invoke_tool(
        self,
        name: str,
        arguments: Any,
        *,
        call_id: str,
        attempt: int,
        task: Task,
        context: Context,
        on_start: OnStart | None = None,
        require_idempotent: bool = False,
    ) -> Any:
        """One attempt of a tool call, in-process or on a worker. ``on_start`` is awaited
        just before the tool runs (for a remote tool: once a worker is chosen).
        ``require_idempotent``: an earlier attempt's outcome is unknown, so a non-idempotent
        tool fails with OutcomeUnknown instead of running.

        A remote tool that is known — declared by a worker before, or named by the task — but
        served by no worker now waits for one (schedule-to-start); a name nobody knows fails
        at once with ToolNotFound."""
        fn = self.registry.tools.get(name)
        if fn is not None:
            if require_idempotent and not fn.spec.idempotent:
                raise OutcomeUnknown(name, source="runtime")
            if on_start is not None:
                await on_start("")
            return await fn.invoke(arguments, context=context)
        if self._knows_remote(name, HandlerKind.TOOL, task):
            assert self.remote is not None
            return await self.remote.invoke(
                name,
                HandlerKind.TOOL,
                arguments,
                call_id=call_id,
                attempt=attempt,
                task=task,
                on_start=on_start,
                require_idempotent=require_idempotent,
            )
        raise _not_found("tool", name)

    def _knows_remote(self, name: str, kind: HandlerKind, task: Task | None) -> bool:
        if self.remote is None:
            return False
        if self.remote.spec(name, kind, _namespace(task)) is not None:
            return True
        return task is not None and (name, kind) in handler_names(task)

    async def invoke_hook(
        self,
        name: str,
        point: str,
        request: dict[str, Any],
        context: Context,
        task: Task | None = None,
    ) -> Any:
        """Run one hook, in-process or on a worker (waiting for one as tools do)."""
        fn = self.registry.hooks.get(name)
        if fn is not None:
            return await fn.invoke(request, context=context)
        if self._knows_remote(name, HandlerKind.HOOK, task):
            assert self.remote is not None
            return await self.remote.invoke(
                name,
                HandlerKind.HOOK,
                request,
                call_id=new_id(),
                attempt=1,
                task=None,
                hook_point=point,
                namespace=_namespace(task),
            )
        raise _not_found("hook", name)


def _namespace(task: Task | None) -> str:
    return namespace_of(task.headers) if task is not None else DEFAULT_NAMESPACE


def _not_found(kind: str, name: str) -> HandlerFailed:
    from aworld_client import Failure

    return HandlerFailed(
        Failure(
            type=f"{kind.capitalize()}NotFound",
            non_retryable=True,
            message=f"no {kind} named {name!r} is registered or served",
        )
    )
