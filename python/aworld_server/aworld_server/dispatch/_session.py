"""``WorkerSession``: one connected worker stream as the dispatcher sees it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aworld_client import HandlerKind, HandlerSpec, WorkerInfo
from aworld_client._stream_writer import StreamWriter
from aworld_client.api import worker_service_pb2 as worker_pb

from aworld_server.namespaces import DEFAULT_NAMESPACE

__all__ = ["WorkerSession"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False, kw_only=True)
class WorkerSession:
    """A worker's identity, handlers and capacity, plus the writer of its stream.

    The gRPC servicer attaches the stream's ``write`` (:meth:`attach`), feeds what it reads
    to ``WorkerDispatcher.receive`` and ends the stream once :meth:`ended`; everything else is
    the dispatcher's business. :meth:`send` writes from the sender's own step when the stream
    is idle (no queue and writer task in between; see ``StreamWriter``). Messages are the
    generated protobuf ones: a call is built once, in the form it is written in.
    """

    worker_id: str
    # The namespace the worker serves: its handlers are called by tasks of this one only.
    namespace: str = DEFAULT_NAMESPACE
    sdk: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    specs: dict[tuple[str, HandlerKind], HandlerSpec] = field(default_factory=dict)
    max_concurrency: int = 1
    peer: str = ""
    connected_at: datetime = field(default_factory=_now)
    # When the worker was last heard from (time.monotonic(): a clock set back must not
    # postpone noticing a silent worker), stamped on every message.
    heard_at: float = field(default_factory=time.monotonic)
    # Attempts pushed to this worker and not finished yet, as (call_id, attempt).
    calls: set[tuple[str, int]] = field(default_factory=set)
    # False after the worker missed its heartbeats; a later message from it revives it.
    alive: bool = True
    # Sequence number of the last assignment; the tie-breaker that spreads equal load.
    last_assigned: int = 0
    close_reason: str = ""
    # Messages sent before the servicer attached the stream (the Welcome).
    _early: list[worker_pb.ConnectResponse] = field(default_factory=list)
    _writer: StreamWriter[worker_pb.ConnectResponse] | None = None
    _ended: asyncio.Event = field(default_factory=asyncio.Event)
    _timer: asyncio.TimerHandle | None = None

    @property
    def closed(self) -> bool:
        return bool(self.close_reason)

    @property
    def load(self) -> float:
        return len(self.calls) / self.max_concurrency

    @property
    def has_capacity(self) -> bool:
        return len(self.calls) < self.max_concurrency

    def serves(self, name: str, kind: HandlerKind | None = None) -> bool:
        if kind is not None:
            return (name, kind) in self.specs
        return any(n == name for n, _ in self.specs)

    def attach(
        self,
        write: Callable[[worker_pb.ConnectResponse], Coroutine[Any, Any, Any]],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Write to the worker through ``write`` (the stream's), starting with what was sent
        before; ``on_error`` is told when a write fails (the stream is then done for)."""
        writer = self._writer = StreamWriter(write, on_error)
        early, self._early = self._early, []
        for message in early:
            writer.send(message)

    def send(self, message: worker_pb.ConnectResponse) -> None:
        """Write a message to the worker after those sent before; dropped once the session is
        closed. Returns at once: a sender cancelled later cannot cut the write short."""
        if self.closed:
            return
        if self._writer is None:
            self._early.append(message)
        else:
            self._writer.send(message)

    def close(self, reason: str) -> None:
        """End the session: the stream ends after the messages already sent (:meth:`ended`,
        :meth:`flushed`)."""
        if self.closed:
            return
        self.close_reason = reason
        self._ended.set()
        self.stop_watching()

    @property
    def writing(self) -> bool:
        """A write to the worker is in flight (messages sent now wait behind it)."""
        return self._writer is not None and self._writer.busy

    async def ended(self) -> None:
        """Wait until the session is closed."""
        await self._ended.wait()

    async def flushed(self) -> None:
        """Wait until every message sent so far is written (or the stream broke)."""
        if self._writer is not None:
            await self._writer.drained()

    @property
    def last_seen(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=time.monotonic() - self.heard_at)

    def heard(self) -> None:
        """Note that the worker spoke now (every message counts as a heartbeat)."""
        self.heard_at = time.monotonic()

    def watch(self, timeout: float, on_silent: Callable[[], None]) -> None:
        """Call ``on_silent`` once the worker has been quiet for ``timeout`` seconds. One timer
        per worker, not re-armed per message: when it fires early (the worker spoke since), it
        sleeps again for what is left of the silence it waits for."""
        self.heard()
        self.stop_watching()
        loop = asyncio.get_running_loop()

        def check() -> None:
            self._timer = None
            if self.closed:
                return
            quiet_for = time.monotonic() - self.heard_at
            if quiet_for >= timeout:
                on_silent()
            else:
                self._timer = loop.call_later(timeout - quiet_for, check)

        if not self.closed:
            self._timer = loop.call_later(timeout, check)

    def stop_watching(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def info(self) -> WorkerInfo:
        return WorkerInfo(
            worker_id=self.worker_id,
            sdk=self.sdk,
            handler_names=sorted({name for name, _ in self.specs}),
            max_concurrency=self.max_concurrency,
            in_flight=len(self.calls),
            connected_at=self.connected_at,
            last_seen_at=self.last_seen,
            labels=dict(self.labels),
        )
