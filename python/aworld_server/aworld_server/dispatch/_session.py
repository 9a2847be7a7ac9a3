"""``WorkerSession``: one connected worker stream as the dispatcher sees it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aworld_client import HandlerKind, HandlerSpec, WorkerInfo
from aworld_client.api import worker_service_pb2 as worker_pb

from aworld_server.namespaces import DEFAULT_NAMESPACE

__all__ = ["WorkerSession"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False, kw_only=True)
class WorkerSession:
    """A worker's identity, handlers and capacity, plus the queue of messages to send it.

    The gRPC servicer drains :meth:`outgoing` into the stream and feeds what it reads to
    ``WorkerDispatcher.receive``; everything else is the dispatcher's business. Messages are
    the generated protobuf ones: a call is built once, in the form it is written in.
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
    _outbox: asyncio.Queue[worker_pb.ConnectResponse | None] = field(default_factory=asyncio.Queue)
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

    def send(self, message: worker_pb.ConnectResponse) -> None:
        """Queue a message for the worker; dropped once the session is closed."""
        if not self.closed:
            self._outbox.put_nowait(message)

    def close(self, reason: str) -> None:
        """End the stream: :meth:`outgoing` stops after the messages already queued."""
        if self.closed:
            return
        self.close_reason = reason
        self._outbox.put_nowait(None)
        self.stop_watching()

    async def outgoing(self) -> AsyncIterator[worker_pb.ConnectResponse]:
        """The messages to write to the worker, until the session is closed."""
        while (message := await self._outbox.get()) is not None:
            yield message

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
