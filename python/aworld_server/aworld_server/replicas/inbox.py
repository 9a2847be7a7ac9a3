"""Requests between replicas: a replica asks the owner of a task to act on it (cancel it, complete
one of its callbacks) and waits for the answer.

Each replica reads its own Redis stream, ``{p}replica:{id}:inbox``. A request is one entry (the
operation, the task, MessagePack arguments, and the key to answer on); the owner acts on it as
on a call of its own and pushes the answer (MessagePack) on that key, which the asker waits on
with BLPOP. A stream rather than pub/sub: a request sent while the owner is busy waits for it
instead of being dropped. An owner that died answers nothing: the asker times out and looks
for the task's owner again (after its lease expires, another replica — maybe the asker — owns
it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from aworld_server import errors
from aworld_server.redis_client import stop_loop, tail_stream

__all__ = ["Inbox", "Moved"]

log = logging.getLogger(__name__)

# Entries kept per inbox: requests are answered within seconds, so only a short history stays.
_INBOX_LENGTH: Final = 1000
_ANSWER_TTL_S: Final = 60

Handler = Callable[[str, str, dict[str, Any]], Awaitable[Any]]
"""``handler(op, task_id, args)``: acts on a request; its result is the answer. It raises
:class:`Moved` when the task is not this replica's any more."""


class Moved(Exception):
    """The task's lease is not held here (any more): ask its owner again."""


class Inbox:
    """One replica's request stream, and the asking side (see the module docstring)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, replica_id: str) -> None:
        self.client = client
        self.prefix = prefix
        self.replica_id = replica_id
        self._reader: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()
        self._stopping = False

    def _stream(self, replica_id: str) -> str:
        return f"{self.prefix}replica:{replica_id}:inbox"

    # -- asking -------------------------------------------------------------------------------
    async def ask(
        self, owner: str, op: str, task_id: str, args: dict[str, Any], timeout: float
    ) -> Any:
        """The owner's answer; raises :class:`Moved` when it no longer owns the task, the
        error it answered with, or TimeoutError when it did not answer in ``timeout`` s."""
        reply = f"{self.prefix}reply:{uuid.uuid4().hex}"
        await self.client.xadd(
            self._stream(owner),
            {"op": op, "task": task_id, "args": _pack(args), "reply": reply},
            maxlen=_INBOX_LENGTH,
            approximate=True,
        )
        # BLPOP takes whole seconds on old servers; a float timeout is fine on Redis >= 6.
        answer = await self.client.blpop([reply], timeout=max(timeout, 0.1))
        if answer is None:
            raise TimeoutError(f"replica {owner} did not answer about task {task_id}")
        out = msgpack.unpackb(answer[1], raw=False)
        if "moved" in out:
            raise Moved(task_id)
        if "error" in out:
            kind = getattr(errors, str(out["error"]), None)
            if isinstance(kind, type) and issubclass(kind, errors.AWorldError):
                with contextlib.suppress(TypeError):
                    raise kind(str(out["message"]))
            raise errors.FailedPrecondition(str(out["message"]))
        return out["value"]

    # -- answering ----------------------------------------------------------------------------
    def start(self, handler: Handler) -> None:
        self._reader = asyncio.create_task(self._read(handler), name="replica:inbox")

    async def stop(self) -> None:
        self._stopping = True
        if self._reader is not None:
            await stop_loop(self._reader)
            self._reader = None
        for handling in list(self._handling):
            handling.cancel()
        await asyncio.gather(*self._handling, return_exceptions=True)

    async def _read(self, handler: Handler) -> None:
        stream = self._stream(self.replica_id)
        async for _, fields in tail_stream(self.client, stream, lambda: self._stopping):
            handling = asyncio.create_task(self._answer(handler, fields))
            self._handling.add(handling)
            handling.add_done_callback(self._handling.discard)

    async def _answer(self, handler: Handler, fields: dict[bytes, bytes]) -> None:
        op, task_id = fields[b"op"].decode(), fields[b"task"].decode()
        out: dict[str, Any]
        try:
            out = {"value": await handler(op, task_id, msgpack.unpackb(fields[b"args"]))}
        except Moved:
            out = {"moved": True}
        except errors.AWorldError as error:
            out = {"error": type(error).__name__, "message": str(error)}
        except Exception as error:
            log.exception("request %s for task %s failed", op, task_id)
            out = {"error": "FailedPrecondition", "message": f"{type(error).__name__}: {error}"}
        reply = fields[b"reply"].decode()
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.rpush(reply, _pack(out))
                pipe.expire(reply, _ANSWER_TTL_S)
                await pipe.execute()
        except RedisError:
            log.warning("could not answer request %s for task %s", op, task_id, exc_info=True)


def _pack(value: Any) -> bytes:
    return bytes(msgpack.packb(value, use_bin_type=True))
