"""A worker for the CLI tests whose ``hold`` tool never returns on its own.

Usage: ``python blocking_worker.py --target HOST:PORT``. Prints ``started KEY`` when a call
begins and ``cancelled KEY`` when the server cancels it, so a test can cancel a task whose tool
is running.
"""

from __future__ import annotations

import argparse
import asyncio

from aworld_client import Worker
from aworld_client.handlers import tool


@tool
async def hold(key: str) -> str:
    """Wait until cancelled."""
    print(f"started {key}", flush=True)
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        print(f"cancelled {key}", flush=True)
        raise
    return key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    args = parser.parse_args()
    Worker(args.target, [hold], labels={"app": "cli-tests"}).run_forever()


if __name__ == "__main__":
    main()
