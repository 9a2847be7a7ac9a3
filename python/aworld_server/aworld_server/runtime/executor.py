"""``TaskExecutor``: accepting, launching, parking, resuming, stepping and cancelling tasks.

A task is accepted once its ``TaskSubmitted`` is on disk; from then on it is the runtime's to
finish: it runs here as an asyncio task (local engine) or as a job of a plugin engine, leaves
memory while it waits on a callback (parked) and is rebuilt from its log when the answer
arrives, after a restart (``resume``), or when a sweep finds it running nowhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Collection
from typing import Any, Protocol, TypeVar

from aworld_client import (
    ExecutionMode,
    Failure,
    InputProvided,
    Payload,
    RunMode,
    Task,
    TaskResponse,
    TaskStatus,
    TaskStatusChanged,
    TaskSubmitted,
)

from aworld_server.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from aworld_server.ids import new_id
from aworld_server.runners import CallRunner, EventRunner, RunContext, Runner
from aworld_server.runners.replay import Replay
from aworld_server.runners.stepping import StepGate
from aworld_server.runtime.engine_jobs import EngineJobs
from aworld_server.runtime.gateway import Handlers
from aworld_server.runtime.reader import TaskReader
from aworld_server.runtime.sessions import Sessions
from aworld_server.storage import EventStore
from aworld_server.validation import validate_task

__all__ = ["SubmitResult", "TaskExecutor"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Replicated(Protocol):
    """What the executor needs of the replicas sharing its store (``aworld_server.replicas``)."""

    replica_id: str
    route_timeout: float
    lease_ttl: float

    def holds(self, task_id: str) -> bool: ...

    async def acquire(self, task_id: str) -> bool: ...

    async def owner(self, task_id: str) -> str | None: ...

    async def takeable_live(self) -> list[str]: ...

    async def ask(self, owner: str, op: str, task_id: str, args: dict[str, Any]) -> Any: ...


@dataclasses.dataclass(slots=True, frozen=True)
class SubmitResult:
    """What a submit accepted: the task id, its session, and whether this call created it."""

    task_id: str
    session_id: str
    created: bool


async def _detached(work: Awaitable[T]) -> T:
    """Await ``work`` as its own task: cancelling the caller stops the wait, not the work."""
    task = asyncio.ensure_future(work)
    # A failure nobody waits for any more is still retrieved, so the loop does not log it.
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return await asyncio.shield(task)


class TaskExecutor:
    """Runs the tasks of one runtime."""

    def __init__(
        self,
        ctx: RunContext,
        store: EventStore,
        *,
        handlers: Handlers,
        sessions: Sessions,
        reader: TaskReader,
        engines: EngineJobs,
        default_engine: str = "local",
        parking: bool = True,
        mcp_servers: Collection[str] = (),
    ) -> None:
        self._ctx = ctx
        self._mcp_servers = mcp_servers  # configured MCP servers tasks may name (a live set)
        self._store = store
        self._events = ctx.events
        self._handlers = handlers
        self._sessions = sessions
        self._reader = reader
        self._engines = engines
        self._default_engine = default_engine
        # Drop runs that wait on a callback from memory; rebuild them from the log on answer.
        self._parking = parking
        self.runners: dict[str, type[Runner]] = {
            EventRunner.name: EventRunner,
            CallRunner.name: CallRunner,
        }
        self._runs: dict[str, asyncio.Task[TaskResponse | None]] = {}
        self._running: dict[str, Runner] = {}
        self._gates: dict[str, StepGate] = {}
        self._submitting: dict[str, asyncio.Task[SubmitResult]] = {}
        self._accepting: set[str] = set()  # tasks between their store write and their launch
        self._sweeper: asyncio.Task[None] | None = None
        self._children: dict[str, set[str]] = {}  # parent task id -> its sub-tasks
        self._cancelling: set[asyncio.Task[None]] = set()
        # Replicas sharing one Redis (``Replicas.attach``): a task runs here only while this
        # replica holds its lease; requests about a task another replica runs go to it.
        self.replicas: Replicated | None = None
        self._adopting: set[str] = set()  # tasks between their lease and their launch

    # -- what runs ------------------------------------------------------------------------
    @property
    def live_tasks(self) -> int:
        """Tasks running in this process now."""
        return len(self._runs)

    def running(self, task_id: str) -> bool:
        """True while the task's runner runs in this process."""
        return task_id in self._running

    def interactive(self, task_id: str) -> bool:
        """True while the task runs here one step per grant (``step``)."""
        return task_id in self._gates

    def engine_names(self) -> list[str]:
        return ["local", *self._engines.names()]

    # -- accepting ------------------------------------------------------------------------
    def validate(self, task: Task) -> None:
        validate_task(
            task,
            runners=self.runners,
            engines=self.engine_names(),
            agents=self._ctx.registry.agents,
            models=self._ctx.models,
            mcp_servers=self._mcp_servers,
        )

    async def submit(self, task: Task, request_id: str = "") -> SubmitResult:
        """Validate and durably store a task, then start it. Idempotent on ``request_id``:
        concurrent and later submits with the same id return the first task (and start it if
        it is stored but runs nowhere).

        The work runs as its own asyncio task: a caller that gives up (a client deadline)
        stops waiting for it, never the work itself, so a stored task is always launched."""
        if not request_id:
            self.validate(task)
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
        record = await self._store.find_task_by_request_id(request_id)
        if record is None:
            self.validate(task)
            try:
                return await self._accept(task, request_id)
            except FailedPrecondition as error:
                # Another replica stored a task under this request id meanwhile: it is the one.
                record = await self._store.find_task_by_request_id(request_id)
                if record is None or "request_id already used" not in str(error):
                    raise
                self._events.close_task(task.id)
        if not record.status.is_terminal:
            await self._adopt(record.task_id)
        return SubmitResult(record.task_id, record.session_id, created=False)

    async def _accept(self, task: Task, request_id: str) -> SubmitResult:
        # An id generated here names nothing stored yet, so its store lookups are skipped.
        new_task, new_session = not task.id, not task.session_id
        task.id = task.id or new_id()
        if not new_task and await self._store.get_task(task.id) is not None:
            raise FailedPrecondition(f"task {task.id} already exists")
        engine = self._engines.engines.get(task.engine or self._default_engine)
        if engine is not None and not self._engines.control_plane:
            raise FailedPrecondition(
                f"engine {engine.name!r} runs tasks in other processes, which call back to the "
                "control plane: serve this runtime (aworld_server.server.start_server)"
            )
        task.session_id = task.session_id or new_id()
        self._accepting.add(task.id)  # the sweeper leaves it alone until it is launched
        try:
            if self.replicas is not None and not await self.replicas.acquire(task.id):
                raise FailedPrecondition(f"task {task.id} already exists")
            await self._sessions.add_task(task, new=new_session)
            await self._events.open_task(task.id, task.session_id, new=new_task)
            await self._events.emit(
                task.id, TaskSubmitted(task=task, request_id=request_id), sync=True
            )
            if engine is None:
                self._launch(task)
            else:
                # With its session as just stored: a first run need not read it back.
                await self._engines.submit(
                    engine, task, session=self._sessions.cached(task.session_id)
                )
        finally:
            self._accepting.discard(task.id)
        return SubmitResult(task.id, task.session_id, created=True)

    # -- running --------------------------------------------------------------------------
    def runner_for(self, task: Task, replay: Replay | None = None) -> Runner:
        """The runner a task asks for: a custom one by name, else by execution mode."""
        conf = task.conf
        if conf and conf.runner:
            name = conf.runner
        elif conf and conf.execution_mode == ExecutionMode.CALL_DRIVEN:
            name = CallRunner.name
        else:
            name = EventRunner.name
        cls = self.runners.get(name)
        if cls is None:
            raise NotFound(f"runner {name!r}")
        interactive = conf is not None and conf.run_mode == RunMode.INTERACTIVE
        gate = StepGate() if interactive else None
        ctx = dataclasses.replace(
            self._ctx,
            stepping=gate,
            # Only runs a replay can rebuild may leave memory: built-in, not interactive ones.
            parkable=self._parking and not interactive and cls in (EventRunner, CallRunner),
        )
        if gate is not None:
            self._gates[task.id] = gate
        return cls(ctx, task, replay)

    async def run_submitted(self, task: Task) -> TaskResponse | None:
        """Run a task whose log already holds its TaskSubmitted: an engine worker's entry
        point, with the store forwarding to the control plane's log. The log continues from its
        last seq; a log with more than TaskSubmitted (the job of a lost worker, run again) is
        replayed first, so steps and tool calls that finished are not run again, and a log
        that already ended returns its response without running anything."""
        await self._events.open_task(task.id, task.session_id)
        replay: Replay | None = None
        if await self._store.last_seq(task.id) > 1:
            events = await self._store.read(task.id)
            last = events[-1].body if events else None
            if isinstance(last, TaskStatusChanged) and last.status.is_terminal:
                self._events.close_task(task.id)
                return last.response or TaskResponse(id=task.id, status=last.status)
            replay = Replay(events)
        return await self._launch(task, replay)

    def _launch(
        self, task: Task, replay: Replay | None = None
    ) -> asyncio.Task[TaskResponse | None]:
        runner = self.runner_for(task, replay)
        self._running[task.id] = runner
        run = asyncio.create_task(runner.run(), name=f"task:{task.id}")
        self._runs[task.id] = run

        def finished(done: asyncio.Task[TaskResponse | None]) -> None:
            if self._runs.get(task.id) is not done:
                return  # a resumed run already took over the task
            self._runs.pop(task.id, None)
            self._running.pop(task.id, None)
            self._gates.pop(task.id, None)
            self._ctx.state.release(task.id)
            parked = not done.cancelled() and done.exception() is None and done.result() is None
            if not parked:  # a parked task keeps its (empty) log open for streams and waiters
                self._events.close_task(task.id)
            children = self._children.pop(task.id, set()) if not parked else set()
            if children and not done.cancelled():  # ended (a shutdown is no end): stop them
                stopping = asyncio.ensure_future(self._cancel_all(children, "parent_ended"))
                self._cancelling.add(stopping)
                stopping.add_done_callback(self._cancelling.discard)

        run.add_done_callback(finished)
        return run

    # -- resuming -------------------------------------------------------------------------
    async def _resume(self, task_id: str) -> None:
        """Rebuild a task's run from its log and continue it live."""
        parking = self._runs.get(task_id)
        if parking is not None:  # the parked run may still be unwinding
            await asyncio.wait([parking])
        await self._events.flush(task_id)
        replay = Replay(await self._store.read(task_id))
        if replay.task is None:
            raise NotFound(f"task {task_id} has no stored submission")
        await self._events.open_task(task_id, replay.task.session_id)
        self._launch(replay.task, replay)

    async def resume(self) -> int:
        """Continue every unfinished task that runs nowhere in this process, from its log:
        local ones here, engine ones as a new job of their engine (which replays the log too);
        tasks waiting on a callback stay parked until it is answered. Called at start (after
        a restart) and by the sweeper. Returns how many tasks were picked up."""
        picked = 0
        if self.replicas is None:
            candidates = [r.task_id for r in await self._store.live_tasks()]
        else:  # one script call: not every live task's record, most are held by others
            candidates = await self.replicas.takeable_live()
        for task_id in candidates:
            if self._adoptable(task_id):
                picked += await self._adopt(task_id)
        return picked

    def _adoptable(self, task_id: str) -> bool:
        """False for a task this process already runs, parks or hands to an engine."""
        return not (
            task_id in self._runs
            or task_id in self._accepting
            or self._engines.runs(task_id)
            or self._ctx.callbacks.parked(task_id)
        )

    def here(self, task_id: str) -> bool:
        """True while the task runs, parks, starts or is handed to an engine here (its lease
        stays held while it is)."""
        return not self._adoptable(task_id) or task_id in self._adopting

    async def _adopt(self, task_id: str) -> int:
        """Run a stored, unfinished task that runs nowhere here (1), or leave it (0)."""
        if self.replicas is None:
            return await self._adopt_leased(task_id)
        if task_id in self._adopting:
            return 0  # being adopted here already
        self._adopting.add(task_id)
        try:
            if not await self.replicas.acquire(task_id):
                return 0  # another replica runs it
            return await self._adopt_leased(task_id)
        finally:
            self._adopting.discard(task_id)

    async def _adopt_leased(self, task_id: str) -> int:
        events = await self._store.read(task_id)
        if not self._adoptable(task_id):  # picked up by someone else during the read
            return 0
        replay = Replay(events)
        task = replay.task
        if task is None or (events and events[-1].is_terminal):
            return 0
        engine_name = task.engine or self._default_engine
        if engine_name != "local":
            engine = self._engines.engines.get(engine_name)
            if engine is None or not self._engines.control_plane:
                log.warning(
                    "task %s needs engine %r, which this server does not run", task_id, engine_name
                )
                return 0
            await self._engines.submit(engine, task, fresh=False)
            return 1
        await self._events.open_task(task.id, task.session_id)
        pending = replay.pending_callbacks()
        if pending:
            for callback in pending:
                self._ctx.callbacks.park(task.id, callback.callback_id)
        else:
            self._launch(task, replay)
        return 1

    def start_sweeping(self, interval: float) -> None:
        """Every ``interval`` seconds, pick up stored tasks that run nowhere (as at start)."""
        self._sweeper = asyncio.create_task(self._sweep_every(interval), name="runtime:sweeper")

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

    # -- waiting and steering -------------------------------------------------------------
    async def wait(self, task_id: str) -> TaskResponse:
        """Wait for the task's terminal response."""
        run = self._runs.get(task_id)
        if run is not None:
            response = await asyncio.shield(run)
            if response is not None:
                return response
        # Not running here, or parked: follow the log to the terminal event.
        return await self._reader.follow_to_end(task_id)

    async def step(self, task_id: str) -> tuple[bool, str, TaskResponse | None]:
        """Let an interactive task take one agent step; see ``Runners.step``."""
        gate = self._gates.get(task_id)
        run = self._runs.get(task_id)
        if gate is None or run is None:
            response = await self.wait(task_id)
            return True, _answer_text(response), response
        await gate.grant()
        observed = asyncio.ensure_future(gate.observations.get())
        await asyncio.wait({observed, run}, return_when=asyncio.FIRST_COMPLETED)
        if not observed.done():
            observed.cancel()
            response = run.result() or await self.wait(task_id)  # interactive runs never park
            return True, _answer_text(response), response
        idle = asyncio.ensure_future(gate.idle.wait())
        await asyncio.wait({idle, run}, return_when=asyncio.FIRST_COMPLETED)
        idle.cancel()
        if run.done():
            return True, observed.result(), run.result()
        return False, observed.result(), None

    async def cancel(self, task_id: str, reason: str = "") -> TaskStatus:
        """Cancel a live task; cancelling a finished one changes nothing."""
        answer = await self._routed(task_id, "cancel", {"reason": reason})
        if answer is not None:
            return TaskStatus(int(answer))
        return await self.cancel_here(task_id, reason)

    async def cancel_here(self, task_id: str, reason: str = "") -> TaskStatus:
        """``cancel`` in this process (with replicas: the task's owner)."""
        callbacks = self._ctx.callbacks
        if self._adoptable(task_id):
            record = await self._store.get_task(task_id)
            if record is not None and not record.status.is_terminal:
                await self._adopt(task_id)  # stored but running nowhere: run it to cancel it
        if callbacks.parked(task_id):
            for callback_id in callbacks.pending(task_id):
                callbacks.forget(callback_id)
            await self._resume(task_id)  # rebuilt, then cancelled like any running task
        on_engine = await self._engines.cancel(task_id, self.wait)
        if on_engine is not None:
            return on_engine
        runner = self._running.get(task_id)
        if runner is None:
            return (await self._reader.get(task_id)).response.status
        runner.reason = reason
        await self._handlers.cancel_calls(task_id, reason or "task_cancelled")
        runner.cancel()
        return (await self.wait(task_id)).status

    def adopt_child(self, parent_id: str, child_id: str) -> None:
        """Note a sub-task: it is cancelled when its parent is, or ends."""
        self._children.setdefault(parent_id, set()).add(child_id)

    async def _cancel_all(self, task_ids: set[str], reason: str) -> None:
        for task_id in task_ids:
            record = await self._store.get_task(task_id)
            if record is not None and not record.status.is_terminal:
                await self.cancel(task_id, reason)

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
        if self.replicas is not None:
            args = {
                "callback_id": callback_id,
                "result": result.to_bytes() if result is not None else None,
                "failure": failure.to_bytes() if failure is not None else None,
            }
            answer = await self._routed(task_id, "complete_callback", args)
            if answer is not None:
                return TaskStatus(int(answer))
        return await self.complete_callback_here(task_id, callback_id, result, failure)

    async def complete_callback_here(
        self,
        task_id: str,
        callback_id: str,
        result: Payload | None = None,
        failure: Failure | None = None,
    ) -> TaskStatus:
        """``complete_callback`` in this process (with replicas: the task's owner)."""
        callbacks = self._ctx.callbacks
        parked = callbacks.claim(task_id, callback_id)
        try:
            if parked:
                await self._events.open_task(task_id, "")
            await self._events.emit(
                task_id,
                InputProvided(callback_id=callback_id, value=result, failure=failure),
                sync=True,
            )
        except BaseException:
            callbacks.release(callback_id)
            raise
        if parked:
            callbacks.forget(callback_id)
            await self._resume(task_id)
        else:
            callbacks.resolve(callback_id, result.value() if result else None, failure)
        return TaskStatus.RUNNING

    # -- replicas -------------------------------------------------------------------------
    async def _routed(self, task_id: str, op: str, args: dict[str, Any]) -> Any:
        """With replicas, the answer to ``op`` from the replica that runs the task; None to act
        here: no replicas, the task runs here (or just started to: it ran nowhere), or it is
        unknown or finished (answered here from the store)."""
        replicas = self.replicas
        if replicas is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + replicas.route_timeout
        while True:
            if replicas.holds(task_id) or not self._adoptable(task_id):
                return None
            record = await self._store.get_task(task_id)
            if record is None or record.status.is_terminal:
                return None
            if await self._adopt(task_id):
                return None  # it ran nowhere: now it runs here
            owner = await replicas.owner(task_id)
            if owner is not None and owner != replicas.replica_id:
                answer = await replicas.ask(owner, op, task_id, args)
                if answer is not None:
                    return answer
            if loop.time() > deadline:
                raise Unavailable(f"the replica that runs task {task_id} does not answer")
            # The owner is moving (its lease expired, or it just let the task go): look again.
            await asyncio.sleep(replicas.lease_ttl / 10)  # a retry period

    def drop(self, task_id: str) -> None:
        """Stop the task's run here without recording anything, as a shutdown does: another
        replica took its lease over (or Redis was away for a whole lease)."""
        callbacks = self._ctx.callbacks
        for callback_id in callbacks.pending(task_id):
            callbacks.forget(callback_id)
        run = self._runs.get(task_id)
        if run is not None:
            run.cancel()
        else:
            self._events.close_task(task_id)  # parked: streams here go on from the store

    # -- stopping -------------------------------------------------------------------------
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

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for running tasks to finish (before a shutdown)."""
        runs: list[asyncio.Future[Any]] = list(self._runs.values())
        remote = [asyncio.ensure_future(self.wait(t)) for t in self._engines.task_ids()]
        if runs or remote:
            await asyncio.wait([*runs, *remote], timeout=timeout)
        for waiting in remote:
            waiting.cancel()


def _answer_text(response: TaskResponse) -> str:
    return response.answer.as_text() if response.answer else ""
