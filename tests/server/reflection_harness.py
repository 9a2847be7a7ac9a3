"""Every RPC of a running server, found through its reflection service, and a way to call any of
them with raw bytes or messages and any metadata — what grpcurl or an attacker's script sees."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

OWN_SERVICES = ("aworld.runtime.v1.",)


@dataclass(frozen=True)
class Rpc:
    path: str  # /package.Service/Method
    request: type[Message]
    client_streaming: bool
    server_streaming: bool

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


def _discover(address: str) -> list[Rpc]:
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = descriptor_pool.DescriptorPool(database)
        rpcs: list[Rpc] = []
        for service_name in database.get_services():
            if not service_name.startswith(OWN_SERVICES):
                continue
            service = pool.FindServiceByName(service_name)
            for method in service.methods:
                rpcs.append(
                    Rpc(
                        f"/{service.full_name}/{method.name}",
                        message_factory.GetMessageClass(method.input_type),
                        method.client_streaming,
                        method.server_streaming,
                    )
                )
        return rpcs


async def discover(address: str) -> list[Rpc]:
    """The server's own RPCs (health and reflection left out), read over reflection.

    The reflection client is synchronous; it runs in a thread so the server in this event
    loop can answer it."""
    return await asyncio.to_thread(_discover, address)


async def call(
    channel: grpc.aio.Channel,
    rpc: Rpc,
    payload: bytes,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = 20.0,
) -> grpc.StatusCode:
    """Send ``payload`` (raw request bytes) and return the status the call ends with; a
    stream's first response counts as OK. Streams are closed after the first response."""
    raw: dict[str, Any] = {"request_serializer": None, "response_deserializer": None}
    try:
        if rpc.client_streaming:
            stream = channel.stream_stream(rpc.path, **raw)(
                iter([payload]), metadata=tuple(metadata), timeout=timeout
            )
            async for _ in stream:
                stream.cancel()
                return grpc.StatusCode.OK
            return grpc.StatusCode.OK
        if rpc.server_streaming:
            stream = channel.unary_stream(rpc.path, **raw)(
                payload, metadata=tuple(metadata), timeout=timeout
            )
            async for _ in stream:
                stream.cancel()
                return grpc.StatusCode.OK
            return grpc.StatusCode.OK
        await channel.unary_unary(rpc.path, **raw)(
            payload, metadata=tuple(metadata), timeout=timeout
        )
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        return error.code()
