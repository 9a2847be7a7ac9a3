"""``Worker``: serve Python handlers to an AWorld server over ``WorkerService.Connect``.

::

    worker = Worker("localhost:7070", [search, summarize], max_concurrency=8)
    worker.run_forever()            # in a script; in async code: await worker.run()

The worker dials out (so it works behind NAT), declares its handlers in a Hello and runs the
calls the server pushes, each as its own asyncio task, at most ``max_concurrency`` at once.
When the stream drops it reconnects with exponential backoff and jitter; calls still running
for the dropped stream are cancelled, because the server has already given them to another
worker. A handler that declares a ``context`` (or ``ctx``) parameter receives the
:class:`~aworld_client.worker_service.Call` (call id, attempt, deadline, task, headers with
the W3C ``traceparent``).

An exception raised by a handler becomes the call's ``Failure`` (type = its class name); one
with a truthy ``non_retryable`` attribute is marked non-retryable, so the server does not run
the call again. A handler that returns :class:`~aworld_client.handlers.Pending` finishes
later, when someone calls ``CompleteCallback`` with its callback id.

Cancellation (the server's CancelCall, the call's deadline) reaches an ``async`` handler as
``asyncio.CancelledError``. A plain function runs in a thread, which cannot be interrupted:
its result is then discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from opentelemetry import trace

from aworld_client._address import parse_address
from aworld_client._proto.aworld.runtime.v1 import worker_service_pb2 as pb
from aworld_client._proto.aworld.runtime.v1 import worker_service_pb2_grpc
from aworld_client._stream_writer import StreamWriter
from aworld_client._tracing import call_span
from aworld_client.common import Failure, Payload, RetryPolicy
from aworld_client.handler import HandlerKind
from aworld_client.handlers import HandlerFunction, InvalidHandlerInput, Pending
from aworld_client.worker_service import Call, ConnectRequest, ConnectResponse, Hello, Welcome

__all__ = ["Worker"]

log = logging.getLogger(__name__)

# The server refused the worker itself: reconnecting would be refused again.
_FATAL = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
_DEFAULT_BACKOFF = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)
_DEFAULT_HEARTBEAT = timedelta(seconds=5)


class Worker:
    """Serves ``handlers`` (from ``@tool``, ``@hook``, ``@agent``) to the server at ``target``.

    ``worker_id`` empty lets the server assign one, which is then kept across reconnects.
    ``reconnect_backoff`` shapes the delays between connection attempts (default 0.2 s doubling
    to 10 s); its ``maximum_attempts`` counts consecutive failed connections before
    :meth:`run` gives up, 0 meaning never. ``credentials`` switches to a TLS channel;
    ``metadata`` is sent with the stream (e.g. an authorization token). ``target`` takes the
    forms :class:`~aworld_client.Client` takes (``host:port``, ``http(s)://host:port``).
    """

    def __init__(
        self,
        target: str,
        handlers: Sequence[HandlerFunction[Any, Any]],
        *,
        max_concurrency: int = 16,
        worker_id: str = "",
        labels: Mapping[str, str] | None = None,
        reconnect_backoff: RetryPolicy | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> None:
        if not handlers:
            raise ValueError("a Worker needs at least one handler")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._handlers: dict[tuple[str, HandlerKind], HandlerFunction[Any, Any]] = {}
        for handler in handlers:
            key = (handler.spec.name, handler.spec.kind)
            if key in self._handlers:
                raise ValueError(f"handler {handler.spec.name!r} given twice")
            self._handlers[key] = handler
        address = parse_address(target)
        if credentials is None and address.tls:
            credentials = grpc.ssl_channel_credentials()
        self._target = target
        self._dial_target = address.target
        self._max_concurrency = max_concurrency
        self._worker_id = worker_id
        self._labels = dict(labels or {})
        self._backoff = reconnect_backoff or _DEFAULT_BACKOFF
        self._credentials = credentials
        self._metadata = tuple(metadata)
        self._grace: timedelta | None = None
        self._stopping: asyncio.Event | None = None
        self._done: asyncio.Event | None = None
        self._stop_task: asyncio.Task[None] | None = None

    @property
    def worker_id(self) -> str:
        """The id the server knows this worker by; empty until the first Welcome."""
        return self._worker_id

    async def run(self) -> None:
        """Serve until :meth:`stop`, reconnecting whenever the stream drops.

        Raises ``grpc.aio.AioRpcError`` when the server refuses the worker (bad Hello,
        authentication) and ``ConnectionError`` when ``reconnect_backoff.maximum_attempts``
        connections in a row failed.
        """
        if self._stopping is not None:
            raise RuntimeError("Worker.run() is already running")
        stopping = self._stopping = asyncio.Event()
        self._done = asyncio.Event()
        slots = asyncio.Semaphore(self._max_concurrency)
        failures = 0
        try:
            while not stopping.is_set():
                welcomed = await self._connect_once(slots, stopping)
                if stopping.is_set():
                    break
                failures = 0 if welcomed else failures + 1
                limit = self._backoff.maximum_attempts
                if limit and failures >= limit:
                    raise ConnectionError(f"could not connect to {self._target} {limit} times")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self._delay(max(failures, 1)))
        finally:
            self._done.set()
            self._stopping = None

    async def stop(self, grace: timedelta | None = None) -> None:
        """Stop gracefully: take no new calls, let running ones finish (for at most ``grace``,
        then cancel them; None waits for them), send their results, disconnect, and wait until
        :meth:`run` has returned."""
        if self._stopping is None or self._done is None:
            return
        self._grace = grace
        done = self._done
        self._stopping.set()
        await done.wait()

    def run_forever(self) -> None:
        """Run in a new event loop until SIGINT or SIGTERM, then stop gracefully. For scripts."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):  # not on Windows
                    loop.add_signal_handler(signum, self._request_stop)
            await self.run()

        asyncio.run(main())

    # --- internals ----------------------------------------------------------------------------

    def _request_stop(self) -> None:
        if self._stop_task is None or self._stop_task.done():
            self._stop_task = asyncio.create_task(self.stop())

    def _delay(self, failures: int) -> float:
        policy = self._backoff.resolved()
        assert policy.initial_interval is not None and policy.maximum_interval is not None
        base = min(
            policy.initial_interval.total_seconds() * policy.backoff_coefficient ** (failures - 1),
            policy.maximum_interval.total_seconds(),
        )
        # Jitter spreads the reconnects of many workers after a server restart.
        return base * random.uniform(0.5, 1.0)

    def _hello(self) -> Hello:
        from aworld_client import __version__

        return Hello(
            worker_id=self._worker_id,
            handlers=[h.spec for h in self._handlers.values()],
            max_concurrency=self._max_concurrency,
            sdk=f"python/{__version__}",
            labels=dict(self._labels),
        )

    def _channel(self) -> grpc.aio.Channel:
        if self._credentials is not None:
            return grpc.aio.secure_channel(self._dial_target, self._credentials)
        return grpc.aio.insecure_channel(self._dial_target)

    async def _connect_once(self, slots: asyncio.Semaphore, stopping: asyncio.Event) -> bool:
        """One stream, from Hello to its end. True when the server welcomed the worker."""
        # A fresh channel per attempt keeps the reconnect pace ours, not the channel's own
        # (much slower) transport backoff.
        async with self._channel() as channel:
            stream = worker_service_pb2_grpc.WorkerServiceStub(channel).Connect(
                metadata=self._metadata
            )
            try:
                await stream.write(ConnectRequest(kind=self._hello()).to_proto())
                first = await stream.read()
            except grpc.aio.AioRpcError as error:
                if error.code() in _FATAL:
                    raise
                log.warning("cannot connect to %s: %s", self._target, error.details())
                return False
            if first is grpc.aio.EOF:
                return False
            welcome = ConnectResponse.from_proto(first).kind
            if not isinstance(welcome, Welcome):
                log.warning("server sent %s before Welcome", type(welcome).__name__)
                stream.cancel()
                return False
            self._worker_id = welcome.worker_id
            log.info("connected to %s as worker %s", self._target, self._worker_id)
            try:
                await _Connection(self, stream, welcome, slots, stopping).serve()
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as error:
                if isinstance(error, grpc.aio.AioRpcError) and error.code() in _FATAL:
                    raise
                log.warning("stream to %s ended: %s", self._target, error)
            finally:
                stream.cancel()
            return True

    async def _invoke(self, call: Call) -> Payload | Failure | str:
        """The call's outcome: its output, its failure, or a pending callback id."""
        with call_span(
            call.handler,
            call.headers,
            call_id=call.call_id,
            attempt=call.attempt,
            task_id=call.task_id,
            worker_id=self._worker_id,
        ) as span:
            outcome = await self._invoke_in_span(call)
            if isinstance(outcome, Failure):
                span.set_status(trace.StatusCode.ERROR, outcome.type)
            return outcome

    async def _invoke_in_span(self, call: Call) -> Payload | Failure | str:
        source = f"worker:{self._worker_id}"
        handler = self._handlers.get((call.handler, call.kind))
        if handler is None:
            return Failure(
                type="NotFound", message=f"this worker does not serve {call.handler}", source=source
            )
        arguments = call.input.value() if call.input is not None else None
        scope = asyncio.timeout(_seconds_until(call.deadline))
        try:
            async with scope:
                value = await handler.invoke(arguments, context=call, ctx=call)
            if isinstance(value, Pending):
                # Finishes later through CompleteCallback; the task waits in INPUT_REQUIRED.
                return value.callback_id
            return Payload.of(value)
        except TimeoutError as error:
            if scope.expired():
                # Like the server's own timeout: the handler may have had effects, so only an
                # idempotent handler may be run again.
                return Failure(
                    type="DeadlineExceeded",
                    message=f"{call.handler} did not finish before its deadline",
                    non_retryable=not handler.spec.idempotent,
                    source=source,
                )
            return Failure.from_exception(error, source=source)
        except InvalidHandlerInput as error:
            return Failure.from_exception(error, source=source, non_retryable=True)
        except Exception as error:
            # As for the server's in-process handlers: an exception may declare
            # ``non_retryable = True`` (the TypeScript and Go SDKs honour the same flag).
            non_retryable = bool(getattr(error, "non_retryable", False))
            return Failure.from_exception(error, source=source, non_retryable=non_retryable)


def _call_of(message: pb.Call) -> Call:
    """The handler's view of a pushed call, read field by field (the hot path of every call;
    the generic converter costs several times more)."""
    return Call(
        call_id=message.call_id,
        attempt=message.attempt,
        handler=message.handler,
        kind=HandlerKind(message.kind),
        input=Payload.from_proto(message.input) if message.HasField("input") else None,
        deadline=message.deadline.ToDatetime(UTC) if message.HasField("deadline") else None,
        task_id=message.task_id,
        session_id=message.session_id,
        headers=dict(message.headers),
        hook_point=message.hook_point,
        idempotency_key=message.idempotency_key,
    )


def _completed(call: Call, outcome: Payload | Failure | str) -> pb.ConnectRequest:
    done = pb.CallCompleted(call_id=call.call_id, attempt=call.attempt)
    if isinstance(outcome, Payload):
        done.output.CopyFrom(outcome.to_proto())
    elif isinstance(outcome, Failure):
        done.failure.CopyFrom(outcome.to_proto())
    else:
        done.pending_callback_id = outcome
    return pb.ConnectRequest(call_completed=done)


def _seconds_until(deadline: datetime | None) -> float | None:
    if deadline is None:
        return None
    return (deadline - datetime.now(UTC)).total_seconds()


class _Connection:
    """One stream's state: the messages to send and the calls running for it."""

    def __init__(
        self,
        worker: Worker,
        stream: Any,
        welcome: Welcome,
        slots: asyncio.Semaphore,
        stopping: asyncio.Event,
    ) -> None:
        self._worker = worker
        self._stream = stream
        self._slots = slots
        self._stopping = stopping
        self._heartbeat = (welcome.heartbeat_interval or _DEFAULT_HEARTBEAT).total_seconds()
        # Results are written from the call's own task when the stream is idle (no outbox and
        # writer task in between); a write is never awaited by a call, so a call cancelled
        # after it sent its result cannot cut that write short.
        self._writer: StreamWriter[pb.ConnectRequest] = StreamWriter(
            stream.write, on_error=lambda _: self._write_failed.set()
        )
        self._write_failed = asyncio.Event()
        self._calls: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._accepting = True

    async def serve(self) -> None:
        """Run until the stream ends; the calls still running are then cancelled."""
        reader = asyncio.create_task(self._read())
        closer = asyncio.create_task(self._close_on_stop())
        helpers = [asyncio.create_task(self._beat())]
        try:
            done, _ = await asyncio.wait({reader, closer}, return_when=asyncio.FIRST_COMPLETED)
            if reader not in done and closer.exception() is None:
                # Graceful stop: we half-closed; the server ends the stream in response.
                await reader
            for task in done:
                task.result()
        finally:
            tasks = [reader, closer, *helpers, *self._calls.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _send(self, message: pb.ConnectRequest) -> None:
        self._writer.send(message)

    async def _read(self) -> None:
        while (raw := await self._stream.read()) is not grpc.aio.EOF:
            kind = raw.WhichOneof("kind")
            if kind == "call":
                self._start(_call_of(raw.call))
            elif kind == "cancel_call":
                message = raw.cancel_call
                task = self._calls.get((message.call_id, message.attempt))
                if task is not None:
                    log.info(
                        "cancelling call %s attempt %d: %s",
                        message.call_id,
                        message.attempt,
                        message.reason,
                    )
                    task.cancel()
            elif kind == "call_rejected":
                message = raw.call_rejected
                log.warning(
                    "call %s attempt %d rejected by the server: %s",
                    message.call_id,
                    message.attempt,
                    message.reason,
                )

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            in_flight = sorted({c for c, _ in self._calls})
            self._send(pb.ConnectRequest(heartbeat=pb.Heartbeat(in_flight_call_ids=in_flight)))

    async def _close_on_stop(self) -> None:
        """Raises the error of a failed write (the stream is then done for); on stop, lets the
        running calls finish and half-closes."""
        stop = asyncio.ensure_future(self._stopping.wait())
        failed = asyncio.ensure_future(self._write_failed.wait())
        try:
            await asyncio.wait({stop, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            failed.cancel()
        if self._writer.error is not None:
            raise self._writer.error
        self._accepting = False
        running = list(self._calls.values())
        if running:
            grace = self._worker._grace
            _, late = await asyncio.wait(running, timeout=grace.total_seconds() if grace else None)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        # Flush what was sent, then half-close: the server ends the stream in response.
        await self._writer.drained()
        if self._writer.error is not None:
            raise self._writer.error
        await self._stream.done_writing()

    def _start(self, call: Call) -> None:
        key = (call.call_id, call.attempt)
        if not self._accepting:
            # The handler never ran, so the server may safely run the call elsewhere.
            failure = Failure(
                type="WorkerStopping",
                message="the worker is shutting down",
                source=f"worker:{self._worker.worker_id}",
            )
            self._send(_completed(call, failure))
            return
        if key in self._calls:
            return
        task = asyncio.create_task(self._run(call), name=f"call {call.call_id}#{call.attempt}")
        self._calls[key] = task
        task.add_done_callback(lambda _: self._calls.pop(key, None))

    async def _run(self, call: Call) -> None:
        # Cancellation (CancelCall, lost stream) propagates and reports nothing: the server has
        # already given up on this attempt.
        async with self._slots:
            outcome = await self._worker._invoke(call)
        self._send(_completed(call, outcome))
