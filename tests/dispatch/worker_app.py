"""A worker process for the dispatch tests, built on ``aworld_client.Worker``.

Usage: ``python worker_app.py --target HOST:PORT [--max-concurrency N] [--worker-id ID]``.

It reports on stdout, one line per event, so the tests can wait for what happens inside it:

    started KEY ATTEMPT PID RUNNING   block() began (RUNNING: block() calls running now)
    cancelled KEY ATTEMPT              block() saw asyncio.CancelledError
                                       (block_once() reports the same way)
    freezing KEY PID                   freeze() is about to SIGSTOP this process
    log ...                            the SDK's log lines (e.g. "... rejected by the server")

and reads commands on stdin: ``release KEY`` lets ``block(KEY)`` return; ``stop`` asks for a
graceful ``Worker.stop()``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import signal
import sys
from datetime import timedelta
from typing import Any

from aworld_client import RetryPolicy, Worker
from aworld_client.handlers import agent, tool
from aworld_client.worker_service import Call

PID = os.getpid()
releases: collections.defaultdict[str, asyncio.Event] = collections.defaultdict(asyncio.Event)
running = 0


def say(line: str) -> None:
    print(line, flush=True)


@tool(idempotent=True)
async def echo(text: str, context: Call) -> dict[str, Any]:
    """Return the text with what the worker saw of the call."""
    return {
        "text": text,
        "pid": PID,
        "attempt": context.attempt,
        "traceparent": context.headers.get("traceparent", ""),
        "task_id": context.task_id,
        "idempotency_key": context.idempotency_key,
    }


@tool(idempotent=True)
async def block(key: str, context: Call) -> dict[str, Any]:
    """Run until the test writes ``release KEY`` to stdin."""
    return await _block(key, context)


@tool
async def block_once(key: str, context: Call) -> dict[str, Any]:
    """``block``, declared non-idempotent: the runtime must not run it twice."""
    return await _block(key, context)


@tool
async def fail(message: str) -> None:
    """Raise ValueError(message)."""
    raise ValueError(message)


async def _block(key: str, context: Call) -> dict[str, Any]:
    global running
    running += 1
    say(f"started {key} {context.attempt} {PID} {running}")
    try:
        await releases[key].wait()
    except asyncio.CancelledError:
        say(f"cancelled {key} {context.attempt}")
        raise
    finally:
        running -= 1
    return {"key": key, "pid": PID, "attempt": context.attempt}


@tool(idempotent=True)
async def freeze(key: str, context: Call) -> dict[str, Any]:
    """Attempt 1 stops the whole process (no heartbeats, stream left open) until SIGCONT,
    then returns; later attempts return at once."""
    if context.attempt == 1:
        say(f"freezing {key} {PID}")
        os.kill(PID, signal.SIGSTOP)
    return {"key": key, "pid": PID, "attempt": context.attempt}


@agent
async def reviewer(observation: str) -> str:
    """A remote agent that answers at once: the observation, reviewed."""
    return f"reviewed by {PID}: {observation.upper()}"


@agent
async def planner(step: int, observation: str, tools: list[dict[str, Any]]) -> Any:
    """A remote agent that calls a tool (``echo``) first, then answers with its output."""
    if step == 1:
        assert any(t["name"] == "echo" for t in tools), tools
        return {"tool_calls": [{"name": "echo", "arguments": {"text": observation}}]}
    return {"content": f"planned with {observation}", "usage": {"prompt_tokens": 7}}


@agent
async def broken_agent(observation: str) -> str:
    """A remote agent whose policy raises (a bug in the worker, not an answer)."""
    raise RuntimeError("the policy crashed")


async def read_commands(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    stopping: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        command, _, argument = line.decode().strip().partition(" ")
        if command == "release":
            releases[argument].set()
        elif command == "stop":
            task = asyncio.create_task(worker.stop())
            stopping.add(task)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--max-concurrency", type=int, default=16)
    parser.add_argument("--worker-id", default="")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="log %(message)s")
    worker = Worker(
        args.target,
        [echo, block, block_once, fail, freeze, reviewer, planner, broken_agent],
        max_concurrency=args.max_concurrency,
        worker_id=args.worker_id,
        labels={"pid": str(PID)},
        reconnect_backoff=RetryPolicy(
            initial_interval=timedelta(milliseconds=50), maximum_interval=timedelta(seconds=0.5)
        ),
    )
    commands = asyncio.create_task(read_commands(worker))
    await worker.run()
    commands.cancel()
    say("exited")


if __name__ == "__main__":
    asyncio.run(main())
