"""``SparkEngine``: the control-plane side of the Spark engine.

Jobs run in *sessions*: a session is one Spark job of one partition,
``parallelize([group], 1).mapPartitions(run_session)``, that occupies one task slot and runs,
on its warm Python worker, every job the engine feeds it over the job feed (``_feed``) until the
engine ends it. A submitted job goes to the least busy session at once (a running session takes
more jobs while it runs others, so a slot never waits for a batch to drain); a new session is
opened when all are busy and a slot is free (``defaultParallelism``), and a session that has
nothing left to run is ended, giving its slot back. Each job's result comes back over the feed
the moment the job ends. Spark calls (``collect``, ``cancelJobGroup``, start and stop) run in
this engine's own threads, never on the event loop.

Each session has its own job group (cancelled as a whole on close). A single task is cancelled
through the feed: its runner records CANCELLED as on any engine (a job whose session is lost
while its cancel is on the way ends CANCELLED instead of running again). A lost Python worker
(killed process) fails its session's Spark job: every job of that session that had not reported
its end runs again per its task's retry policy, resuming from its log, or ends with
``EngineWorkerLost``; jobs that had ended are not touched. Spark's own task retries are turned
off (``spark.task.maxFailures=1``) so attempts are counted once, here.

Options: ``master`` (default ``local[2]``), ``app_name``, ``setup`` (see EngineHost),
``max_concurrency`` (jobs one session runs at once, default 1000; more wait at the engine),
``feed_host`` (where executors reach the job feed; default loopback for local masters, else
``spark.driver.host``), ``allow_plaintext_feed`` (default false) and ``conf`` (extra Spark
settings).

The job feed is plaintext TCP: every job on it carries its task's engine credential
(``TaskJob.token``) and each partition's hello the feed's secret, unencrypted. A loopback feed
(local masters) keeps them on this machine; any other address (a cluster master, whose feed
listens on ``spark.driver.host``, or a non-loopback ``feed_host``) is refused with a
``ValueError`` unless ``allow_plaintext_feed`` is true, and then logged as a WARNING when the
feed starts: allow it only where the network between driver and executors is trusted.

When this engine creates the SparkContext it sets ``PYSPARK_PYTHON`` to this interpreter unless
already set, so Python workers import the same packages.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aworld_server.engines import (
    JobResult,
    TaskJob,
    cancelled,
    decode_result,
    encode_job,
    next_attempt,
    worker_lost,
)
from pyspark import SparkConf, SparkContext

from aworld_engine_spark._feed import JobFeed, Link, is_loopback
from aworld_engine_spark._partition import run_session

__all__ = ["SparkEngine"]

log = logging.getLogger("aworld_engine_spark")

_context_lock = threading.Lock()

# How long a session that ended its Spark job may take to deliver the results it already sent
# (they are in the socket by then; this only bounds a connection that hangs).
_DRAIN_SECONDS = 10.0


@dataclass(eq=False)
class _Session:
    """One Spark job running jobs fed to it; ``jobs`` are those handed to it, not ended."""

    group: str
    jobs: dict[str, TaskJob] = field(default_factory=dict)
    link: Link | None = None  # once its partition said hello
    ending: bool = False  # told to end (or about to be): takes no more jobs


class SparkEngine:
    """Implements ``aworld_server.engines.Engine`` on Spark."""

    name = "spark"

    def __init__(self, options: dict[str, Any]) -> None:
        if "max_batch" in options:
            raise ValueError(
                "the Spark engine's max_batch option is gone: running sessions take jobs as "
                "they come; max_concurrency bounds the jobs one session runs at once"
            )
        self.master = str(options.get("master") or "local[2]")
        self.app_name = str(options.get("app_name") or "aworld")
        self.setup = str(options.get("setup") or "")
        self.max_concurrency = int(options.get("max_concurrency", 1000))
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        # Where partitions reach the job feed: loopback for local masters, else the driver.
        self.feed_host = str(options.get("feed_host") or "")
        if not self.feed_host and self.master.startswith("local"):
            self.feed_host = "127.0.0.1"
        self.allow_plaintext_feed = options.get("allow_plaintext_feed", False)
        if not isinstance(self.allow_plaintext_feed, bool):
            raise ValueError("allow_plaintext_feed must be true or false")
        # Decided here, before any Spark starts: an empty feed_host means spark.driver.host.
        if not is_loopback(self.feed_host) and not self.allow_plaintext_feed:
            raise ValueError(
                f"the Spark job feed would listen on {self.feed_host or 'spark.driver.host'} "
                f"(master {self.master}), not loopback: it is plaintext TCP and carries each "
                "task's engine credential. Set allow_plaintext_feed: true only on a trusted "
                "network, or feed_host to a loopback address"
            )
        self.conf: dict[str, str] = {k: str(v) for k, v in (options.get("conf") or {}).items()}
        self._sc: SparkContext | None = None
        self._started_spark = False
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="aworld-spark")
        # One thread per session, each blocked in its Spark job's collect: sized at start.
        self._session_threads: ThreadPoolExecutor | None = None
        self._queue: collections.deque[TaskJob] = collections.deque()
        self._slots = 1
        self._sessions: dict[str, _Session] = {}  # job group -> session
        self._session_of: dict[str, _Session] = {}  # task id -> the session running it
        self._waiting: dict[str, asyncio.Task[None]] = {}  # jobs in their retry backoff
        # Cancels sent down to a running job: if its session is lost before the job reports,
        # the job ends CANCELLED instead of running again.
        self._cancelling: set[str] = set()
        self._running: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[JobResult | None] = asyncio.Queue()
        self._feed: JobFeed | None = None
        self._closed = False

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._sc is not None:
            return
        self._sc = await self._in_thread(self._connect)
        assert self._sc is not None
        self._slots = max(1, int(self._sc.defaultParallelism))
        self._session_threads = ThreadPoolExecutor(
            max_workers=self._slots, thread_name_prefix="aworld-spark-session"
        )
        self._feed = JobFeed(
            self.feed_host or self._sc.getConf().get("spark.driver.host") or "127.0.0.1",
            self._attach,
            self._on_result,
            allow_plaintext=self.allow_plaintext_feed,
        )
        await self._feed.start()

    def _connect(self) -> SparkContext:
        with _context_lock:
            active = SparkContext._active_spark_context
            if active is not None:
                return active
            conf = (
                SparkConf()
                .setMaster(self.master)
                .setAppName(self.app_name)
                .set("spark.python.worker.reuse", "true")  # warm workers keep their host
                .set("spark.task.maxFailures", "1")  # retries are per task policy, here
                .set("spark.ui.enabled", "false")
                .set("spark.ui.showConsoleProgress", "false")
            )
            if not os.environ.get("PYSPARK_PYTHON"):
                # Python workers need this interpreter's packages (aworld-server, the plugin);
                # PySpark reads the worker interpreter from this variable only.
                os.environ["PYSPARK_PYTHON"] = sys.executable
            if self.master.startswith("local"):  # keep a local Spark on loopback
                conf.set("spark.driver.host", "127.0.0.1")
                conf.set("spark.driver.bindAddress", "127.0.0.1")
            for key, value in self.conf.items():
                conf.set(key, value)
            sc = SparkContext(conf=conf)
            sc.setLogLevel("ERROR")
            self._started_spark = True
            return sc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for waiting in self._waiting.values():
            waiting.cancel()
        sc = self._sc
        if sc is not None:  # only this engine's jobs: the context may be shared
            for group in list(self._sessions):
                await self._in_thread(sc.cancelJobGroup, group)
        if self._feed is not None:  # partitions still running see their feed close and stop
            await self._feed.close()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if sc is not None and self._started_spark:
            await self._in_thread(_stop, sc)
        self._threads.shutdown(wait=False)
        if self._session_threads is not None:
            self._session_threads.shutdown(wait=False)
        self._results.put_nowait(None)

    # -- jobs -----------------------------------------------------------------------------
    async def submit(self, job: TaskJob) -> None:
        if self._closed or self._sc is None:
            raise RuntimeError("the Spark engine is not started")
        self._queue.append(job)
        self._pump()

    def _pump(self) -> None:
        """Hand queued jobs to sessions: the least busy one, or a new one while a slot is free
        and every session has work (so both slots of ``local[2]`` run from the second job on)."""
        while self._queue and not self._closed:
            session = self._pick()
            if session is None:
                return  # every slot busy at max_concurrency, or ending: a session's end pumps
            job = self._queue.popleft()
            session.jobs[job.task_id] = job
            self._session_of[job.task_id] = session
            if session.link is not None:
                session.link.send_job(encode_job(job))
            # else: sent when its partition says hello (``_attach``)

    def _pick(self) -> _Session | None:
        open_ = [
            s
            for s in self._sessions.values()
            if not s.ending and len(s.jobs) < self.max_concurrency
        ]
        least = min(open_, key=lambda s: len(s.jobs), default=None)
        if (least is None or least.jobs) and len(self._sessions) < self._slots:
            return self._open()
        return least

    def _open(self) -> _Session:
        session = _Session(f"aworld-{uuid.uuid4().hex}")
        self._sessions[session.group] = session
        running = asyncio.create_task(self._run_session(session), name=session.group)
        self._running.add(running)
        running.add_done_callback(self._running.discard)
        return session

    def _attach(self, group: str, link: Link) -> bool:
        """A session's partition said hello: send what was handed to it meanwhile."""
        session = self._sessions.get(group)
        if session is None or session.link is not None:
            return False
        session.link = link
        for job in session.jobs.values():
            link.send_job(encode_job(job))
        self._end_if_idle(session)
        return True

    def _on_result(self, group: str, body: bytes) -> None:
        result = decode_result(body)
        session = self._sessions.get(group)
        if session is None or session.jobs.pop(result.task_id, None) is None:
            return  # not a job this session runs (already counted lost): not its end
        if self._session_of.get(result.task_id) is session:
            del self._session_of[result.task_id]
        self._cancelling.discard(result.task_id)
        self._results.put_nowait(result)
        self._pump()
        self._end_if_idle(session)

    def _end_if_idle(self, session: _Session) -> None:
        if not session.jobs and not session.ending and session.link is not None:
            session.ending = True
            session.link.send_end()

    async def _run_session(self, session: _Session) -> None:
        assert self._feed is not None
        error: Exception | None = None
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._session_threads, self._collect, session.group)
        except Exception as failed:
            error = failed
        finally:
            session.ending = True
            if session.link is not None:
                # Results the partition sent before its Spark job ended are still being read.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_DRAIN_SECONDS):
                        await session.link.closed.wait()
                session.link.abort()
            del self._sessions[session.group]
            lost = list(session.jobs.values())
            for job in lost:
                if self._session_of.get(job.task_id) is session:
                    del self._session_of[job.task_id]
            if lost:
                self._lost(lost, error or RuntimeError("the Spark task ended before its jobs"))
            self._pump()

    def _collect(self, group: str) -> None:
        assert self._sc is not None and self._feed is not None
        sc = self._sc
        # Job groups are per thread: this one tags the Spark job this call starts.
        sc.setJobGroup(group, "aworld tasks", interruptOnCancel=True)
        work = functools.partial(run_session, self.setup, self._feed.address, self._feed.secret)
        sc.parallelize([group.encode()], 1).mapPartitions(work).collect()

    def _lost(self, jobs: list[TaskJob], error: Exception) -> None:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        for job in jobs:
            if job.task_id in self._cancelling:  # it was being cancelled: do not run it again
                self._cancelling.discard(job.task_id)
                self._results.put_nowait(cancelled(job.task_id))
                continue
            again = None if self._closed else next_attempt(job)
            if again is None:
                self._results.put_nowait(worker_lost(job, self.name, detail[:500]))
                continue
            log.warning(
                "task %s: Spark job lost (%s); running it again (attempt %d)",
                job.task_id,
                detail[:200],
                again[0].attempt,
            )
            self._waiting[job.task_id] = asyncio.create_task(self._again(*again))

    async def _again(self, job: TaskJob, delay: float) -> None:
        try:
            await asyncio.sleep(delay)  # the policy's backoff, not a synchronisation
        finally:
            self._waiting.pop(job.task_id, None)
        self._queue.append(job)
        self._pump()

    async def results(self) -> AsyncIterator[JobResult]:
        while (result := await self._results.get()) is not None:
            yield result

    async def cancel(self, task_id: str) -> None:
        for job in self._queue:
            if job.task_id == task_id:
                self._queue.remove(job)
                self._results.put_nowait(cancelled(task_id))
                return
        waiting = self._waiting.pop(task_id, None)
        if waiting is not None:
            waiting.cancel()
            self._results.put_nowait(cancelled(task_id))
            return
        session = self._session_of.get(task_id)
        if session is None:
            return
        if session.link is None:  # not sent yet: it never will be
            del session.jobs[task_id], self._session_of[task_id]
            self._results.put_nowait(cancelled(task_id))
            return
        self._cancelling.add(task_id)
        session.link.send_cancel(task_id)


def _stop(sc: SparkContext) -> None:
    """Stop the context and the JVM gateway this process launched for it."""
    gateway = SparkContext._gateway
    sc.stop()
    if gateway is not None:
        process = getattr(gateway, "proc", None)
        gateway.shutdown()
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        SparkContext._gateway = None
        SparkContext._jvm = None
