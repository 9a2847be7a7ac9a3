"""Run a task whose ``flaky`` tool fails, then SIGKILL this process in its next attempt.

Usage: ``python run_until_killed_retrying.py DATA_DIR LEDGER``. ``flaky`` (idempotent, at most
3 attempts, 10 ms apart) appends a line to LEDGER per execution; its first attempt raises, its
second prints ``started`` and blocks: the test kills the process there. The log then holds one
failed attempt and one sent and never answered. ``test_durability.py`` resumes it in-process,
where every attempt fails: the budget left must be what the first process did not use.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from durable_tools import flaky_runtime, flaky_task


async def main(data_dir: str, ledger: str) -> None:
    never = asyncio.Event()

    async def second_attempt_blocks(execution: int) -> None:
        if execution == 1:
            raise ConnectionError("the service hiccuped")
        print("started", flush=True)
        await never.wait()

    runtime = flaky_runtime(Path(data_dir), Path(ledger), second_attempt_blocks)
    await runtime.start()
    await runtime.submit(flaky_task(), request_id="flaky")
    await never.wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
