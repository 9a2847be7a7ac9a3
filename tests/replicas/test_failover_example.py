"""``examples/replicas_failover.py``: its own redis-server, two replicas and a worker; the task's
owner is SIGKILLed and the other replica finishes it with the right answer; every process it
started is gone when it exits."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import pytest
from replica_harness import ROOT

EXAMPLE = ROOT / "examples" / "replicas_failover.py"


async def test_the_failover_example_moves_its_task_and_stops_everything() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--lease-ttl",
        "1.5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        async with asyncio.timeout(120):
            out, _ = await process.communicate()
    except TimeoutError:
        process.send_signal(signal.SIGINT)  # it stops its children by pid, then itself
        try:
            await asyncio.wait_for(process.wait(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        raise AssertionError("the example did not finish within 120 s") from None
    text = out.decode()
    assert process.returncode == 0, text
    ids = dict(re.findall(r"replica (\d)\s+\S+\s+id (\S+)", text))
    assert f"failover-worker on replica {ids['2']} (listed by replica 1)" in text
    assert f"submitted to replica 1, owner {ids['1']}" in text
    assert "SIGKILL replica 1" in text
    assert re.search(rf"taken over by replica 2 \({ids['2']}\) after [\d.]+ s", text), text
    assert "(the answer of a fault-free run;" in text
    stopped = re.findall(r"(\w+(?: \d)?) \(pid (\d+), ([^)]+)\)", text.split("stopped", 1)[1])
    assert {name for name, _, _ in stopped} == {"worker", "replica 2", "replica 1", "redis"}
    for _, pid, _ in stopped:
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)
