"""``SparkEngine``: the control-plane side of the Spark engine.

Submitted jobs queue here and leave in batches: whenever fewer Spark jobs run than the cluster
has task slots (``defaultParallelism``), what is queued is spread over the free slots (at most
``max_batch`` per batch), each batch one Spark job of one partition,
``parallelize(records, 1).mapPartitions(run_partition)``, whose
Python worker runs the batch concurrently on its warm EngineHost. Under load, batches grow; a
lone task leaves at once. Spark calls (``collect``, ``cancelJobGroup``, start and stop) run in
this engine's own threads, never on the event loop.

Each Spark job has its own job group (cancelled as a whole on close). A single task is cancelled
cooperatively through the cancel feed (see ``_feed``). A lost Python worker (killed process)
fails its Spark job: every task of that batch runs again per its retry policy, resuming from its
log (finished ones just report their end), or ends with ``EngineWorkerLost``. Spark's own task
retries are turned off (``spark.task.maxFailures=1``) so attempts are counted once, here.

Options: ``master`` (default ``local[2]``), ``app_name``, ``setup`` (see EngineHost),
``max_batch`` (default 1000), ``feed_host`` (where executors reach the cancel feed; default
loopback for local masters, else ``spark.driver.host``) and ``conf`` (extra Spark settings).
When this engine creates the SparkContext it sets ``PYSPARK_PYTHON`` to this interpreter unless
already set, so Python workers import the same packages.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

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

from aworld_engine_spark._feed import CancelFeed
from aworld_engine_spark._partition import run_partition

__all__ = ["SparkEngine"]

log = logging.getLogger("aworld_engine_spark")

T = TypeVar("T")

_context_lock = threading.Lock()


class SparkEngine:
    """Implements ``aworld_server.engines.Engine`` on Spark."""

    name = "spark"

    def __init__(self, options: dict[str, Any]) -> None:
        self.master = str(options.get("master") or "local[2]")
        self.app_name = str(options.get("app_name") or "aworld")
        self.setup = str(options.get("setup") or "")
        self.max_batch = int(options.get("max_batch", 1000))
        # Where partitions reach the cancel feed: loopback for local masters, else the driver.
        self.feed_host = str(options.get("feed_host") or "")
        if not self.feed_host and self.master.startswith("local"):
            self.feed_host = "127.0.0.1"
        self.conf: dict[str, str] = {k: str(v) for k, v in (options.get("conf") or {}).items()}
        self._sc: SparkContext | None = None
        self._started_spark = False
        self._threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="aworld-spark")
        self._queue: collections.deque[TaskJob] = collections.deque()
        self._wake = asyncio.Event()
        self._slots = 1
        self._batches: dict[str, list[TaskJob]] = {}  # job group -> jobs of that Spark job
        self._group_of: dict[str, str] = {}  # task id -> job group
        self._waiting: dict[str, asyncio.Task[None]] = {}  # jobs in their retry backoff
        self._running: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[JobResult | None] = asyncio.Queue()
        self._feed: CancelFeed | None = None
        self._dispatcher: asyncio.Task[None] | None = None
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
        self._feed = CancelFeed(
            self.feed_host or self._sc.getConf().get("spark.driver.host") or "127.0.0.1"
        )
        await self._feed.start()
        self._dispatcher = asyncio.create_task(self._dispatch(), name="spark-dispatch")

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
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        for waiting in self._waiting.values():
            waiting.cancel()
        sc = self._sc
        if sc is not None:  # only this engine's jobs: the context may be shared
            for group in list(self._batches):
                await self._in_thread(sc.cancelJobGroup, group)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._feed is not None:
            await self._feed.close()
        if sc is not None and self._started_spark:
            await self._in_thread(_stop, sc)
        self._threads.shutdown(wait=False)
        self._results.put_nowait(None)

    # -- jobs -----------------------------------------------------------------------------
    async def submit(self, job: TaskJob) -> None:
        if self._closed or self._sc is None:
            raise RuntimeError("the Spark engine is not started")
        self._queue.append(job)
        self._wake.set()

    async def _dispatch(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and len(self._batches) < self._slots:
                # Spread what is queued over the free slots (one Python worker each).
                free = self._slots - len(self._batches)
                size = min(self.max_batch, -(-len(self._queue) // free))
                batch = [self._queue.popleft() for _ in range(size)]
                group = f"aworld-{uuid.uuid4().hex}"
                self._batches[group] = batch
                for job in batch:
                    self._group_of[job.task_id] = group
                running = asyncio.create_task(self._run_batch(group, batch))
                self._running.add(running)
                running.add_done_callback(self._running.discard)

    async def _run_batch(self, group: str, batch: list[TaskJob]) -> None:
        assert self._sc is not None and self._feed is not None
        records = [encode_job(job) for job in batch]
        try:
            outputs: list[bytes] = await self._in_thread(self._collect, group, records)
        except Exception as error:
            self._lost(batch, error)
        else:
            for output in outputs:
                self._results.put_nowait(decode_result(output))
        finally:
            del self._batches[group]
            for job in batch:
                if self._group_of.get(job.task_id) == group:
                    del self._group_of[job.task_id]
            self._feed.forget([job.task_id for job in batch])
            self._wake.set()

    def _collect(self, group: str, records: list[bytes]) -> list[bytes]:
        assert self._sc is not None and self._feed is not None
        sc = self._sc
        # Job groups are per thread: this one tags the Spark job this call starts.
        sc.setJobGroup(group, "aworld tasks", interruptOnCancel=True)
        work = functools.partial(run_partition, self.setup, self._feed.address, self._feed.secret)
        result: list[bytes] = sc.parallelize(records, 1).mapPartitions(work).collect()
        return result

    def _lost(self, batch: list[TaskJob], error: Exception) -> None:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        for job in batch:
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
        self._wake.set()

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
        if task_id in self._group_of and self._feed is not None:
            await self._feed.cancel(task_id)


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
