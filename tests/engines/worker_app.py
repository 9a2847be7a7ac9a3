"""A worker process serving remote tools to the engine tests (``aworld_client.Worker``).

Usage: ``python worker_app.py --target HOST:PORT``. Prints ``log connected ...`` once connected
and ``started KEY PID`` when ``block(KEY)`` begins; ``release KEY`` on stdin lets it return.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import sys
from typing import Any

from aworld_client import Worker
from aworld_client.handlers import tool

releases: collections.defaultdict[str, asyncio.Event] = collections.defaultdict(asyncio.Event)


@tool
async def block(key: str) -> dict[str, Any]:
    """Run until the test writes ``release KEY`` to stdin."""
    print(f"started {key} {os.getpid()}", flush=True)
    await releases[key].wait()
    return {"key": key, "pid": os.getpid()}


@tool
async def echo(text: str) -> dict[str, Any]:
    """Return the text and this worker's pid."""
    return {"text": text, "pid": os.getpid()}


async def read_commands() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command, _, argument = line.decode().strip().partition(" ")
        if command == "release":
            releases[argument].set()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="log %(message)s")
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    worker = Worker(args.target, [block, echo], metadata=metadata)
    commands = asyncio.create_task(read_commands())
    await worker.run()
    commands.cancel()


if __name__ == "__main__":
    asyncio.run(main())
