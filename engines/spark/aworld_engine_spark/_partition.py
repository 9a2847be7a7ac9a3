"""What runs inside a Spark Python worker: one session (a partition) that runs the jobs the
engine feeds it on the worker's warm EngineHost.

With ``spark.python.worker.reuse`` a Python worker serves many Spark tasks, so the host, its
Runtime and its gRPC channel live on an event loop in a background thread of the worker process
and are reused; a partition hands its session to that loop and blocks (the executor's thread,
not an event loop) until the engine ends the session. Jobs and results travel over the job
feed (``_feed``), each result as soon as its job ends; the partition itself returns nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator

from aworld_server.engine_worker import EngineHost

from aworld_engine_spark._feed import follow_feed

__all__ = ["run_session"]

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


def run_session(setup: str, feed: str, secret: str, groups: Iterable[bytes]) -> Iterator[bytes]:
    """``mapPartitions`` function: the partition's one record is its job group."""
    host, loop = _host(setup)
    for group in groups:
        session = follow_feed(feed, secret, group.decode(), host.run, host.cancel)
        asyncio.run_coroutine_threadsafe(session, loop).result()
    return iter(())
