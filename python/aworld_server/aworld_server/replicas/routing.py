"""Calls routed between replicas: a task's owner (B) whose own workers do not serve a handler
sends the call to a replica (A) whose worker does; A runs it as one of its own attempts — its
dispatcher's fencing, heartbeats, timeouts and load balancing — and sends the outcome back.

Every replica reads one Redis stream, ``{p}replica:{id}:route``; one entry is one MessagePack
message about one routed attempt (its ``id``):

    B -> A  call     the attempt (handler, input, task, idempotency key, B's lease token)
    A -> B  declined A serves the handler no more: B picks another replica (nothing ran)
    A -> B  start    A's dispatcher chose a worker and waits to send the call
    B -> A  go/stop  B recorded the attempt's start (``on_start``), or could not
    A -> B  done / pending / error    the attempt's outcome
    B -> A  cancel   the task was cancelled, or B stopped waiting: A cancels it on its worker

The start handshake keeps the durability rule of a local call: the attempt's start is in B's
log before the worker gets the call. Just before it sends the call A checks B's lease token
against the task's fence (one GET): a replica that lost the task's lease does not get its call
served. While it waits, B checks every beat that A still publishes its workers (same process
instance, :mod:`.directory`): an A that died before ``go`` ran nothing (B tries elsewhere, the
same attempt); after ``go`` the attempt fails with WorkerLost, as when a local worker dies —
retried if the handler is idempotent, else not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any, Final

import msgpack
import redis.asyncio as aioredis
from aworld_client import Failure, HandlerKind, Payload
from aworld_client.handlers import Pending
from redis.exceptions import RedisError

from aworld_server.dispatch import HandlerCall, WorkerDispatcher
from aworld_server.errors import (
    AWorldError,
    CallCancelled,
    FieldViolation,
    HandlerFailed,
    InvalidInput,
    WorkerLost,
)
from aworld_server.observability import call_headers
from aworld_server.redis_client import stop_loop, tail_stream
from aworld_server.replicas.directory import Directory
from aworld_server.replicas.leases import Leases

__all__ = ["NotStarted", "Router"]

log = logging.getLogger(__name__)

_STREAM_LENGTH: Final = 10_000
_ANSWER_TRIES: Final = 5
# A view of the other replicas' workers this recent is good enough to pick one: they publish
# at most this often anyway (directory._MIN_GAP_S).
_VIEW_MAX_AGE_S: Final = 0.05


class NotStarted(Exception):
    """The replica asked did not start the attempt (it died, or serves the handler no more):
    nothing ran, the same attempt may go elsewhere."""


class _Routed:
    """One attempt this replica sent to another, and the messages it got back."""

    __slots__ = ("inbox", "target", "task_id")

    def __init__(self, target: str, task_id: str) -> None:
        self.target = target
        self.task_id = task_id
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()


class Router:
    """Both sides of routed calls on one replica (see the module docstring)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        replica_id: str,
        dispatcher: WorkerDispatcher,
        directory: Directory,
        leases: Leases,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.replica_id = replica_id
        self.dispatcher = dispatcher
        self.directory = directory
        self.leases = leases
        self.beat = directory.ttl / 3
        # How long a peer may stay silent in a handshake before it is given up on.
        self.patience = max(directory.ttl * 2, 5.0)
        self._asking: dict[str, _Routed] = {}
        self._outstanding: Counter[str] = Counter()  # attempts sent per replica, not ended
        self._serving: dict[str, asyncio.Task[None]] = {}
        self._cancelled: set[str] = set()  # served attempts their caller cancelled
        # The served attempt of each call, by idempotency key: route id, and (lease token,
        # attempt) to rank it.
        self._by_call: dict[str, tuple[str, tuple[int, int]]] = {}
        self._go: dict[str, asyncio.Future[bool]] = {}
        self._orphans: set[asyncio.Task[None]] = set()  # "stop"s being sent
        self._reader: asyncio.Task[None] | None = None
        self._stopping = False

    def _stream(self, replica_id: str) -> str:
        return f"{self.prefix}replica:{replica_id}:route"

    async def _send(self, replica_id: str, message: dict[str, Any]) -> None:
        await self.client.xadd(
            self._stream(replica_id),
            {"m": msgpack.packb(message, use_bin_type=True)},
            maxlen=_STREAM_LENGTH,
            approximate=True,
        )

    # -- choosing a replica -------------------------------------------------------------------
    async def pick(
        self, name: str, kind: HandlerKind, namespace: str, exclude: set[str]
    ) -> tuple[str, str] | None:
        """The least loaded other replica whose workers serve the handler (read now), and its
        process instance."""
        best: tuple[float, str, str] | None = None
        view = await self.directory.read(max_age=_VIEW_MAX_AGE_S)
        for replica_id, published in view.items():
            if replica_id in exclude:
                continue
            load = published.load(name, kind, namespace)
            if load is None:
                continue
            in_flight, slots = load
            # Its published load lags; the attempts sent to it since count too.
            score = (in_flight + self._outstanding[replica_id]) / slots
            if best is None or score < best[0]:
                best = (score, replica_id, published.instance)
        return (best[1], best[2]) if best else None

    # -- asking (the task's owner) ------------------------------------------------------------
    async def call(
        self, target: str, instance: str, call: HandlerCall, schedule_to_start: timedelta | None
    ) -> Any:
        """One attempt on the workers of ``target`` (that process ``instance``): its output
        (or Pending). Raises NotStarted, the attempt's failure (HandlerFailed and its kinds),
        or WorkerLost."""
        task = call.task
        route_id = uuid.uuid4().hex
        routed = _Routed(target, task.id if task else "")
        token = self.leases.held.get(task.id, "") if task else ""
        message = {
            "k": "call",
            "id": route_id,
            "from": self.replica_id,
            "name": call.name,
            "kind": int(call.kind),
            "input": Payload.of(call.arguments).to_bytes(),
            "call_id": call.call_id,
            "attempt": call.attempt,
            "task_id": routed.task_id,
            "session_id": task.session_id if task else "",
            "headers": dict(call_headers(task.headers if task else None, call.headers)),
            "hook_point": call.hook_point,
            "timeout": call.timeout.total_seconds() if call.timeout else None,
            "key": call.key,
            "schedule_to_start": schedule_to_start.total_seconds() if schedule_to_start else None,
            "require_idempotent": call.require_idempotent,
            "namespace": call.in_namespace,
            "token": token,
        }
        # However its answers get lost, the caller gives up once the call could no longer
        # be running there: its wait for a worker, its run, and the handshake's patience.
        waits, runs = self.dispatcher.limits(
            self.directory.declared(call.name, call.kind, call.in_namespace)
        )
        give_up = (
            asyncio.get_running_loop().time()
            + (schedule_to_start or waits).total_seconds()
            + (call.timeout or runs).total_seconds()
            + self.patience
        )
        self._asking[route_id] = routed
        self._outstanding[target] += 1
        started, worker, idempotent = False, "", False
        try:
            try:
                await self._send(target, message)
            except (RedisError, OSError) as error:
                raise NotStarted(target) from error
            while True:
                reply = await self._next(routed, instance, give_up)
                kind = reply["k"]
                if kind == "declined":
                    raise NotStarted(target)
                if kind == "start":
                    worker, idempotent = str(reply["worker"]), bool(reply["idempotent"])
                    started = True  # from here on the attempt may run
                    try:
                        if call.on_start is not None:
                            await call.on_start(worker)
                    except BaseException:
                        with contextlib.suppress(RedisError, OSError):
                            await self._send(target, {"k": "stop", "id": route_id})
                        raise
                    try:
                        await self._send(target, {"k": "go", "id": route_id})
                    except (RedisError, OSError):
                        raise _Lost from None  # the start is recorded: it may have run
                    continue
                return _outcome(reply)
        except _Lost:
            if not started:
                raise NotStarted(target) from None
            raise WorkerLost(
                f"{worker} (on replica {target})",
                "its replica stopped answering",
                idempotent=idempotent,
            ) from None
        except asyncio.CancelledError:
            with contextlib.suppress(RedisError, OSError):
                await self._send(target, {"k": "cancel", "id": route_id, "reason": "cancelled"})
            raise
        finally:
            del self._asking[route_id]
            self._outstanding[target] -= 1
            if self._outstanding[target] <= 0:
                del self._outstanding[target]

    async def _next(self, routed: _Routed, instance: str, give_up: float) -> dict[str, Any]:
        """The next message about the attempt; raises _Lost once its replica is gone, or at
        ``give_up`` (loop time) when it is alive but its answers did not arrive."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout(min(self.beat, max(0.0, give_up - loop.time()))):
                    return await routed.inbox.get()
            except TimeoutError:
                if loop.time() >= give_up:
                    log.warning("no answer from replica %s about a routed call", routed.target)
                    raise _Lost from None
                if not self.directory.live(routed.target, instance):
                    raise _Lost from None

    async def cancel_task(self, task_id: str, reason: str) -> None:
        """Cancel the task's attempts on other replicas (their workers get a CancelCall)."""
        cancelled = [(i, r) for i, r in self._asking.items() if r.task_id == task_id]
        for route_id, routed in cancelled:
            with contextlib.suppress(RedisError, OSError):
                await self._send(routed.target, {"k": "cancel", "id": route_id, "reason": reason})
        # Settled last, with no await after: a caller cancelling the task's run right after
        # this (the executor's cancel) does so before the run sees the calls fail.
        for _, routed in cancelled:
            routed.inbox.put_nowait({"k": "cancelled", "reason": reason})

    # -- serving (the replica whose worker runs it) -------------------------------------------
    async def _serve(self, message: dict[str, Any]) -> None:
        route_id, origin = str(message["id"]), str(message["from"])
        name, kind = str(message["name"]), HandlerKind(int(message["kind"]))
        namespace = str(message["namespace"])
        if self._stopping or not self.dispatcher.has_handler(name, kind, namespace):
            await self._send(origin, {"k": "declined", "id": route_id})
            return
        token = str(message["token"])
        call_id, attempt = str(message["call_id"]), int(message["attempt"])
        task_id = str(message["task_id"])
        # Calls are told apart by their idempotency key (task and call id): call ids are the
        # model's, and two tasks' models may well both say "call_0".
        key = str(message["key"]) or call_id
        if task_id and not token:
            # A task's call comes from the replica holding its lease, with the lease's token:
            # without one there is nothing to fence it by.
            unfenced = CallCancelled(f"call {call_id} of task {task_id} names no lease")
            await self._send(origin, {**_error(unfenced), "id": route_id})
            return
        if not await self.supersede(key, (int(token or 0), attempt)) or not (
            await self._own_attempt_gone(call_id, task_id, token)
        ):
            stale = CallCancelled(f"a newer attempt of call {call_id} runs here")
            await self._send(origin, {**_error(stale), "id": route_id})
            return
        self._by_call[key] = (route_id, (int(token or 0), attempt))
        try:
            await self._run(message, route_id, origin, name, kind, namespace)
        finally:
            if self._by_call.get(key, ("",))[0] == route_id:
                del self._by_call[key]

    async def supersede(self, key: str, rank: tuple[int, int] | None = None) -> bool:
        """Make way for a new attempt of the call with idempotency ``key``: an attempt served
        here for another replica that ranks lower — an older lease token (a stale owner's) or
        an older attempt — is cancelled (its worker gets a CancelCall; the dispatcher runs one
        attempt of a call at a time). ``rank`` None: the attempt is this replica's own, as the
        task's owner now. False when the attempt served here ranks higher (the new one is
        stale)."""
        served = self._by_call.get(key)
        if served is None:
            return True
        route_id, current = served
        # The same rank: its caller gave up on the attempt (it did not start) and sent it again.
        if rank is not None and rank < current:
            return False
        serving = self._serving.get(route_id)
        if serving is not None:
            self._cancelled.add(route_id)
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
        return True

    async def _own_attempt_gone(self, call_id: str, task_id: str, token: str) -> bool:
        """True once no attempt of the call runs here as this replica's own. One may: this
        replica ran the task and, paused or cut off past its lease, has not noticed yet that
        the caller took the task over. A caller's token that is the task's latest proves it:
        the task's run here stops (as when renewing finds the lease gone) and its attempt with
        it. False when the caller is the stale one, or the run here does not stop in time."""
        if not self.dispatcher.running(call_id):
            return True
        if not task_id or not token or await self.leases.token(task_id) != token:
            return False
        self.leases.lost(task_id)  # nothing when already lost: its run is stopping then
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.patience
        while self.dispatcher.running(call_id):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):  # the attempt's end frees its slot
                async with asyncio.timeout(min(self.beat, remaining)):
                    await self.dispatcher.changed()
        return True

    async def _run(
        self,
        message: dict[str, Any],
        route_id: str,
        origin: str,
        name: str,
        kind: HandlerKind,
        namespace: str,
    ) -> None:
        task_id, token = str(message["task_id"]), str(message["token"])

        idempotent = False

        async def handshake(worker_id: str) -> None:
            nonlocal idempotent
            idempotent = self._idempotent(worker_id, name, kind)
            if task_id and token and await self.leases.token(task_id) != token:
                raise CallCancelled(f"replica {origin} lost the lease of task {task_id}")
            go = asyncio.get_running_loop().create_future()
            self._go[route_id] = go
            try:
                await self._send(
                    origin,
                    {
                        "k": "start",
                        "id": route_id,
                        "from": self.replica_id,
                        "worker": worker_id,
                        "idempotent": idempotent,
                    },
                )
                async with asyncio.timeout(self.patience):
                    if not await go:
                        raise CallCancelled(f"replica {origin} did not start the call")
            except TimeoutError:
                raise CallCancelled(f"replica {origin} stopped answering") from None
            finally:
                self._go.pop(route_id, None)
            # Again just before the worker gets the call: the lease may have moved during the
            # handshake (it waits up to ``patience``), and a stale owner's call must not run.
            if task_id and token and await self.leases.token(task_id) != token:
                raise CallCancelled(f"replica {origin} lost the lease of task {task_id}")

        timeout, schedule = message["timeout"], message["schedule_to_start"]
        reply: dict[str, Any]
        try:
            output = await self.dispatcher.call_attempt(
                str(message["call_id"]),
                int(message["attempt"]),
                name,
                kind,
                Payload.from_bytes(message["input"]),
                task_id=task_id,
                session_id=str(message["session_id"]),
                headers={str(k): str(v) for k, v in message["headers"].items()},
                hook_point=str(message["hook_point"]),
                timeout=timedelta(seconds=timeout) if timeout is not None else None,
                idempotency_key=str(message["key"]),
                schedule_to_start=timedelta(seconds=schedule) if schedule is not None else None,
                on_start=handshake,
                require_idempotent=bool(message["require_idempotent"]),
                namespace=namespace,
            )
            if isinstance(output, Pending):
                reply = {"k": "pending", "callback_id": output.callback_id}
            else:
                reply = {"k": "done", "output": output.to_bytes()}
        except asyncio.CancelledError:
            if route_id in self._cancelled:
                return  # its caller cancelled it and stopped waiting
            # This replica stops: the caller's attempt was lost with it.
            lost = WorkerLost(f"replica {self.replica_id}", "it stopped", idempotent=idempotent)
            with contextlib.suppress(RedisError, OSError):
                await self._send(origin, {**_error(lost), "id": route_id})
            raise
        except HandlerFailed as error:
            reply = _error(error)
        except AWorldError as error:
            failure = Failure(type=type(error).__name__, message=str(error), non_retryable=True)
            reply = _error(HandlerFailed(failure))
        except Exception as error:
            log.exception("serving routed call %s of %s failed", name, origin)
            failure = Failure(type=type(error).__name__, message=str(error), non_retryable=True)
            reply = _error(HandlerFailed(failure))
        for retry in range(_ANSWER_TRIES):
            try:
                await self._send(origin, {**reply, "id": route_id})
                return
            except (RedisError, OSError):
                log.warning("could not answer routed call %s of %s", name, origin, exc_info=True)
                await asyncio.sleep(self.beat * (retry + 1))  # a retry period: Redis away
        # The caller waits on while this replica publishes; its lease goes when Redis does.

    def _idempotent(self, worker_id: str, name: str, kind: HandlerKind) -> bool:
        for session in self.dispatcher.connected():
            if session.worker_id == worker_id:
                spec = session.specs.get((name, kind))
                return spec is not None and spec.idempotent
        return False

    # -- the stream ---------------------------------------------------------------------------
    def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="replica:routing")

    async def stop(self) -> None:
        self._stopping = True
        if self._reader is not None:
            await stop_loop(self._reader)
            self._reader = None
        serving = list(self._serving.values())
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)

    async def _read(self) -> None:
        stream = self._stream(self.replica_id)
        async for entry_id, fields in tail_stream(self.client, stream, lambda: self._stopping):
            try:
                self._dispatch(msgpack.unpackb(fields[b"m"], raw=False))
            except Exception:  # one bad entry must not stop the stream
                log.exception("ignored a malformed routing message %s", entry_id)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind, route_id = message["k"], str(message["id"])
        if kind == "call":
            serving = asyncio.create_task(self._serve(message), name=f"routed:{route_id}")
            self._serving[route_id] = serving

            def done(task: asyncio.Task[None]) -> None:
                self._serving.pop(route_id, None)
                self._cancelled.discard(route_id)
                if not task.cancelled() and task.exception() is not None:
                    log.error("serving routed call %s failed", route_id, exc_info=task.exception())

            serving.add_done_callback(done)
        elif kind in ("go", "stop"):
            go = self._go.get(route_id)
            if go is not None and not go.done():
                go.set_result(kind == "go")
        elif kind == "cancel":
            target = self._serving.get(route_id)
            if target is not None:
                self._cancelled.add(route_id)
                target.cancel()
        else:  # an answer to an attempt this replica asked for
            routed = self._asking.get(route_id)
            if routed is not None:
                routed.inbox.put_nowait(message)
            elif kind == "start":  # one it gave up on (it went elsewhere): it must not run
                stopping = asyncio.create_task(self._stop_orphan(str(message["from"]), route_id))
                self._orphans.add(stopping)
                stopping.add_done_callback(self._orphans.discard)

    async def _stop_orphan(self, replica_id: str, route_id: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._send(replica_id, {"k": "stop", "id": route_id})


class _Lost(Exception):
    """The replica serving a routed attempt stopped publishing."""


def _error(error: HandlerFailed) -> dict[str, Any]:
    out: dict[str, Any] = {"k": "error", "failure": error.failure.to_bytes()}
    if isinstance(error, InvalidInput):
        out["violations"] = [[v.field, v.description] for v in error.violations]
        out["handler"] = error.message
    return out


def _outcome(reply: dict[str, Any]) -> Any:
    kind = reply["k"]
    if kind == "done":
        return Payload.from_bytes(reply["output"]).value()
    if kind == "pending":
        return Pending(callback_id=str(reply["callback_id"]))
    if kind == "cancelled":
        raise CallCancelled(str(reply["reason"]))
    failure = Failure.from_bytes(reply["failure"])
    if "violations" in reply:
        error = InvalidInput("", [FieldViolation(str(f), str(d)) for f, d in reply["violations"]])
        error.message = str(reply["handler"])
        error.failure = failure
        raise error
    raise HandlerFailed(failure)
