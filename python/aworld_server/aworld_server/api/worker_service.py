"""The WorkerService servicer: converts protobuf <-> domain types and drives the dispatcher.

Authentication is not done here: a server interceptor will authenticate the stream before
``Connect`` runs. What it establishes about the caller (for example, which handler names it
may serve) belongs in :meth:`WorkerServiceServicer._admit`, the one place a Hello is accepted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aworld_client.api import worker_service_pb2 as worker_pb
from aworld_client.api import worker_service_pb2_grpc
from aworld_client.worker_service import Hello

from aworld_server.api.ownership import HandlerOwners
from aworld_server.api.principals import current_caller
from aworld_server.api.status import abort
from aworld_server.dispatch import WorkerDispatcher, WorkerSession, check_hello
from aworld_server.errors import AWorldError, InvalidArgument

__all__ = ["WorkerServiceServicer", "add_worker_service"]

log = logging.getLogger(__name__)


class WorkerServiceServicer(worker_service_pb2_grpc.WorkerServiceServicer):  # type: ignore[misc]
    """``WorkerService.Connect``: one bidirectional stream per connected worker."""

    def __init__(self, dispatcher: WorkerDispatcher, owners: HandlerOwners) -> None:
        self._dispatcher = dispatcher
        self._owners = owners

    async def Connect(
        self,
        request_iterator: AsyncIterator[worker_pb.ConnectRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[worker_pb.ConnectResponse]:
        # The dispatcher writes to the stream itself (``WorkerSession.send`` through
        # ``context.write``), from the sender's step when the stream is idle: yielding the
        # messages from here would cost each a pass through this handler's task.
        requests = aiter(request_iterator)
        try:
            session = await self._admit(_hello(await anext(requests, None)), context)
        except AWorldError as error:
            await abort(context, error)
        session.attach(
            context.write,
            lambda error: self._dispatcher.disconnect(session, f"stream write failed: {error}"),
        )
        reader = asyncio.create_task(self._read(requests, session))
        try:
            await session.ended()
            await session.flushed()
            if not reader.done():
                # The server ended the session (e.g. replaced by a newer connection): say so,
                # so the worker reconnects instead of taking it for a clean shutdown.
                await context.abort(grpc.StatusCode.UNAVAILABLE, session.close_reason)
        finally:
            reader.cancel()
            self._dispatcher.disconnect(session, "stream ended")
        # Never reached: this makes Connect an async generator, the shape the interceptors
        # wrapping a streaming RPC (authentication, OpenTelemetry) iterate over.
        if False:
            yield

    async def _admit(self, hello: Hello, context: Any) -> WorkerSession:
        caller = current_caller()
        check_hello(hello)  # a refused Hello claims nothing (no handler name, no worker id)
        await self._owners.admit(caller, hello)
        if hello.worker_id:  # an id of its own is claimed before the worker serves anything
            await self._owners.bind_worker(caller, hello.worker_id)
        session = self._dispatcher.connect(hello, peer=context.peer(), namespace=caller.namespace)
        if not hello.worker_id:
            await self._owners.bind_worker(caller, session.worker_id, chosen=False)
        return session

    async def _read(self, requests: AsyncIterator[Any], session: WorkerSession) -> None:
        reason = "the worker closed the stream"
        try:
            async for request in requests:
                self._dispatcher.receive(session, request)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # transport errors end the session like a close
            reason = f"stream failed: {error}"
            log.debug("worker %s stream failed", session.worker_id, exc_info=True)
        self._dispatcher.disconnect(session, reason)


def _hello(first: Any) -> Hello:
    if first is None or first.WhichOneof("kind") != "hello":
        raise InvalidArgument("the first message on WorkerService.Connect must be a Hello")
    return Hello.from_proto(first.hello)


def add_worker_service(
    server: Any, dispatcher: WorkerDispatcher, owners: HandlerOwners | None = None
) -> WorkerServiceServicer:
    """Serve WorkerService on ``server`` (a ``grpc.aio.Server``), backed by ``dispatcher``;
    ``owners`` is shared with the other services (default: a registry of its own)."""
    servicer = WorkerServiceServicer(dispatcher, owners or HandlerOwners())
    worker_service_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, server)
    return servicer
