"""``RayEngine``: the control-plane side of the Ray engine.

Jobs go to a pool of ``worker_num`` warm actors (least busy first); jobs handed over in the
same event-loop iteration go to an actor in one call (``run_each``), which streams each job's
result back as soon as that job ends. Nothing here blocks the event loop: Ray object refs are
awaited as futures, and ``ray.init`` / ``ray.kill`` / ``ray.shutdown`` run in a thread. The
jobs of an actor that died (its process was killed) run again on a restarted actor per their
task's retry policy, resuming from the task's log (one that had ended just reports its end);
otherwise they end with an ``EngineWorkerLost`` failure. Other actors' jobs are not affected.

Options (``ServerConfig.engine_options["ray"]`` and friends):

* ``address``: Ray cluster to join (``"auto"``, ``"ray://host:10001"``); empty starts a local
  instance (once per process; it is shut down by ``close`` only if this engine started it);
* ``num_cpus``: CPUs of a local instance (default: Ray's own default, all cores);
* ``worker_num``: actors in the pool (default 2); ``max_concurrency``: jobs per actor at once
  (default 1000: jobs are mostly waiting on I/O);
* ``setup``: ``"module:function"`` registering handlers in each actor (see EngineHost);
* ``runtime_env``: Ray runtime environment of the actors (e.g. ``{"env_vars": {...}}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from aworld_client import Failure
from aworld_server.engines import (
    JobResult,
    TaskJob,
    cancelled,
    decode_result,
    encode_job,
    next_attempt,
    worker_lost,
)

from aworld_engine_ray._actor import EngineWorker

__all__ = ["RayEngine"]

log = logging.getLogger("aworld_engine_ray")

_init_lock = threading.Lock()
_LOCAL_START_ATTEMPTS = 3
# A lost job is sent again only once the actors answer (a killed one is restarting; a job sent
# to it meanwhile fails at once and would spend another of the task's attempts): asked every
# _RESTART_POLL seconds, for at most _RESTART_PATIENCE, then sent anyway.
_RESTART_POLL = 0.2
_RESTART_PATIENCE = 60.0


def _startup_logs(lines: int = 15) -> str:
    """The end of the logs of Ray's newest local session: why its node did not come up."""
    logs = Path(tempfile.gettempdir()) / "ray" / "session_latest" / "logs"
    found = []
    for name in ("raylet.err", "raylet.out", "gcs_server.err", "dashboard_agent.log"):
        with contextlib.suppress(OSError):
            tail = (logs / name).read_text(errors="replace").splitlines()[-lines:]
            found.append(f"--- {logs / name}\n" + "\n".join(tail))
    return "\n".join(found) or f"(no logs under {logs})"


