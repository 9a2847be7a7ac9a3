"""Run one task in an embedded runtime until the test SIGKILLs this process mid tool call.

Usage: ``python run_until_killed.py DATA_DIR LEDGER IDEMPOTENT``. The task writes a context
value (``note``), then calls ``add``, which appends a line to LEDGER, prints ``started`` and
blocks forever: the test kills the process there, so the log holds a RUNNING task whose
``add`` attempt was sent and never answered. ``test_durability.py`` resumes it in-process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from durable_tools import durable_runtime, durable_task


async def main(data_dir: str, ledger: str, idempotent: bool) -> None:
    never = asyncio.Event()

    async def block() -> None:
        print("started", flush=True)
        await never.wait()

    runtime = durable_runtime(Path(data_dir), Path(ledger), idempotent=idempotent, before=block)
    await runtime.start()
    await runtime.submit(durable_task(), request_id="durable")
    await never.wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "1"))
