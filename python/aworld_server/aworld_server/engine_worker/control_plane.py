"""An engine worker's connection to the control plane: one gRPC channel per (address, token),
with the EngineService stub (append events, open tasks, call remote handlers) and the
RuntimeService stub (read logs, sessions and the handler list back)."""

from __future__ import annotations

from typing import Any

import grpc
from aworld_client.api import engine_service_pb2_grpc, runtime_service_pb2_grpc

from aworld_server.namespaces import JOB_HEADER

__all__ = ["ControlPlane"]

_UNLIMITED = -1


class ControlPlane:
    """Stubs over one channel; ``metadata`` carries the bearer token when auth is on."""

    def __init__(self, address: str, token: str = "") -> None:
        self.address = address
        # Replays of long logs can be large: the control plane limits what it accepts itself.
        self.channel = grpc.aio.insecure_channel(
            address,
            options=[
                ("grpc.max_receive_message_length", _UNLIMITED),
                ("grpc.max_send_message_length", _UNLIMITED),
            ],
        )
        self.engine: Any = engine_service_pb2_grpc.EngineServiceStub(self.channel)
        self.runtime: Any = runtime_service_pb2_grpc.RuntimeServiceStub(self.channel)
        self.metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )

    def for_job(self, job_id: str) -> tuple[tuple[str, str], ...]:
        """Metadata of a call about one task: the credential, and the task's job id, which an
        engine credential needs to reach the task at all."""
        return (*self.metadata, (JOB_HEADER, job_id)) if job_id else self.metadata

    async def close(self) -> None:
        await self.channel.close()
