"""``WorkerDispatcher``: runs handler calls on connected workers.

Two sides meet here. The stream side (``connect`` / ``receive`` / ``disconnect``) is driven by
the WorkerService servicer, one session per worker stream. The call side (``call_attempt``,
``cancel_task``) is used by the runtime, which retries. Everything runs on one event loop, so
state is plain dicts and sets; waiting is done on futures and events, never by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import cast

from aworld_client import (
    Failure,
    HandlerInfo,
    HandlerKind,
    HandlerSpec,
    Payload,
    WorkerInfo,
)
from aworld_client.api import handler_pb2
from aworld_client.api import worker_service_pb2 as worker_pb
from aworld_client.worker_service import Hello, Welcome

from aworld_server.dispatch._calls import CANCELLED, DUPLICATE, SUPERSEDED, Attempt, CallLedger
from aworld_server.dispatch._registry import WorkerRegistry
from aworld_server.dispatch._session import WorkerSession
from aworld_server.dispatch._types import (
    AttemptFinished,
    AttemptStarted,
    ChunkReceived,
    CompletionRejected,
    DispatchEvent,
    DispatchObserver,
    OnStart,
    Pending,
)
from aworld_server.dispatch._validation import check_hello, check_input
from aworld_server.errors import (
    AttemptTimedOut,
    CallCancelled,
    HandlerFailed,
    OutcomeUnknown,
    ScheduleToStartTimeout,
    WorkerLost,
)
from aworld_server.ids import new_id
from aworld_server.namespaces import DEFAULT_NAMESPACE

__all__ = ["WorkerDispatcher"]

log = logging.getLogger(__name__)

_NO_HEADERS: Mapping[str, str] = {}


class WorkerDispatcher:
    """Tracks connected workers and runs call attempts on them.

    ``heartbeat_interval`` and ``heartbeat_timeout`` are told to every worker in its Welcome; a
    worker silent for ``heartbeat_timeout`` is presumed dead: its attempts fail with
    :class:`WorkerLost` and it gets no new calls until it speaks again. ``default_timeout``
    bounds an attempt whose handler declares no timeout. ``schedule_to_start_timeout`` bounds
    how long a call waits while no connected worker serves its handler.
    """

    def __init__(
        self,
        *,
        heartbeat_interval: timedelta = timedelta(seconds=5),
        heartbeat_timeout: timedelta = timedelta(seconds=15),
        default_timeout: timedelta = timedelta(seconds=60),
        schedule_to_start_timeout: timedelta = timedelta(seconds=60),
        observer: DispatchObserver | None = None,
    ) -> None:
        if heartbeat_timeout <= heartbeat_interval:
            raise ValueError("heartbeat_timeout must be longer than heartbeat_interval")
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_timeout = heartbeat_timeout
        self._default_timeout = default_timeout
        self._schedule_to_start_timeout = schedule_to_start_timeout
        self._observer = observer
        self._registry = WorkerRegistry()
        # The latest declaration of every handler a worker ever declared here, by namespace,
        # connected or not: calls to these wait for a worker instead of failing as unknown.
        self._declared: dict[tuple[str, str, HandlerKind], HandlerSpec] = {}
        self._ledger = CallLedger()
        self._rejected = 0
        # Every open stream, including workers presumed dead (no longer in the registry).
        self._open: set[WorkerSession] = set()

    # --- stream side: driven by the WorkerService servicer ------------------------------------

    def connect(
        self, hello: Hello, *, peer: str = "", namespace: str = DEFAULT_NAMESPACE
    ) -> WorkerSession:
        """Admit a worker (raises InvalidArgument for a bad Hello) and queue its Welcome. Its
        handlers are served in ``namespace`` (the caller's; who may use a name is decided
        before, by the servicer).

        A worker reconnecting under an id that is still connected replaces the old session,
        whose attempts fail with WorkerLost.
        """
        check_hello(hello)
        worker_id = hello.worker_id or new_id()
        previous = self._registry.get(worker_id)
        if previous is not None:
            self.disconnect(previous, "replaced by a new connection")
        session = WorkerSession(
            worker_id=worker_id,
            namespace=namespace,
            sdk=hello.sdk,
            labels=dict(hello.labels),
            specs={(s.name, s.kind): s for s in hello.handlers},
            max_concurrency=hello.max_concurrency or 1,
            peer=peer,
        )
        welcome = Welcome(
            worker_id=worker_id,
            heartbeat_interval=self._heartbeat_interval,
            heartbeat_timeout=self._heartbeat_timeout,
        )
        session.send(worker_pb.ConnectResponse(welcome=welcome.to_proto()))
        self._registry.add(session)
        self._declared.update(((namespace, n, k), s) for (n, k), s in session.specs.items())
        self._open.add(session)
        self._watch(session)
        log.info(
            "worker %s connected from %s serving %s",
            worker_id,
            peer or "?",
            sorted(n for n, _ in session.specs),
        )
        return session

    def receive(self, session: WorkerSession, request: worker_pb.ConnectRequest) -> None:
        """Handle one message from the worker (the generated message: a result is read where
        it lies, not converted first). Any message counts as a heartbeat."""
        if session.closed:
            return
        session.heard()
        if not session.alive:
            self._revive(session)
        kind = request.WhichOneof("kind")
        if kind == "call_completed":
            self._complete(session, request.call_completed)
        elif kind == "call_chunk":
            self._chunk(session, request.call_chunk)
        elif kind == "hello":
            log.warning("worker %s sent a second Hello; ignored", session.worker_id)
        # a heartbeat is liveness only, counted above

    def disconnect(self, session: WorkerSession, reason: str) -> None:
        """The stream ended (or is being replaced): forget the worker and fail its attempts."""
        if session.closed:
            return
        log.info("worker %s disconnected: %s", session.worker_id, reason)
        session.close(reason)
        self._registry.remove(session)
        self._lose_attempts(session, reason)
        self._open.discard(session)

    def close(self, reason: str = "the server is shutting down") -> None:
        """End every worker stream (on shutdown): their attempts fail with WorkerLost and the
        workers, told UNAVAILABLE, reconnect — to this server once it is back, or elsewhere."""
        for session in list(self._open):
            self.disconnect(session, reason)

    # --- call side: used by the runtime -------------------------------------------------------

    async def call_attempt(
        self,
        call_id: str,
        attempt: int,
        handler: str,
        kind: HandlerKind,
        input: Payload,
        *,
        task_id: str = "",
        session_id: str = "",
        headers: Mapping[str, str] = _NO_HEADERS,
        hook_point: str = "",
        timeout: timedelta | None = None,
        idempotency_key: str = "",
        schedule_to_start: timedelta | None = None,
        on_start: OnStart | None = None,
        require_idempotent: bool = False,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> Payload | Pending:
        """Run one attempt of a call on one worker (of ``namespace``) and return its output.

        Waits for a worker with a free slot serving the handler; while none is connected at
        all, for at most ``schedule_to_start`` (default: the handler's declared value, else
        the dispatcher's), then raises ScheduleToStartTimeout. Validates ``input`` against the
        chosen worker's input schema (InvalidInput), awaits ``on_start``, pushes the Call and
        awaits its CallCompleted. ``timeout`` bounds the run on the worker (default: the
        handler's declared timeout, else the dispatcher's), not the wait for a worker.
        ``idempotency_key`` travels in the Call (default: ``call_id``). ``require_idempotent``
        (an earlier attempt's outcome is unknown) raises OutcomeUnknown instead of sending the
        call when the chosen worker declares the handler non-idempotent.

        Raises HandlerFailed for the worker's failure, WorkerLost, AttemptTimedOut or
        CallCancelled (see ``aworld_server.errors``). Cancelling the awaiting coroutine cancels the
        attempt on the worker too. Attempts of one call run one at a time with increasing
        numbers (FailedPrecondition otherwise); only the current one may complete the call.
        """
        current = Attempt(
            call_id=call_id,
            number=attempt,
            handler=handler,
            kind=kind,
            task_id=task_id,
            idempotent=False,
            namespace=namespace,
        )
        self._ledger.begin(current)
        try:
            session = await self._acquire(current, schedule_to_start)
            spec = session.specs[(handler, kind)]
            current.idempotent = spec.idempotent
            if require_idempotent and not spec.idempotent:
                raise OutcomeUnknown(handler)
            check_input(spec, input)
            if on_start is not None:
                await on_start(session.worker_id)
            limit = timeout or self.limits(spec)[1]
            call = worker_pb.Call(
                call_id=call_id,
                attempt=attempt,
                handler=handler,
                kind=cast("handler_pb2.HandlerKind", kind.value),
                input=input.to_proto(),
                task_id=task_id,
                session_id=session_id,
                headers=headers,
                hook_point=hook_point,
                idempotency_key=idempotency_key or call_id,
            )
            deadline = time.time() + limit.total_seconds()
            call.deadline.seconds = int(deadline)
            call.deadline.nanos = int(deadline % 1 * 1e9)
            session.send(worker_pb.ConnectResponse(call=call))
            current.sent = True
            self._emit(
                AttemptStarted(
                    call_id=call_id,
                    attempt=attempt,
                    handler=handler,
                    kind=kind,
                    task_id=task_id,
                    worker_id=session.worker_id,
                )
            )
            return await self._await_outcome(current, session, limit)
        finally:
            self._ledger.end(current)
            if current.session is not None:
                self._registry.release(current.session, current.key)

    async def cancel_task(self, task_id: str, reason: str = "task_cancelled") -> int:
        """Cancel every attempt of ``task_id``: running ones get a CancelCall, queued ones never
        start. Their ``call_attempt`` raises CallCancelled. Returns how many were cancelled."""
        cancelled = 0
        for attempt in self._ledger.live():
            if attempt.task_id != task_id or attempt.result.done():
                continue
            attempt.settle(CANCELLED, CallCancelled(reason))
            self._send_cancel(attempt, reason)
            cancelled += 1
        if cancelled:
            self._registry.notify()  # wake attempts queued for capacity so they see it
        return cancelled

    # --- introspection ------------------------------------------------------------------------

    def handlers(self, namespace: str = DEFAULT_NAMESPACE) -> list[HandlerInfo]:
        """Handlers served by connected workers, one entry per (name, kind)."""
        return self._registry.handlers(namespace)

    def workers(
        self, handler_name: str = "", namespace: str = DEFAULT_NAMESPACE
    ) -> list[WorkerInfo]:
        """Connected workers, optionally only those serving ``handler_name``."""
        return self._registry.workers(handler_name, namespace)

    def connected(self) -> list[WorkerSession]:
        """Every live worker, of every namespace (what a replica publishes to the others)."""
        return self._registry.sessions()

    async def changed(self) -> None:
        """Wait until a worker joins or leaves or a slot frees."""
        await self._registry.changed()

    def spec(
        self, name: str, kind: HandlerKind, namespace: str = DEFAULT_NAMESPACE
    ) -> HandlerSpec | None:
        """The declaration of ``name`` by the most recently connected worker serving it."""
        return self._registry.spec(name, kind, namespace)

    def has_handler(self, name: str, kind: HandlerKind, namespace: str = DEFAULT_NAMESPACE) -> bool:
        return bool(self._registry.serving(name, kind, namespace))

    def running(self, call_id: str) -> bool:
        """Whether an attempt of ``call_id`` is in flight here (attempts of a call run one at
        a time)."""
        return self._ledger.running(call_id)

    def declared(
        self, name: str, kind: HandlerKind, namespace: str = DEFAULT_NAMESPACE
    ) -> HandlerSpec | None:
        """The latest declaration of ``name`` by any worker since start, connected or not."""
        return self._registry.spec(name, kind, namespace) or self._declared.get(
            (namespace, name, kind)
        )

    async def wait_for_handler(
        self,
        name: str,
        kind: HandlerKind | None = None,
        *,
        workers: int = 1,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        """Wait until at least ``workers`` connected workers serve ``name``. Wrap it in
        ``asyncio.timeout`` to bound the wait."""
        while len(self._registry.serving(name, kind, namespace)) < workers:
            await self._registry.changed()

    def limits(self, spec: HandlerSpec | None) -> tuple[timedelta, timedelta]:
        """How long a call of ``spec`` may wait for a worker, and then run, by default (the
        declared values, else this dispatcher's)."""
        return (
            (spec.schedule_to_start_timeout if spec else None) or self._schedule_to_start_timeout,
            (spec.default_timeout if spec else None) or self._default_timeout,
        )

    @property
    def rejected_completions(self) -> int:
        """How many CallCompleted messages were fenced off since start."""
        return self._rejected

    # --- internals ----------------------------------------------------------------------------

    async def _acquire(
        self, attempt: Attempt, schedule_to_start: timedelta | None
    ) -> WorkerSession:
        """A slot on a worker serving the attempt's handler. Busy workers are waited for
        without limit (that is load, and their calls have deadlines); no worker serving it at
        all is waited out for the schedule-to-start timeout."""
        handler, kind, namespace = attempt.handler, attempt.kind, attempt.namespace
        declared = self._declared.get((namespace, handler, kind))
        limit = (schedule_to_start or self.limits(declared)[0]).total_seconds()
        loop = asyncio.get_running_loop()
        unserved_since: float | None = None
        while True:
            if attempt.result.done():  # cancelled by cancel_task while queued
                attempt.result.result()
            if self._registry.serving(handler, kind, namespace):
                unserved_since = None
                session = self._registry.try_acquire(handler, kind, attempt.key, namespace)
                if session is not None:
                    attempt.session = session
                    return session
                await self._registry.changed()
                continue
            if unserved_since is None:
                unserved_since = loop.time()
            remaining = unserved_since + limit - loop.time()
            if remaining <= 0:
                raise ScheduleToStartTimeout(handler, limit)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._registry.changed()

    async def _await_outcome(
        self, attempt: Attempt, session: WorkerSession, limit: timedelta
    ) -> Payload | Pending:
        # The deadline settles the attempt itself (no timeout scope and shield around the
        # await: each costs the call another pass of the event loop).
        expiry = asyncio.get_running_loop().call_later(
            limit.total_seconds(), self._expire, attempt, limit
        )
        try:
            result = await attempt.result
        except AttemptTimedOut as error:
            self._send_cancel(attempt, "deadline")
            self._finished(attempt, session, error.failure)
            raise
        except asyncio.CancelledError:
            attempt.abandon(CANCELLED)
            self._send_cancel(attempt, "cancelled")
            self._finished(attempt, session, CallCancelled("the caller cancelled").failure)
            raise
        except HandlerFailed as error:
            self._finished(attempt, session, error.failure)
            raise
        finally:
            expiry.cancel()
        self._finished(attempt, session, result)
        return result

    @staticmethod
    def _expire(attempt: Attempt, limit: timedelta) -> None:
        attempt.settle(
            CANCELLED,
            AttemptTimedOut(attempt.handler, limit.total_seconds(), idempotent=attempt.idempotent),
        )

    def _finished(
        self, attempt: Attempt, session: WorkerSession, outcome: Payload | Pending | Failure
    ) -> None:
        self._emit(
            AttemptFinished(
                call_id=attempt.call_id,
                attempt=attempt.number,
                handler=attempt.handler,
                kind=attempt.kind,
                task_id=attempt.task_id,
                worker_id=session.worker_id,
                outcome=outcome,
            )
        )

    def _complete(self, session: WorkerSession, message: worker_pb.CallCompleted) -> None:
        reason = self._ledger.rejection(message.call_id, message.attempt, session)
        if reason is not None:
            self._reject(session, message.call_id, message.attempt, reason)
            return
        attempt = self._ledger.latest(message.call_id)
        assert attempt is not None  # rejection() returned None, so it is the live attempt
        outcome = message.WhichOneof("outcome")
        if outcome == "failure":
            attempt.settle(DUPLICATE, HandlerFailed(Failure.from_proto(message.failure)))
        elif outcome == "pending_callback_id":
            attempt.settle(DUPLICATE, Pending(message.pending_callback_id))
        elif outcome == "output":
            attempt.settle(DUPLICATE, Payload.from_proto(message.output))
        else:
            attempt.settle(DUPLICATE, Payload())

    def _chunk(self, session: WorkerSession, message: worker_pb.CallChunk) -> None:
        attempt = self._ledger.latest(message.call_id)
        if (
            attempt is None
            or attempt.number != message.attempt
            or attempt.session is not session
            or attempt.late_reason
            or not message.HasField("chunk")
        ):
            return  # a fragment of an attempt that no longer counts
        self._emit(
            ChunkReceived(
                call_id=message.call_id,
                attempt=message.attempt,
                task_id=attempt.task_id,
                worker_id=session.worker_id,
                chunk=Payload.from_proto(message.chunk),
            )
        )

    def _reject(self, session: WorkerSession, call_id: str, attempt: int, reason: str) -> None:
        self._rejected += 1
        log.info(
            "rejected completion of call %s attempt %d from worker %s: %s",
            call_id,
            attempt,
            session.worker_id,
            reason,
        )
        session.send(
            worker_pb.ConnectResponse(
                call_rejected=worker_pb.CallRejected(
                    call_id=call_id, attempt=attempt, reason=reason
                )
            )
        )
        self._emit(
            CompletionRejected(
                call_id=call_id, attempt=attempt, worker_id=session.worker_id, reason=reason
            )
        )

    def _send_cancel(self, attempt: Attempt, reason: str) -> None:
        if attempt.session is not None:
            attempt.session.send(
                worker_pb.ConnectResponse(
                    cancel_call=worker_pb.CancelCall(
                        call_id=attempt.call_id, attempt=attempt.number, reason=reason
                    )
                )
            )

    def _watch(self, session: WorkerSession) -> None:
        session.watch(self._heartbeat_timeout.total_seconds(), lambda: self._silent(session))

    def _silent(self, session: WorkerSession) -> None:
        # The stream stays open: a worker that was only paused (GC, blocked loop, SIGSTOP) and
        # speaks again is revived, and its late results are fenced off rather than lost in a
        # closing stream.
        log.warning(
            "worker %s missed heartbeats for %ss; presumed dead",
            session.worker_id,
            self._heartbeat_timeout.total_seconds(),
        )
        session.alive = False
        self._registry.remove(session)
        self._lose_attempts(session, "missed heartbeats")

    def _revive(self, session: WorkerSession) -> None:
        if self._registry.get(session.worker_id) is not None:
            # The worker reconnected on another stream meanwhile; this one is stale.
            self.disconnect(session, "replaced by a new connection")
            return
        log.info("worker %s is back", session.worker_id)
        session.alive = True
        self._registry.add(session)
        self._watch(session)  # the timer stopped when it presumed the worker dead

    def _lose_attempts(self, session: WorkerSession, reason: str) -> None:
        for attempt in self._ledger.live():
            if attempt.session is session and not attempt.result.done():
                attempt.settle(
                    SUPERSEDED,
                    WorkerLost(session.worker_id, reason, idempotent=attempt.idempotent),
                )
                # Tell a worker that is merely slow to stop; a gone worker never reads it.
                self._send_cancel(attempt, f"worker presumed lost: {reason}")

    def _emit(self, event: DispatchEvent) -> None:
        if self._observer is None:
            return
        try:
            self._observer(event)
        except Exception:
            log.exception("dispatch observer failed on %s", type(event).__name__)
