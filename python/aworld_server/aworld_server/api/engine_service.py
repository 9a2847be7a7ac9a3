"""The EngineService servicer: engine workers append their task's events to the control
plane's log, save the session state their tasks leave behind, and reach remote handlers
through its dispatcher (state sync)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from aworld_client import HandlerKind, Task
from aworld_client.api import engine_service_pb2 as pb
from aworld_client.api import engine_service_pb2_grpc as pb_grpc
from aworld_client.engine_service import (
    CallHandlerRequest,
    CallHandlerResponse,
    OpenTaskResponse,
    SaveSessionStateRequest,
)
from aworld_client.handlers import Pending

from aworld_server.api.append_stream import serve_appends
from aworld_server.api.authz import visible_task
from aworld_server.api.principals import current_caller
from aworld_server.api.status import grpc_errors, grpc_stream_errors, wire
from aworld_server.api.wire_events import decode_events
from aworld_server.context import Context
from aworld_server.dispatch import WorkerDispatcher
from aworld_server.errors import (
    FailedPrecondition,
    FieldViolation,
    HandlerFailed,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from aworld_server.runtime import Runtime

__all__ = ["EngineServiceServicer", "add_engine_service"]


def _required(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required", [FieldViolation(field, "is required")])
    return value


class EngineServiceServicer(pb_grpc.EngineServiceServicer):  # type: ignore[misc]
    """Every call names a task the caller may see; an engine credential reaches only tasks
    handed to engine jobs (``api.principals``) and writes or calls only with the job id of
    the task's current job, so a job cannot read another task or forge its log."""

    def __init__(self, runtime: Runtime, dispatcher: WorkerDispatcher) -> None:
        self.runtime = runtime
        self.dispatcher = dispatcher

    def _check_job(self, task_id: str, job_id: str) -> None:
        """Fencing: only the job the task runs as now may write to its log or call handlers.
        A job handed out before a restart (its worker may outlive the server by seconds) or
        superseded by a retry elsewhere is refused.

        An engine credential (shared by a namespace's jobs) must name its job: the job id,
        handed only to that job, is what limits a credential to the tasks of its own jobs."""
        if not job_id and current_caller().principal.task_ids is not None:
            raise PermissionDenied("an engine credential writes and calls only as a job: name it")
        if job_id and self.runtime.current_job(task_id) != job_id:
            raise FailedPrecondition(
                f"job {job_id} of task {task_id} was superseded; its worker must stop"
            )

    @grpc_errors
    async def OpenTask(
        self, request: pb.OpenTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.OpenTaskResponse:
        task_id = _required(request.task_id, "task_id")
        reader = self.runtime.reader
        record = await visible_task(reader, task_id)
        task = await reader.submitted(task_id)
        if task is None:
            raise NotFound(f"task {task_id}")
        return wire(OpenTaskResponse(task=task, last_seq=record.last_seq), pb.OpenTaskResponse)

    async def _visible(self, task_id: str, job_id: str | None) -> None:
        """``visible_task`` without the store read for a task an engine runs here now (its
        namespace is known). ``job_id``: the job the caller names (None: its metadata's)."""
        namespace = self.runtime.engine_task_namespace(task_id)
        if namespace is None:
            await visible_task(self.runtime.reader, task_id, job_id)
            return
        caller = current_caller()
        job = caller.job_id if job_id is None else job_id
        if namespace != caller.namespace or not caller.principal.may_touch_task(task_id, job):
            raise NotFound(f"task {task_id}")

    async def _append(self, request: pb.AppendEventsRequest, job_id: str | None = None) -> int:
        """Check and persist one append; the task's last seq. The events keep their wire bytes
        for the store (``wire_events``)."""
        task_id = _required(request.task_id, "task_id")
        if not request.events:
            raise InvalidArgument("events is required", [FieldViolation("events", "is empty")])
        await self._visible(task_id, job_id)
        self._check_job(task_id, request.job_id)
        events = decode_events(request.events)
        return await self.runtime.events.ingest(task_id, events, sync=request.sync)

    @grpc_errors
    async def AppendEvents(
        self, request: pb.AppendEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.AppendEventsResponse:
        return pb.AppendEventsResponse(last_seq=await self._append(request))

    @grpc_stream_errors
    async def AppendEventStream(
        self,
        requests: AsyncIterator[pb.AppendEventStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.AppendEventStreamResponse]:
        # One stream carries many tasks' appends, so each names its job in the append itself
        # (there is no per-task metadata); the credential is the stream's.
        async for response in serve_appends(requests, lambda a: self._append(a, a.job_id)):
            yield response

    @grpc_errors
    async def SaveSessionState(
        self, request: pb.SaveSessionStateRequest, context: grpc.aio.ServicerContext
    ) -> pb.SaveSessionStateResponse:
        save = SaveSessionStateRequest.from_proto(request)
        record = await visible_task(self.runtime.reader, _required(save.task_id, "task_id"))
        self._check_job(save.task_id, save.job_id)
        state = save.state.value() if save.state is not None else None
        if not isinstance(state, dict):
            raise InvalidArgument(
                "state must be a JSON object", [FieldViolation("state", "is not a JSON object")]
            )
        # Through the runtime's sessions, which keep their cached copy in step.
        task = Task(id=record.task_id, session_id=record.session_id, user_id=record.user_id)
        await self.runtime.sessions.save(
            task, Context(record.task_id, record.session_id, session=state)
        )
        return pb.SaveSessionStateResponse()

    @grpc_errors
    async def CallHandler(
        self, request: pb.CallHandlerRequest, context: grpc.aio.ServicerContext
    ) -> pb.CallHandlerResponse:
        call = CallHandlerRequest.from_proto(request)
        kind = call.kind or HandlerKind.TOOL
        record = await visible_task(self.runtime.reader, _required(call.task_id, "task_id"))
        self._check_job(call.task_id, call.job_id)
        try:
            output = await self.dispatcher.call_attempt(
                _required(call.call_id, "call_id"),
                call.attempt or 1,
                _required(call.name, "name"),
                kind,
                call.input if call.input is not None else _empty(),
                task_id=call.task_id,
                session_id=call.session_id,
                headers=call.headers,
                hook_point=call.hook_point,
                idempotency_key=f"{call.task_id}/{call.call_id}" if call.task_id else "",
                require_idempotent=call.require_idempotent,
                schedule_to_start=call.schedule_to_start_timeout,
                namespace=record.namespace,  # the task's handlers: those of its namespace
            )
        except HandlerFailed as error:
            return wire(CallHandlerResponse(outcome=error.failure), pb.CallHandlerResponse)
        outcome = output.callback_id if isinstance(output, Pending) else output
        return wire(CallHandlerResponse(outcome=outcome), pb.CallHandlerResponse)


def _empty() -> Any:
    from aworld_client import Payload

    return Payload.of({})


def add_engine_service(
    server: grpc.aio.Server, runtime: Runtime, dispatcher: WorkerDispatcher
) -> EngineServiceServicer:
    servicer = EngineServiceServicer(runtime, dispatcher)
    pb_grpc.add_EngineServiceServicer_to_server(servicer, server)
    return servicer
