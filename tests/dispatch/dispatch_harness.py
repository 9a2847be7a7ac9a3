"""Test harness for the dispatch tests: a WorkerService server on port 0, worker subprocesses
whose stdout can be awaited line by line, and ``assert_eventually``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
from aworld_client import HandlerKind, Payload, RetryPolicy
from aworld_server.api.worker_service import add_worker_service
from aworld_server.dispatch import Pending, WorkerDispatcher
from aworld_server.errors import NotFound
from aworld_server.ids import new_id
from aworld_server.retry import retry_async
from process_harness import ROOT, WAIT, WorkerProcess, assert_eventually

WORKER_APP = Path(__file__).with_name("worker_app.py")


class Server:
    """A grpc.aio server with WorkerService on 127.0.0.1, on a port chosen by the OS."""

    def __init__(self, dispatcher: WorkerDispatcher) -> None:
        self.dispatcher = dispatcher
        self.port = 0
        self._server: grpc.aio.Server | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start serving; after a stop, on the same port as before."""
        server = grpc.aio.server()
        add_worker_service(server, self.dispatcher)
        port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        assert port, f"could not bind 127.0.0.1:{self.port}"
        self.port = port
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)
            self._server = None


async def run_call(
    dispatcher: WorkerDispatcher,
    handler: str,
    kind: HandlerKind,
    input: Payload,
    *,
    retry_policy: RetryPolicy | None = None,
    call_id: str = "",
    **options: Any,
) -> Payload | Pending:
    """A call run to completion the way the runtime runs one: ``call_attempt`` under
    ``retry_async``, the same call id for every attempt (numbered from 1), the handler's
    declared policy by default; NotFound at once for a handler no worker ever declared."""
    spec = dispatcher.declared(handler, kind)
    if spec is None:
        raise NotFound(f"no worker ever declared {kind.name.lower()} {handler!r}")
    call_id = call_id or new_id()

    async def attempt(number: int) -> Payload | Pending:
        return await dispatcher.call_attempt(call_id, number, handler, kind, input, **options)

    return await retry_async(attempt, retry_policy or spec.retry_policy)


__all__ = ["ROOT", "WAIT", "WORKER_APP", "Server", "WorkerProcess", "assert_eventually", "run_call"]
