"""The chaos suite's remote worker: a real ``aworld_client.Worker`` process that reconnects by
itself after the server restarts.

Usage: ``python chaos_worker.py --target HOST:PORT --record FILE [--worker-id ID]``.

Every execution of a tool is appended to ``FILE`` (one ``os.write`` of one line, so a SIGKILL
of this process or of the server never leaves half a line) before the tool does anything, and
again when it returns::

    start <idempotency_key> <task_id>/<call_id> <attempt> <pid> <unix time>
    done  <idempotency_key> <task_id>/<call_id> <attempt> <pid> <unix time>

Tools:

* ``step(x, delay_ms)``  idempotent; waits ``delay_ms`` then returns ``step_value(x)``;
* ``step_once(x, delay_ms)``  the same, declared non-idempotent;
* ``approve(amount)``  returns ``Pending`` with callback id ``cb-<task_id>``: the task waits in
  INPUT_REQUIRED until the test completes the callback.

It prints the SDK's log lines on stdout (``log connected to ... as worker W`` after every
(re)connection).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from datetime import timedelta

from aworld_client import RetryPolicy, Worker
from aworld_client.handlers import Pending, tool
from aworld_client.worker_service import Call

PID = os.getpid()
RECORD_FD = -1


def step_value(x: int) -> int:
    """The deterministic output of ``step``/``step_once`` for input ``x``."""
    return (x * 31 + 7) % 1_000_003


def record(kind: str, context: Call) -> None:
    key = context.idempotency_key or "-"
    line = (
        f"{kind} {key} {context.task_id}/{context.call_id} {context.attempt} {PID} "
        f"{time.time():.6f}\n"
    )
    os.write(RECORD_FD, line.encode())


async def _step(x: int, delay_ms: int, context: Call) -> int:
    record("start", context)
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000)  # the tool's own work, not synchronisation
    record("done", context)
    return step_value(int(x))


@tool(idempotent=True)
async def step(x: int, delay_ms: int = 0, context: Call | None = None) -> int:
    """Idempotent: return (x * 31 + 7) mod 1000003 after ``delay_ms``."""
    assert context is not None
    return await _step(x, delay_ms, context)


@tool
async def step_once(x: int, delay_ms: int = 0, context: Call | None = None) -> int:
    """``step``, declared non-idempotent: the runtime must never run it twice."""
    assert context is not None
    return await _step(x, delay_ms, context)


@tool(idempotent=True)
async def approve(amount: int, context: Call | None = None) -> Pending:
    """Ask a human: the task waits until callback ``cb-<task_id>`` is completed."""
    assert context is not None
    record("start", context)
    return Pending(callback_id=f"cb-{context.task_id}", prompt={"question": f"approve {amount}?"})


async def main() -> None:
    global RECORD_FD
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--worker-id", default="")
    parser.add_argument("--max-concurrency", type=int, default=256)
    args = parser.parse_args()
    RECORD_FD = os.open(args.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="log %(message)s")
    worker = Worker(
        args.target,
        [step, step_once, approve],
        max_concurrency=args.max_concurrency,
        worker_id=args.worker_id,
        # Reconnect quickly after a restart (the default backoff grows to 10 s).
        reconnect_backoff=RetryPolicy(
            initial_interval=timedelta(milliseconds=100), maximum_interval=timedelta(seconds=1)
        ),
    )
    await worker.run()


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main())
