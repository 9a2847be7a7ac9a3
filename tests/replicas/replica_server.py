"""One replica for the replica tests: ``aworld_server.server.serve`` — what ``aworld serve``
runs — on a Redis store and bus, with the local tools below registered through the server's
setup hook (the CLI has no way to load in-process tools).

Usage::

    python tests/replicas/replica_server.py --port P --data-dir D --ready-file F \\
        --redis-url URL --prefix KEYS --lease-ttl SECONDS

Tools (their record lives in the test's Redis under ``<prefix>t:``, so the test sees every
execution of every replica):

* ``step(x, n, name)``: records its start and its end under ``<name>:<n>``; from the second
  step of a task on (``n >= 2``) it waits until the file ``--gate`` exists. Returns
  :func:`step_value` of ``x``;
* ``approve(amount)``: answers Pending (the task waits for ProvideInput).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aworld_client.handlers import Pending, tool
from aworld_server.config import ServerConfig
from aworld_server.runtime import Runtime
from aworld_server.server import RunningServer, serve


def step_value(x: int) -> int:
    return (x * 7 + 3) % 1_000_003


def tools(url: str, keys: str, gate: Path | None):  # type: ignore[no-untyped-def]
    client = aioredis.from_url(url)

    @tool(name="step", idempotent=True)
    async def step(x: int, n: int, name: str) -> int:
        """One step of a chain; from the second on it waits for the test's gate."""
        record = f"{keys}{name}:{n}"
        await client.rpush(f"{record}:start", f"{os.getpid()} {time.time()}")
        if n >= 2:
            # A file, not a Redis key: a shutdown's cancellation must not land inside a Redis
            # call, which redis-py may turn into a connection error (the call then retried).
            while gate is None or not gate.exists():
                await asyncio.sleep(0.02)  # polls the gate the test opens
        await client.rpush(f"{record}:done", f"{os.getpid()} {time.time()}")
        return step_value(int(x))

    @tool
    def approve(amount: int) -> Pending:
        """Ask someone to approve an amount; the answer comes as input."""
        return Pending(prompt={"question": f"approve {amount}?"})

    def setup(runtime: Runtime) -> None:
        runtime.registry.add_tool(step, approve)

    return setup


def _dump_tasks() -> None:
    """Print every asyncio task's chain of awaits (what a replica that hangs waits on)."""
    for task in asyncio.all_tasks():
        print(f"--- {task.get_name()}", file=sys.stderr)
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
            if frame is None:
                print(f"    waits on {awaited!r}"[:300], file=sys.stderr)
                break
            code = frame.f_code
            print(f"    {code.co_filename}:{frame.f_lineno} {code.co_name}", file=sys.stderr)
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--lease-ttl", type=float, required=True)
    parser.add_argument("--bus", choices=["redis", "memory"], default="redis")
    parser.add_argument("--gate", type=Path, default=None, help="the steps' gate (a file)")
    parser.add_argument("--http-port", type=int, default=None, help="serve /api/v1 too")
    args = parser.parse_args()
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    config = ServerConfig.load(
        port=args.port,
        data_dir=args.data_dir,
        store="redis",
        bus=args.bus,
        redis_url=args.redis_url,
        redis_prefix=args.prefix,
        lease_ttl=timedelta(seconds=args.lease_ttl),
        http_port=args.http_port,
        shutdown_grace=timedelta(seconds=1),
    )
    args.data_dir.mkdir(parents=True, exist_ok=True)

    def ready(running: RunningServer) -> None:
        # SIGUSR1 prints every asyncio task's stack (what a replica that hangs waits on).
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _dump_tasks)
        args.ready_file.write_text(f"127.0.0.1:{running.port}\n")

    asyncio.run(
        serve(config, ready=ready, setup=tools(args.redis_url, f"{args.prefix}t:", args.gate))
    )


if __name__ == "__main__":
    main()
