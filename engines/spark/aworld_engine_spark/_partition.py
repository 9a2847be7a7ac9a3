"""What runs inside a Spark Python worker: a batch of jobs (one partition) on the worker's warm
EngineHost.

With ``spark.python.worker.reuse`` a Python worker serves many Spark tasks, so the host, its
Runtime and its gRPC channel live on an event loop in a background thread of the worker process
and are reused; a partition hands its jobs to that loop and blocks (the executor's thread, not an
event loop) until they all ended.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator

from aworld_server.engine_worker import EngineHost
from aworld_server.engines import decode_job

from aworld_engine_spark._feed import follow_feed

__all__ = ["run_partition"]

_lock = threading.Lock()
_warm: dict[str, tuple[EngineHost, asyncio.AbstractEventLoop]] = {}


def _host(setup: str) -> tuple[EngineHost, asyncio.AbstractEventLoop]:
    with _lock:
        warm = _warm.get(setup)
        if warm is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="aworld-engine", daemon=True).start()
            warm = _warm[setup] = (EngineHost("spark", setup), loop)
        return warm


def run_partition(setup: str, feed: str, secret: str, payloads: Iterable[bytes]) -> Iterator[bytes]:
    """``mapPartitions`` function: encoded jobs in, encoded results out (same order)."""
    jobs = list(payloads)
    if not jobs:
        return iter(())
    host, loop = _host(setup)
    return iter(asyncio.run_coroutine_threadsafe(_run(host, feed, secret, jobs), loop).result())


async def _run(host: EngineHost, feed: str, secret: str, jobs: list[bytes]) -> list[bytes]:
    task_ids = [decode_job(job).task_id for job in jobs]
    following = asyncio.ensure_future(follow_feed(feed, secret, task_ids, host.cancel))
    try:
        return await host.run_many(jobs)
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
