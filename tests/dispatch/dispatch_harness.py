"""Test harness for the dispatch tests: a WorkerService server on port 0, worker subprocesses
whose stdout can be awaited line by line, and ``assert_eventually``."""

from __future__ import annotations

from pathlib import Path

import grpc
from aworld_server.api.worker_service import add_worker_service
from aworld_server.dispatch import WorkerDispatcher
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


__all__ = ["ROOT", "WAIT", "WORKER_APP", "Server", "WorkerProcess", "assert_eventually"]
