"""``AWORLD_HEARTBEAT_INTERVAL=1`` (plain seconds in the environment, as the chaos runs set
it) is accepted by ``aworld serve``, and a connecting worker is told that interval."""

from __future__ import annotations

from datetime import timedelta

import grpc
from aworld_client import HandlerKind
from aworld_client.api import worker_service_pb2_grpc
from aworld_client.handler import HandlerSpec
from aworld_client.worker_service import ConnectRequest, ConnectResponse, Hello, Welcome
from chaos_harness import WAIT, Chaos


async def test_plain_seconds_in_the_environment_set_the_heartbeat(chaos: Chaos) -> None:
    server = chaos.new_server(
        env={"AWORLD_HEARTBEAT_INTERVAL": "1", "AWORLD_HEARTBEAT_TIMEOUT": "3.5"}
    )
    await server.start()  # fails with the server's log if the value is refused

    async with grpc.aio.insecure_channel(server.address) as channel:
        stream = worker_service_pb2_grpc.WorkerServiceStub(channel).Connect(timeout=WAIT)
        hello = Hello(handlers=[HandlerSpec(name="noop", kind=HandlerKind.TOOL)])
        await stream.write(ConnectRequest(kind=hello).to_proto())
        welcome = ConnectResponse.from_proto(await stream.read()).kind
        stream.cancel()

    assert isinstance(welcome, Welcome), welcome
    assert welcome.heartbeat_interval == timedelta(seconds=1)
    assert welcome.heartbeat_timeout == timedelta(seconds=3.5)
    assert not server.tracebacks()
