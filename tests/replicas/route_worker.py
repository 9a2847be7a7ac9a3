"""A remote worker for the routing tests: a real ``aworld_client.Worker`` process connected to
one replica, recording every execution of its tools in the test's Redis.

Usage: ``python route_worker.py --target HOST:PORT --redis-url URL --keys PREFIX --gate FILE
[--worker-id ID] [--max-concurrency N]``.

Tools (the same function as the replicas' in-process ``step``, see replica_server.py):

* ``wstep(x, n, name)``  idempotent; records ``start``, then (``n >= 2``) waits until the file
  ``--gate`` exists, records ``done`` and returns ``step_value(x)``;
* ``wstep_once(x, n, name)``  the same, declared non-idempotent.

Records: ``<PREFIX><name>:<n>:<kind>`` lists of ``<worker id> <pid> <attempt> <unix time>``,
``kind`` one of ``start``, ``done``, ``cancelled`` (the tool was cancelled: CancelCall, or the
stream to its replica was lost).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import redis.asyncio as aioredis
from aworld_client import RetryPolicy, Worker
from aworld_client.handlers import tool
from aworld_client.worker_service import Call
from replica_server import step_value

ARGS: argparse.Namespace
CLIENT: aioredis.Redis


async def record(name: str, n: int, kind: str, context: Call) -> None:
    line = f"{ARGS.worker_id} {os.getpid()} {context.attempt} {time.time()}"
    await CLIENT.rpush(f"{ARGS.keys}{name}:{n}:{kind}", line)


async def _step(x: int, n: int, name: str, context: Call) -> int:
    await record(name, n, "start", context)
    try:
        if n >= 2:
            gate = Path(ARGS.gate)
            while not gate.exists():
                await asyncio.sleep(0.02)  # polls the gate the test opens
    except asyncio.CancelledError:
        await asyncio.shield(record(name, n, "cancelled", context))
        raise
    await record(name, n, "done", context)
    return step_value(int(x))


@tool(idempotent=True)
async def wstep(x: int, n: int, name: str, context: Call | None = None) -> int:
    """Idempotent: one step of a chain; from the second on it waits for the test's gate."""
    assert context is not None
    return await _step(x, n, name, context)


@tool
async def wstep_once(x: int, n: int, name: str, context: Call | None = None) -> int:
    """``wstep``, declared non-idempotent: the runtime must never run it twice."""
    assert context is not None
    return await _step(x, n, name, context)


async def main() -> None:
    global ARGS, CLIENT
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--keys", required=True)
    parser.add_argument("--gate", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--max-concurrency", type=int, default=16)
    ARGS = parser.parse_args()
    CLIENT = aioredis.from_url(ARGS.redis_url)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="log %(message)s")
    worker = Worker(
        ARGS.target,
        [wstep, wstep_once],
        max_concurrency=ARGS.max_concurrency,
        worker_id=ARGS.worker_id,
        reconnect_backoff=RetryPolicy(
            initial_interval=timedelta(milliseconds=100), maximum_interval=timedelta(seconds=1)
        ),
    )
    await worker.run()


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main())
