"""Bearer tokens with scopes, the bind address, TLS and mutual TLS, over real channels."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from aworld_client import AsyncClient, HandlerKind, RetryPolicy, RuntimeServiceError, Worker
from aworld_client.handlers import tool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_harness import WAIT, Pki, StartServer, answer_task, make_pki

TOKENS = {
    "submitter": ["submit", "read"],
    "reader": ["read"],
    "registrar": ["register"],
}


@tool
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


def _worker(
    target: str,
    metadata: Sequence[tuple[str, str]] = (),
    credentials: grpc.ChannelCredentials | None = None,
) -> Worker:
    return Worker(
        target,
        [shout],
        metadata=metadata,
        credentials=credentials,
        reconnect_backoff=RetryPolicy(
            initial_interval=timedelta(milliseconds=50), maximum_attempts=3
        ),
    )


async def _refused(worker: Worker) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with asyncio.timeout(WAIT):
            await worker.run()
    code: grpc.StatusCode = caught.value.code()
    return code


@contextlib.asynccontextmanager
async def _serving(worker: Worker):  # type: ignore[no-untyped-def]
    run = asyncio.create_task(worker.run())
    try:
        yield run
    finally:
        await worker.stop(timedelta(0))
        await run


async def test_tokens_and_scopes(start: StartServer) -> None:
    server = await start(auth_tokens=TOKENS)
    target = f"127.0.0.1:{server.port}"

    async with AsyncClient(target) as anonymous:
        with pytest.raises(RuntimeServiceError) as caught:
            await anonymous.list_tasks()
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    async with AsyncClient(target, token="wrong") as impostor:
        with pytest.raises(RuntimeServiceError) as caught:
            await impostor.submit(answer_task())
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED

    async with AsyncClient(target, token="submitter") as submitter:
        task_id = await submitter.submit(answer_task())
    async with AsyncClient(target, token="reader") as reader:
        assert (await reader.get(task_id)).task is not None  # read scope: allowed
        with pytest.raises(RuntimeServiceError) as caught:
            await reader.submit(answer_task())
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(RuntimeServiceError) as caught:
            await reader.cancel(task_id)
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(RuntimeServiceError) as caught:
            await anext(reader.run(answer_task()))
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    async with AsyncClient(target, token="registrar") as registrar:
        with pytest.raises(RuntimeServiceError) as caught:
            await registrar.list_tasks()  # register is not read
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED

    # Health needs no token (load balancers probe it).
    async with grpc.aio.insecure_channel(target) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING


async def test_workers_need_a_token_with_the_register_scope(start: StartServer) -> None:
    server = await start(auth_tokens=TOKENS)
    target = f"127.0.0.1:{server.port}"

    assert await _refused(_worker(target)) == grpc.StatusCode.UNAUTHENTICATED
    assert (
        await _refused(_worker(target, [("authorization", "Bearer nope")]))
        == grpc.StatusCode.UNAUTHENTICATED
    )
    assert (
        await _refused(_worker(target, [("authorization", "Bearer submitter")]))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert server.dispatcher.workers() == []

    async with _serving(_worker(target, [("authorization", "Bearer registrar")])):
        async with asyncio.timeout(WAIT):
            await server.dispatcher.wait_for_handler("shout", HandlerKind.TOOL)
        async with AsyncClient(target, token="submitter") as client:
            response = await client.invoke("shout", {"text": "hi"})
            assert response.output is not None and response.output.value() == "HI"


def _outside_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent for UDP connect
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


async def test_without_credentials_the_server_binds_loopback_only(start: StartServer) -> None:
    server = await start()

    assert server.address == f"127.0.0.1:{server.port}"
    assert _accepts("127.0.0.1", server.port)
    outside = _outside_address()
    if outside is not None:
        assert not _accepts(outside, server.port), f"reachable on {outside}"


async def test_with_tokens_the_server_binds_any_or_the_configured_host(
    start: StartServer,
) -> None:
    anywhere = await start(auth_tokens=TOKENS)
    assert anywhere.address == f"0.0.0.0:{anywhere.port}"
    outside = _outside_address()
    if outside is not None:
        assert _accepts(outside, anywhere.port)

    configured = await start(auth_tokens=TOKENS, host="127.0.0.1")
    assert configured.address == f"127.0.0.1:{configured.port}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _credentials(pki: Pki, *, client_cert: bool = False) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.client_key.read_bytes() if client_cert else None,
        certificate_chain=pki.client_cert.read_bytes() if client_cert else None,
    )


async def test_tls(start: StartServer, pki: Pki) -> None:
    server = await start(tls_cert_file=pki.server_cert, tls_key_file=pki.server_key)
    # TLS alone is not client authentication: still loopback only.
    assert server.address == f"127.0.0.1:{server.port}"
    target = f"localhost:{server.port}"

    async with AsyncClient(target, credentials=_credentials(pki)) as client:
        task_id = await client.submit(answer_task("secret"))
        async with asyncio.timeout(WAIT):
            events = [e async for e in client.events(task_id)]
        assert events[-1].is_terminal

    async with _serving(_worker(target, credentials=_credentials(pki))):
        async with asyncio.timeout(WAIT):
            await server.dispatcher.wait_for_handler("shout", HandlerKind.TOOL)

    async with AsyncClient(target) as plaintext:  # a plaintext client cannot talk to it
        with pytest.raises(RuntimeServiceError) as caught:
            await plaintext.list_tasks()
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_refuses_a_client_without_a_certificate(
    start: StartServer, pki: Pki, tmp_path: Path
) -> None:
    server = await start(
        tls_cert_file=pki.server_cert, tls_key_file=pki.server_key, tls_client_ca_file=pki.ca
    )
    target = f"localhost:{server.port}"

    async with AsyncClient(target, credentials=_credentials(pki, client_cert=True)) as client:
        assert await client.submit(answer_task())
    async with _serving(_worker(target, credentials=_credentials(pki, client_cert=True))):
        async with asyncio.timeout(WAIT):
            await server.dispatcher.wait_for_handler("shout", HandlerKind.TOOL)

    async with AsyncClient(target, credentials=_credentials(pki)) as anonymous:
        with pytest.raises(RuntimeServiceError) as caught:
            await anonymous.list_tasks()
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE

    # A certificate from another CA is refused too.
    stranger = make_pki(tmp_path / "stranger")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=stranger.client_key.read_bytes(),
        certificate_chain=stranger.client_cert.read_bytes(),
    )
    async with AsyncClient(target, credentials=credentials) as impostor:
        with pytest.raises(RuntimeServiceError) as caught:
            await impostor.list_tasks()
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
