"""WorkerService over a real gRPC channel: the Hello handshake and fencing, seen by a raw
client that speaks the protocol by hand."""

from __future__ import annotations

import grpc
import pytest
from aworld_client import HandlerKind, HandlerSpec, Payload
from aworld_client.api import worker_service_pb2_grpc
from aworld_client.worker_service import (
    CallCompleted,
    CallRejected,
    ConnectRequest,
    ConnectResponse,
    Heartbeat,
    Hello,
    Welcome,
)
from dispatch_harness import Server


async def _exchange(target: str, *requests: ConnectRequest) -> list[ConnectResponse]:
    """Send ``requests``, half-close, and collect everything the server answers."""
    async with grpc.aio.insecure_channel(target) as channel:
        call = worker_service_pb2_grpc.WorkerServiceStub(channel).Connect()
        for request in requests:
            await call.write(request.to_proto())
        await call.done_writing()
        return [ConnectResponse.from_proto(m) async for m in call]


def _hello(*specs: HandlerSpec) -> ConnectRequest:
    return ConnectRequest(kind=Hello(handlers=list(specs), sdk="raw/0"))


async def test_first_message_must_be_hello(server: Server) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _exchange(server.target, ConnectRequest(kind=Heartbeat()))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "first message" in (caught.value.details() or "")


@pytest.mark.parametrize(
    ("specs", "complaint"),
    [
        ((), "declare at least one handler"),
        ((HandlerSpec(name="has space", kind=HandlerKind.TOOL),), "handlers[0].name"),
        ((HandlerSpec(name="ok"),), "handlers[0].kind"),
        ((HandlerSpec(name="ok", kind=HandlerKind.TOOL, input_schema="{"),), "input_schema"),
    ],
)
async def test_bad_hello_is_invalid_argument(
    server: Server, specs: tuple[HandlerSpec, ...], complaint: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _exchange(server.target, _hello(*specs))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert complaint in (caught.value.details() or "")
    assert server.dispatcher.workers() == []


async def test_completion_of_unknown_call_is_rejected(server: Server) -> None:
    responses = await _exchange(
        server.target,
        _hello(HandlerSpec(name="echo", kind=HandlerKind.TOOL)),
        ConnectRequest(kind=CallCompleted(call_id="nope", attempt=1, outcome=Payload.of(1))),
    )
    assert isinstance(responses[0].kind, Welcome)
    assert responses[0].kind.worker_id
    assert responses[0].kind.heartbeat_timeout is not None
    assert [r.kind for r in responses[1:]] == [
        CallRejected(call_id="nope", attempt=1, reason="unknown_call")
    ]
    assert server.dispatcher.rejected_completions == 1
    assert server.dispatcher.workers() == []  # half-closing the stream disconnected it


async def test_reconnecting_worker_replaces_its_old_stream(server: Server) -> None:
    hello = ConnectRequest(
        kind=Hello(worker_id="w1", handlers=[HandlerSpec(name="echo", kind=HandlerKind.TOOL)])
    )
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = worker_service_pb2_grpc.WorkerServiceStub(channel)
        old = stub.Connect()
        await old.write(hello.to_proto())
        await old.read()  # Welcome
        new = stub.Connect()
        await new.write(hello.to_proto())
        welcome = ConnectResponse.from_proto(await new.read()).kind

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await old.read()
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "replaced" in (caught.value.details() or "")
        assert isinstance(welcome, Welcome) and welcome.worker_id == "w1"
        assert [w.worker_id for w in server.dispatcher.workers()] == ["w1"]
        new.cancel()
