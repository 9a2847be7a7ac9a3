"""``EngineHost``: what an engine worker process (a Ray actor, a Spark Python worker) runs.

It keeps one engine-side :class:`Runtime` per control plane, warm across jobs: its store
forwards the task's log to the control plane (:class:`ControlPlaneStore`), its remote handlers
go through the control plane (:class:`ControlPlaneHandlers`), and its local handlers come from
the ``setup`` import path (``"module:function"``, called with the Runtime once per process) —
the same handlers the server registers, imported rather than pickled. A job rebuilds the task
from its bytes and runs the normal runner (``Runtime.run_submitted``).

A job that names a collector (``TaskJob.trace_endpoint``) makes the process export its spans
there, set up once per process, and each job's spans are flushed before its result goes back
(see :mod:`.tracing`).

``run`` never raises for a job's own trouble: it returns the job's result, with a failure when
the runner could not record the task's end itself.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence
from typing import Any

from aworld_client import Failure, Session, Task

from aworld_server.engine_worker.control_plane import ControlPlane
from aworld_server.engine_worker.control_plane_handlers import ControlPlaneHandlers
from aworld_server.engine_worker.control_plane_store import ControlPlaneStore
from aworld_server.engine_worker.tracing import SpanFlusher, export_spans
from aworld_server.engines.base import JobResult, TaskJob
from aworld_server.engines.recovery import cancelled
from aworld_server.engines.wire import decode_job, encode_result
from aworld_server.handlers.named import handler_names
from aworld_server.runtime import Runtime

__all__ = ["EngineHost", "load_setup"]

_CANCELLED_KEPT = 10_000  # cancels that arrived before their job, remembered at most

Setup = Callable[[Any], None]


def load_setup(path: str) -> Setup | None:
    """The ``setup(runtime)`` function named by ``"package.module:function"``; None for ""."""
    if not path:
        return None
    module, _, attr = path.partition(":")
    if not module or not attr:
        raise ValueError(f"setup must look like 'package.module:function', got {path!r}")
    function = getattr(importlib.import_module(module), attr)
    if not callable(function):
        raise TypeError(f"{path} is not callable")
    return function  # type: ignore[no-any-return]


class _Side:
    """One control plane as seen from this worker: its connection and the Runtime for it."""

    def __init__(
        self,
        control_plane: ControlPlane,
        runtime: Runtime,
        store: ControlPlaneStore,
        handlers: ControlPlaneHandlers,
    ) -> None:
        self.control_plane = control_plane
        self.runtime = runtime
        self.store = store
        self.handlers = handlers


class EngineHost:
    """Runs jobs in one engine worker process. All methods run on the worker's event loop."""

    def __init__(self, engine: str, setup: str = "") -> None:
        self.engine = engine
        self.setup = setup
        self._sides: dict[tuple[str, str], _Side] = {}
        self._opening: dict[tuple[str, str], asyncio.Future[_Side]] = {}
        self._running: dict[str, asyncio.Future[JobResult]] = {}
        self._sides_of: dict[str, _Side] = {}
        self._cancelled: dict[str, None] = {}  # ordered set
        self._spans = SpanFlusher()

    async def _side(self, address: str, token: str) -> _Side:
        key = (address, token)
        side = self._sides.get(key)
        if side is not None:
            return side
        opening = self._opening.get(key)
        if opening is not None:
            return await asyncio.shield(opening)
        future: asyncio.Future[_Side] = asyncio.get_running_loop().create_future()
        self._opening[key] = future
        try:
            side = await self._open(address, token)
            self._sides[key] = side
            future.set_result(side)
            return side
        except BaseException as error:
            future.set_exception(error)
            future.exception()
            raise
        finally:
            del self._opening[key]

    async def _open(self, address: str, token: str) -> _Side:
        control_plane = ControlPlane(address, token)
        store = ControlPlaneStore(control_plane)
        handlers = ControlPlaneHandlers(control_plane, store.jobs)
        runtime = Runtime(
            store=store,
            remote=handlers,
            engine=self.engine,
            parking=False,  # a parked run could not be woken here: see the handlers
            subtasks=False,  # sub-tasks are started at the control plane, not on a worker
        )
        setup = load_setup(self.setup)
        if setup is not None:
            setup(runtime)
        await runtime.start(resume=False, sweep_interval=0)  # the engine re-runs lost jobs
        return _Side(control_plane, runtime, store, handlers)

    async def run(self, payload: bytes) -> bytes:
        """Run one job (``wire.encode_job`` bytes); returns ``wire.encode_result`` bytes."""
        job = decode_job(payload)
        export_spans(job.trace_endpoint, job.trace_service)  # the first such job sets it up
        if job.task_id in self._cancelled:  # cancelled before it arrived
            del self._cancelled[job.task_id]
            return encode_result(cancelled(job.task_id))
        work = asyncio.ensure_future(self._run(job))
        self._running[job.task_id] = work
        try:
            result = await asyncio.shield(work)
        except asyncio.CancelledError:
            if not work.cancelled():
                work.cancel()
                raise
            result = cancelled(job.task_id)  # cancelled before its runner started
        except Exception as error:
            result = JobResult(
                job.task_id,
                job_id=job.job_id,
                failure=Failure.from_exception(error, source=f"engine:{self.engine}"),
            )
        finally:
            self._running.pop(job.task_id, None)
        # The job's spans leave before its result: the engine may end this process right after.
        await self._spans.flush()
        return encode_result(result)

    async def _run(self, job: TaskJob) -> JobResult:
        task_id = job.task_id
        side = await self._side(job.control_plane, job.token)
        self._sides_of[task_id] = side
        side.store.jobs[task_id] = job.job_id  # every write and call says which job it is
        if job.attempt == 1 and job.fresh:
            # The control plane hands over a task right after storing its TaskSubmitted (seq
            # 1), so a first run needs no OpenTask call; later runs ask (the log grew).
            side.store.seed(task_id, 1)
            if job.session:  # the session as handed over: no GetSession to start from
                side.store.seed_session(task_id, Session.from_bytes(job.session))
        try:
            task = Task.from_bytes(job.task)
            registry = side.runtime.registry
            local = {**registry.tools, **registry.hooks, **registry.agents}
            await side.handlers.ensure(key for key in handler_names(task) if key[0] not in local)
            response = await side.runtime.executor.run_submitted(task)
            if response is None:
                raise RuntimeError("the task parked on a callback, which engine tasks cannot")
            return JobResult(task_id, response=response, job_id=job.job_id)
        finally:
            del self._sides_of[task_id]
            side.store.forget(task_id)

    async def run_many(self, payloads: Sequence[bytes]) -> list[bytes]:
        """Run jobs concurrently; one result per job, in order."""
        return list(await asyncio.gather(*(self.run(payload) for payload in payloads)))

    async def cancel(self, task_id: str) -> None:
        """Cancel a job: its runner records CANCELLED; a job whose runner has not started yet
        ends CANCELLED at once, and one that has not arrived yet when it arrives."""
        work = self._running.get(task_id)
        if work is None:
            self._cancelled[task_id] = None
            while len(self._cancelled) > _CANCELLED_KEPT:
                del self._cancelled[next(iter(self._cancelled))]
            return
        side = self._sides_of.get(task_id)
        if side is not None and side.runtime.running(task_id):
            await side.runtime.cancel(task_id, "cancelled")
        else:
            work.cancel()

    async def close(self) -> None:
        for side in self._sides.values():
            await side.runtime.close()
            await side.control_plane.close()
        self._sides.clear()
