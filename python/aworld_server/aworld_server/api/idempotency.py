"""Idempotency keys: (namespace, principal, method, request_id), plus a fingerprint of the body.

SubmitTask compares the body with the stored task (:func:`same_submission`); other mutations
keep the fingerprint with their remembered answer (:class:`IdempotentCalls`).

Two callers can never collide on a request id (one cannot read another's answer by guessing
it), and a retry that changes the body is refused with ALREADY_EXISTS naming the key instead
of silently getting the first request's answer.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from aworld_server.api.principals import current_caller
from aworld_server.errors import AlreadyExists
from aworld_server.namespaces import DEFAULT_NAMESPACE, RESERVED_PREFIX

__all__ = ["IdempotentCalls", "conflict", "fingerprint", "same_submission", "scoped_request_id"]

T = TypeVar("T")


def scoped_request_id(method: str, request_id: str) -> str:
    """The stored form of a client's request id for the current caller.

    With authentication off and namespace ``default`` it is the request id itself, so stores
    written before namespaces existed keep answering their retries."""
    if not request_id:
        return ""
    caller = current_caller()
    if not caller.authenticated and caller.namespace == DEFAULT_NAMESPACE:
        return request_id
    key = "\x1f".join((caller.namespace, caller.principal.name, method, request_id))
    return "k1:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def fingerprint(message: Message) -> str:
    """A digest of a request body; equal bodies give equal fingerprints."""
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()[:32]


# Task fields the server fills in when a submit leaves them empty, and headers it adds.
_SERVER_FILLED = ("id", "session_id", "user_id")
_ADDED_HEADERS = ("traceparent", "tracestate")


def same_submission(sent: Message, stored: Message) -> bool:
    """Whether a submitted Task is the one stored under its request id, apart from what the
    server added when it stored it (ids it generated, the recorded principal, trace context).

    Computed from the stored task itself, so nothing extra is stored or shown to callers."""
    a, b = type(sent)(), type(stored)()
    a.CopyFrom(sent)
    b.CopyFrom(stored)
    for task in (a, b):
        headers: Any = task.headers  # type: ignore[attr-defined]
        for key in [k for k in headers if k.startswith(RESERVED_PREFIX) or k in _ADDED_HEADERS]:
            del headers[key]
    for name in _SERVER_FILLED:
        if not getattr(a, name):
            setattr(b, name, "")
    return fingerprint(a) == fingerprint(b)


def conflict(method: str, request_id: str) -> AlreadyExists:
    return AlreadyExists(
        f"request_id {request_id!r} was already used for a different {method} request; "
        "use a new request_id for a new request"
    )


class IdempotentCalls:
    """Runs a mutation once per idempotency key; repeats, concurrent or later, get its answer.

    The work runs as its own asyncio task, so a caller that disconnects does not abandon a
    mutation half-way; its retry finds the answer. Failures are not remembered. At most
    ``remembered`` answers are kept, oldest dropped first."""

    def __init__(self, remembered: int = 10_000) -> None:
        self._remembered = remembered
        self._answers: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        self._running: dict[str, tuple[str, asyncio.Future[Any]]] = {}

    async def once(
        self, method: str, request_id: str, body: Message, work: Callable[[], Awaitable[T]]
    ) -> T:
        if not request_id:
            return await work()
        key, digest = scoped_request_id(method, request_id), fingerprint(body)
        if key in self._answers:
            seen, answer = self._answers[key]
            if seen != digest:
                raise conflict(method, request_id)
            result: T = answer
            return result
        running = self._running.get(key)
        if running is not None and running[0] != digest:
            raise conflict(method, request_id)
        if running is None:
            future = asyncio.ensure_future(work())
            self._running[key] = (digest, future)

            def finished(done: asyncio.Future[Any]) -> None:
                del self._running[key]
                if not done.cancelled() and done.exception() is None:
                    self._answers[key] = (digest, done.result())
                    while len(self._answers) > self._remembered:
                        self._answers.popitem(last=False)

            future.add_done_callback(finished)
            running = (digest, future)
        out: T = await asyncio.shield(running[1])
        return out
