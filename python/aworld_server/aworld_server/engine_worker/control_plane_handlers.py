"""``ControlPlaneHandlers``: how a runner on an engine worker reaches handlers served by workers
connected to the control plane — one attempt per EngineService.CallHandler call, with the same
fencing, cancellation and schema checks as calls from the control plane's own runners.

Handler specs come from RuntimeService.ListHandlers (those with a connected worker), cached and
refreshed when a task names a handler this worker does not know yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from aworld_client import Failure, HandlerKind, HandlerSpec, Payload
from aworld_client.api import runtime_service_pb2 as runtime_pb
from aworld_client.engine_service import CallHandlerRequest, CallHandlerResponse
from aworld_client.runtime_service import ListHandlersResponse

from aworld_server.dispatch import HandlerCall
from aworld_server.engine_worker.control_plane import ControlPlane
from aworld_server.errors import HandlerFailed
from aworld_server.observability import call_headers

__all__ = ["ControlPlaneHandlers"]

# A worker that cannot be reached now may be reachable on the next attempt.
_RETRYABLE = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
)


class ControlPlaneHandlers:
    """Implements ``aworld_server.runtime.RemoteHandlers`` over EngineService.CallHandler."""

    def __init__(self, control_plane: ControlPlane, jobs: Mapping[str, str]) -> None:
        self.control_plane = control_plane
        self._jobs = jobs  # task id -> the job this worker runs it as (shared with the store)
        self._specs: dict[tuple[str, HandlerKind], HandlerSpec] = {}

    def spec(self, name: str, kind: HandlerKind, namespace: str = "") -> HandlerSpec | None:
        """``namespace`` is implied: the control plane lists the handlers of the job's."""
        return self._specs.get((name, kind))

    async def refresh(self) -> None:
        """Reload the specs of handlers served by connected workers."""
        response = await self.control_plane.runtime.ListHandlers(
            runtime_pb.ListHandlersRequest(), metadata=self.control_plane.metadata
        )
        self._specs = {
            (info.spec.name, info.spec.kind): info.spec
            for info in ListHandlersResponse.from_proto(response).handlers
            if info.spec is not None and info.worker_count > 0
        }

    async def ensure(self, names: Iterable[tuple[str, HandlerKind]]) -> None:
        """Refresh when one of ``names`` is unknown here (the caller filters local ones)."""
        if any(key not in self._specs for key in names):
            await self.refresh()

    async def invoke(self, call: HandlerCall) -> Any:
        """One attempt through the control plane, which picks the worker (in the namespace the
        job's credential implies) and decides idempotency from the spec it learns there."""
        if call.timeout is not None or call.idempotency_key:
            # Only direct calls (InvokeHandler) set them, and those never run on an engine.
            raise ValueError("an engine worker calls handlers only as steps of its tasks")
        if call.on_start is not None:  # the worker is chosen at the control plane, unseen here
            await call.on_start("")
        task = call.task
        job_id = self._jobs.get(task.id, "") if task else ""
        request = CallHandlerRequest(
            call_id=call.call_id,
            attempt=call.attempt,
            name=call.name,
            kind=call.kind,
            input=Payload.of(call.arguments),
            task_id=task.id if task else "",
            session_id=task.session_id if task else "",
            headers=call_headers(task.headers if task else None, call.headers),
            hook_point=call.hook_point,
            require_idempotent=call.require_idempotent,
            job_id=job_id,
            schedule_to_start_timeout=task.conf.schedule_to_start_timeout
            if task and task.conf
            else None,
        ).to_proto()
        try:
            response = await self.control_plane.engine.CallHandler(
                request,
                metadata=self.control_plane.for_job(job_id),
            )
        except grpc.aio.AioRpcError as error:
            raise HandlerFailed(
                Failure(
                    type=f"CallHandler{error.code().name.title().replace('_', '')}",
                    message=f"{call.name}: {error.details()}",
                    non_retryable=error.code() not in _RETRYABLE,
                    source="control_plane",
                )
            ) from error
        outcome = CallHandlerResponse.from_proto(response).outcome
        if isinstance(outcome, Failure):
            raise HandlerFailed(outcome)
        if isinstance(outcome, str):
            # Completions go to the control plane's callback registry, which cannot wake a
            # runner in another process: pending handlers need a task on the local engine.
            raise HandlerFailed(
                Failure(
                    type="CallbackUnsupportedOnEngine",
                    message=f"{call.name} answered pending (callback {outcome}); tasks waiting for "
                    "callbacks must run on the local engine",
                    non_retryable=True,
                    source="engine",
                )
            )
        return outcome.value() if outcome is not None else None

    async def cancel_task(self, task_id: str, reason: str) -> None:
        """Nothing to send: cancelling the runner cancels its CallHandler calls, and the control
        plane cancels the worker's attempt when its call is cancelled."""