def _child_pids() -> set[int]:
    """Every process below this one (Linux /proc; elsewhere nothing, and nothing is killed)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # the command name (field 2) may hold spaces: the parent pid follows its ")"
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    todo = [os.getpid()]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


@dataclass(eq=False)
class _Job:
    job: TaskJob
    actor: int = -1  # index in the pool; -1 while waiting to run again
    waiter: asyncio.Task[None] | None = None


class RayEngine:
    """Implements ``aworld_server.engines.Engine`` on Ray actors."""

    name = "ray"

    def __init__(self, options: dict[str, Any]) -> None:
        self.address = str(options.get("address") or "")
        self.num_cpus: int | None = options.get("num_cpus")
        self.worker_num = int(options.get("worker_num", 2))
        self.max_concurrency = int(options.get("max_concurrency", 1000))
        self.setup = str(options.get("setup") or "")
        self.runtime_env: dict[str, Any] | None = options.get("runtime_env")
        if self.worker_num < 1:
            raise ValueError("worker_num must be at least 1")
        self._actors: list[Any] = []
        self._load: list[int] = []
        self._jobs: dict[str, _Job] = {}
        self._pending: list[_Job] = []  # dispatched in this loop iteration, not sent yet
        self._back: asyncio.Task[None] | None = None  # waiting for lost actors to answer
        self._results: asyncio.Queue[JobResult | None] = asyncio.Queue()
        self._started_ray = False
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._actors:
            return
        await asyncio.to_thread(self._connect)
        actor_class = ray.remote(EngineWorker).options(
            max_concurrency=self.max_concurrency,
            max_restarts=-1,  # a killed actor comes back; its lost jobs are retried by us
            max_task_retries=0,
            runtime_env=self.runtime_env,
        )
        self._actors = [actor_class.remote(self.setup) for _ in range(self.worker_num)]
        self._load = [0] * self.worker_num
        await asyncio.gather(*(actor.ready.remote() for actor in self._actors))

    def _connect(self) -> None:
        with _init_lock:
            if ray.is_initialized():
                return
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                self._start_local_ray()
            self._started_ray = True

    def _start_local_ray(self) -> None:
        """Start a local Ray instance, again if its node does not come up.

        Ray gives a new node a fixed 30 s to register with its GCS and then raises a plain
        ``Exception``; on a busy machine (or a cold first start) that can happen without
        anything being wrong. Starting is the runtime's to retry: the half-started processes
        of the failed attempt are killed (they are our children, started since) first."""
        for attempt in range(1, _LOCAL_START_ATTEMPTS + 1):
            before = _child_pids()
            try:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
                return
            except Exception as exc:
                if "timed out during startup" not in str(exc) or attempt == _LOCAL_START_ATTEMPTS:
                    raise
                log.warning(
                    "the local Ray node did not start (%s); starting it again (attempt %d of %d)"
                    "\n%s",
                    exc,
                    attempt + 1,
                    _LOCAL_START_ATTEMPTS,
                    _startup_logs(),
                )
                ray.shutdown()
                for pid in _child_pids() - before:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._back is not None:
            self._back.cancel()
        for job in list(self._jobs.values()):
            if job.waiter is not None:
                job.waiter.cancel()
        actors, self._actors = self._actors, []

        def release() -> None:
            for actor in actors:
                ray.kill(actor, no_restart=True)
            if self._started_ray and ray.is_initialized():
                ray.shutdown()

        await asyncio.to_thread(release)
        self._results.put_nowait(None)

    # -- jobs -----------------------------------------------------------------------------
    async def submit(self, job: TaskJob) -> None:
        if self._closed or not self._actors:
            raise RuntimeError("the Ray engine is not started")
        self._dispatch(_Job(job))

    def _dispatch(self, entry: _Job) -> None:
        index = min(range(len(self._actors)), key=self._load.__getitem__)
        entry.actor = index
        self._load[index] += 1
        self._jobs[entry.job.task_id] = entry
        if not self._pending:
            # Jobs handed over until the loop comes back to its queue leave together: one
            # actor call per actor instead of one per job (Ray's per-call cost is most of an
            # engine task's overhead once the control plane's is gone).
            asyncio.get_running_loop().call_soon(self._send)
        self._pending.append(entry)

    def _send(self) -> None:
        pending, self._pending = self._pending, []
        by_actor: dict[int, list[_Job]] = {}
        for entry in pending:
            if entry.actor >= 0 and self._jobs.get(entry.job.task_id) is entry:
                by_actor.setdefault(entry.actor, []).append(entry)
        for index, entries in by_actor.items():
            results = (
                self._actors[index]
                .run_each.options(num_returns="streaming")
                .remote([encode_job(e.job) for e in entries])
            )
            waiter = asyncio.create_task(self._await(entries, results))
            for entry in entries:
                entry.waiter = waiter

    async def _await(self, entries: list[_Job], results: Any) -> None:
        """The results of one actor call, each as its job ends. A lost actor loses those not
        ended yet; each runs again per its task's retry policy (one that had ended just
        reports it)."""
        waiting = dict(enumerate(entries))
        try:
            async for ref in results:
                index, payload = await ref
                entry = waiting.pop(index)
                self._load[entry.actor] -= 1
                self._report(entry, decode_result(payload))
        except ray.exceptions.RayActorError as error:
            for entry in waiting.values():
                self._load[entry.actor] -= 1
                entry.actor = -1
                again = None if self._closed else next_attempt(entry.job)
                if again is None:
                    self._report(entry, worker_lost(entry.job, self.name, type(error).__name__))
                    continue
                log.warning(
                    "task %s: Ray actor lost (%s); running it again (attempt %d)",
                    entry.job.task_id,
                    type(error).__name__,
                    again[0].attempt,
                )
                entry.waiter = asyncio.create_task(self._again(entry, *again))
        except Exception as error:
            failure = Failure.from_exception(error, source="ray")
            for entry in waiting.values():
                self._load[entry.actor] -= 1
                self._report(
                    entry, JobResult(entry.job.task_id, job_id=entry.job.job_id, failure=failure)
                )

    async def _again(self, entry: _Job, job: TaskJob, delay: float) -> None:
        await asyncio.sleep(delay)  # the policy's backoff, not a synchronisation
        if self._back is None or self._back.done():  # one check shared by every lost job
            self._back = asyncio.create_task(self._actors_back())
        await asyncio.shield(self._back)
        if self._jobs.get(job.task_id) is entry:
            self._dispatch(_Job(job))

    async def _actors_back(self) -> None:
        """Return once every actor answers, or after ``_RESTART_PATIENCE``. A restart is the
        runtime's trouble to wait out: on a busy machine it takes seconds, and each call sent
        meanwhile fails with ActorUnavailableError, which would count against the task."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _RESTART_PATIENCE
        for actor in self._actors:
            while True:
                try:
                    await asyncio.wait_for(actor.ready.remote(), deadline - loop.time())
                    break
                except TimeoutError:
                    return  # sent anyway: its failure, if any, counts as an attempt
                except ray.exceptions.ActorUnavailableError:
                    if loop.time() >= deadline:
                        return
                    # Ray tells of a restart's end only by answering; ask again shortly.
                    await asyncio.sleep(_RESTART_POLL)
                except ray.exceptions.RayActorError:
                    break  # gone for good: sending the job finds out, and counts it

    def _report(self, entry: _Job, result: JobResult) -> None:
        if self._jobs.get(entry.job.task_id) is entry:
            del self._jobs[entry.job.task_id]
        self._results.put_nowait(result)

    async def results(self) -> AsyncIterator[JobResult]:
        while (result := await self._results.get()) is not None:
            yield result

    async def cancel(self, task_id: str) -> None:
        entry = self._jobs.get(task_id)
        if entry is None:
            return
        if entry.actor < 0:  # waiting to run again: it never will
            if entry.waiter is not None:
                entry.waiter.cancel()
            del self._jobs[task_id]
            self._results.put_nowait(cancelled(task_id))
            return
        await self._actors[entry.actor].cancel.remote(task_id)
