"""The cancel feed: how the Spark engine reaches a job inside a running partition.

Spark can only cancel whole jobs (job groups), and a Spark job here carries a batch of tasks; so
cancelling one task is cooperative instead. The engine listens on a TCP port (port 0, on the
driver's host); each running partition connects, says which tasks it runs (``hello SECRET ID...``)
and receives ``cancel ID`` lines, which it hands to its EngineHost: the runner then records
CANCELLED as on any engine. Lines are ASCII; the secret keeps other local processes out.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Awaitable, Callable

__all__ = ["CancelFeed", "follow_feed"]


class CancelFeed:
    """Engine side: a small line server; ``cancel`` reaches the partition running the task."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.secret = secrets.token_hex(16)
        self.address = ""
        self._server: asyncio.Server | None = None
        self._writers: dict[str, asyncio.StreamWriter] = {}
        self._pending: set[str] = set()  # cancelled before their partition said hello

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        port = self._server.sockets[0].getsockname()[1]
        self.address = f"{self.host}:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in set(self._writers.values()):
                writer.close()
            await self._server.wait_closed()

    def forget(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            self._writers.pop(task_id, None)
            self._pending.discard(task_id)

    async def cancel(self, task_id: str) -> None:
        writer = self._writers.get(task_id)
        if writer is None:
            self._pending.add(task_id)
            return
        writer.write(f"cancel {task_id}\n".encode())
        await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = (await reader.readline()).decode().split()
        if len(hello) < 2 or hello[0] != "hello" or not hmac.compare_digest(hello[1], self.secret):
            writer.close()
            return
        task_ids = hello[2:]
        for task_id in task_ids:
            self._writers[task_id] = writer
            if task_id in self._pending:
                self._pending.discard(task_id)
                writer.write(f"cancel {task_id}\n".encode())
        await writer.drain()
        try:
            await reader.read()  # until the partition hangs up
        finally:
            for task_id in task_ids:
                if self._writers.get(task_id) is writer:
                    del self._writers[task_id]
            writer.close()


async def follow_feed(
    address: str, secret: str, task_ids: list[str], cancel: Callable[[str], Awaitable[None]]
) -> None:
    """Partition side: say hello, then cancel each task the engine names, until cancelled."""
    host, _, port = address.rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"hello {secret} {' '.join(task_ids)}\n".encode())
        await writer.drain()
        while line := await reader.readline():
            command, _, task_id = line.decode().strip().partition(" ")
            if command == "cancel":
                await cancel(task_id)
    finally:
        writer.close()
