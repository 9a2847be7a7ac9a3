"""``AppendStream``: an engine worker's one long-lived ``EngineService.AppendEventStream`` to a
control plane, carrying the appends of all its tasks.

Appends made in the same event-loop iteration go out as one request (a batch); each append's
future resolves with the task's last seq once the control plane has persisted it, or fails
with the status the control plane refused it with — so a runner's durability barrier (an
event on record before a side effect) holds exactly as with unary AppendEvents.

A stream that breaks (UNAVAILABLE: a cut connection, a restarting server) is opened again and
every unanswered batch is sent again, in order: appends are idempotent by (task, seq) at the
control plane, so nothing is lost and nothing is stored twice. After ``_ATTEMPTS`` breaks in a
row without an answer, or on any other status, the unanswered appends fail with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from aworld_client.api import engine_service_pb2 as pb

from aworld_server.engine_worker.control_plane import ControlPlane

__all__ = ["AppendStream"]

_MAX_APPENDS = 256  # appends per request, well under the control plane's max_repeated
_MAX_BYTES = 1 << 20  # a request is closed at this size, well under its message size limit
_ATTEMPTS = 5  # streams opened in a row without an answer before unanswered appends fail
_FIRST_DELAY = 0.05  # seconds before reopening a broken stream; doubles each time
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


@dataclass(eq=False, slots=True)
class _Batch:
    request: pb.AppendEventStreamRequest
    waiters: list[asyncio.Future[int]]


class AppendStream:
    """See the module docstring. Runs on the loop it is first used on."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.control_plane = control_plane
        self._queued: list[tuple[pb.AppendEventsRequest, asyncio.Future[int]]] = []
        self._flush_scheduled = False
        self._unanswered: dict[int, _Batch] = {}  # by batch id, in the order sent
        self._outbox: asyncio.Queue[_Batch | None] | None = None  # the open stream's requests
        self._next_batch = 0
        self._work = asyncio.Event()  # set when a batch is waiting to be sent
        self._runner: asyncio.Task[None] | None = None
        self._closed = False
        self.streams_opened = 0  # how many streams were opened (reconnects show here)

    @property
    def unanswered(self) -> int:
        """Batches sent (or about to be) and not answered yet."""
        return len(self._unanswered)

    def append(self, request: pb.AppendEventsRequest) -> asyncio.Future[int]:
        """Send one task's append; the future resolves with the task's last seq."""
        if self._closed:
            raise RuntimeError("the append stream is closed")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()
        self._queued.append((request, done))
        if not self._flush_scheduled:
            # Appends made until the loop comes back to its queue share one request.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return done

    def _flush(self) -> None:
        self._flush_scheduled = False
        queued, self._queued = self._queued, []
        chunk: list[tuple[pb.AppendEventsRequest, asyncio.Future[int]]] = []
        size = 0
        for request, done in queued:
            request_size = request.ByteSize()
            if chunk and size + request_size > _MAX_BYTES:
                # Closed before it would grow past the limit: a big append (a large tool
                # output) travels alone, so if the control plane refuses its size, it alone
                # fails (see _run).
                self._send(chunk)
                chunk, size = [], 0
            chunk.append((request, done))
            size += request_size
            if len(chunk) == _MAX_APPENDS or size >= _MAX_BYTES:
                self._send(chunk)
                chunk, size = [], 0
        if chunk:
            self._send(chunk)
        self._work.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="aworld-append-stream")

    def _send(self, chunk: list[tuple[pb.AppendEventsRequest, asyncio.Future[int]]]) -> None:
        self._next_batch += 1
        batch = _Batch(
            pb.AppendEventStreamRequest(
                batch_id=self._next_batch, appends=[request for request, _ in chunk]
            ),
            [done for _, done in chunk],
        )
        self._unanswered[self._next_batch] = batch
        if self._outbox is not None:
            self._outbox.put_nowait(batch)

    async def _requests(
        self, outbox: asyncio.Queue[_Batch | None], resend: list[_Batch]
    ) -> AsyncIterator[pb.AppendEventStreamRequest]:
        for unanswered in resend:  # unanswered on the stream that broke, oldest first
            yield unanswered.request
        while (batch := await outbox.get()) is not None:
            yield batch.request

    async def _run(self) -> None:
        failures, delay = 0, _FIRST_DELAY
        while not self._closed:
            if not self._unanswered:
                # Nothing to send: wait for work before opening a stream (after a failure;
                # an open stream stays open while idle).
                self._work.clear()
                await self._work.wait()
                continue
            outbox: asyncio.Queue[_Batch | None] = asyncio.Queue()
            self._outbox = outbox
            resend = list(self._unanswered.values())
            call = self.control_plane.engine.AppendEventStream(
                self._requests(outbox, resend), metadata=self.control_plane.metadata
            )
            self.streams_opened += 1
            try:
                async for response in call:
                    failures, delay = 0, _FIRST_DELAY
                    self._answer(response)
                error: grpc.aio.AioRpcError | None = None
            except grpc.aio.AioRpcError as failed:
                error = failed
            finally:
                self._outbox = None
                outbox.put_nowait(None)
            if self._closed:
                return
            if error is not None and self._refuse_oversized(error):
                continue  # the rest goes again on a new stream
            if error is None or error.code() in _RETRYABLE:
                # Ended or broke: open another and send what is unanswered again.
                failures += 1
                if failures < _ATTEMPTS:
                    await asyncio.sleep(delay)
                    delay *= 2
                    continue
            self._fail_unanswered(error or _ended())
            failures, delay = 0, _FIRST_DELAY

    def _answer(self, response: pb.AppendEventStreamResponse) -> None:
        batch = self._unanswered.pop(response.batch_id, None)
        if batch is None:
            return  # answered already (sent again after a break, answered twice)
        for done, result in zip(batch.waiters, response.results, strict=False):
            if done.done():
                continue
            if result.code == 0:
                done.set_result(int(result.last_seq))
            else:
                done.set_exception(_refused(result.code, result.message))
        for done in batch.waiters[len(response.results) :]:
            if not done.done():
                done.set_exception(_refused(grpc.StatusCode.INTERNAL.value[0], "no result"))

    def _refuse_oversized(self, error: grpc.aio.AioRpcError) -> bool:
        """A request past the control plane's message limit ends the stream with
        RESOURCE_EXHAUSTED: only the appends that travel alone for their size fail with it
        (as their unary call would), not every task's. True when there were such."""
        if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
            return False
        oversized = [i for i, b in self._unanswered.items() if b.request.ByteSize() > _MAX_BYTES]
        for batch_id in oversized:
            for done in self._unanswered.pop(batch_id).waiters:
                if not done.done():
                    done.set_exception(error)
        return bool(oversized)

    def _fail_unanswered(self, error: BaseException) -> None:
        batches, self._unanswered = list(self._unanswered.values()), {}
        for batch in batches:
            for done in batch.waiters:
                if not done.done():
                    done.set_exception(error)

    async def close(self) -> None:
        """Stop the stream; appends still unanswered fail."""
        self._closed = True
        if self._outbox is not None:
            self._outbox.put_nowait(None)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._fail_unanswered(RuntimeError("the append stream is closed"))


def _refused(code: int, message: str) -> grpc.aio.AioRpcError:
    """The error a unary AppendEvents would have raised for this result."""
    status = next((s for s in grpc.StatusCode if s.value[0] == code), grpc.StatusCode.UNKNOWN)
    return grpc.aio.AioRpcError(status, grpc.aio.Metadata(), grpc.aio.Metadata(), message)


def _ended() -> grpc.aio.AioRpcError:
    return _refused(
        grpc.StatusCode.UNAVAILABLE.value[0], "the control plane kept ending the append stream"
    )
