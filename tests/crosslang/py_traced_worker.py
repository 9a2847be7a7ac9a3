"""A Python worker process for the tracing test: serves ``py_describe`` (returns its language
and input) and exports its spans to ``OTEL_EXPORTER_OTLP_ENDPOINT`` as service
``aworld-test-worker-py``. Prints ``READY <worker id>`` once connected; SIGTERM stops it.

    .venv/bin/python tests/crosslang/py_traced_worker.py --address HOST:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

from aworld_client import Worker
from aworld_client.handlers import tool
from aworld_server.observability.telemetry import configure_tracing


@tool(idempotent=True)
async def py_describe(text: str) -> dict[str, Any]:
    """Say which language served the call, and with what."""
    return {"lang": "python", "pid": os.getpid(), "input": {"text": text}}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    args = parser.parse_args()
    tracing = configure_tracing(os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"], "aworld-test-worker-py")
    worker = Worker(args.address, [py_describe])
    serving = asyncio.create_task(worker.run())
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    while not worker.worker_id and not serving.done():
        await asyncio.sleep(0.01)  # polls the worker's own state, not the clock
    print(f"READY {worker.worker_id}", flush=True)
    await stop.wait()
    await worker.stop()
    tracing.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
