"""The RuntimeService servicer: the gRPC face of :class:`aworld_server.runtime.Runtime`.

Requests are converted to domain types on entry and responses back on exit; the runtime never
sees a pb2 object. Errors become status codes in ``api.status``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar

import grpc
from aworld_client import HandlerInfo, HandlerKind, Payload, TaskStatus, WorkerInfo
from aworld_client.api import runtime_service_pb2 as pb
from aworld_client.api import runtime_service_pb2_grpc as pb_grpc
from aworld_client.runtime_service import (
    CancelTaskRequest,
    CancelTaskResponse,
    CompleteCallbackRequest,
    CompleteCallbackResponse,
    GetTaskResponse,
    GetTaskStateResponse,
    GetTrajectoryResponse,
    InvokeHandlerRequest,
    ListHandlersResponse,
    ListSessionsResponse,
    ListTasksRequest,
    ListTasksResponse,
    ListWorkersResponse,
    ProvideInputRequest,
    ProvideInputResponse,
    StreamEventsRequest,
    SubmitTaskRequest,
    SubmitTaskResponse,
)
from opentelemetry import trace

from aworld_server.api.authz import session_in_namespace, visible_session, visible_task
from aworld_server.api.idempotency import (
    IdempotentCalls,
    conflict,
    same_submission,
    scoped_request_id,
)
from aworld_server.api.limits import check_task
from aworld_server.api.paging import page_of
from aworld_server.api.principals import current_caller
from aworld_server.api.status import grpc_errors, grpc_stream_errors, wire
from aworld_server.config import Limits
from aworld_server.dispatch import WorkerDispatcher
from aworld_server.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from aworld_server.namespaces import (
    DEFAULT_NAMESPACE,
    NAMESPACE_HEADER,
    PRINCIPAL_HEADER,
    RESERVED_PREFIX,
)
from aworld_server.observability import inject_headers
from aworld_server.runtime import Runtime
from aworld_server.runtime.reader import summary_of
from aworld_server.storage import TaskQuery

__all__ = ["RuntimeServiceServicer", "add_runtime_service"]

_MAX_PAGE = 1000
T = TypeVar("T")


def _trace_context_from_metadata(
    headers: dict[str, str], context: grpc.aio.ServicerContext
) -> None:
    """A W3C trace context sent as gRPC metadata continues in the task, unless the task's own
    headers already carry one. With the gRPC instrumentation on, the task continues the
    SubmitTask span (itself a child of that metadata), so the submit shows in the trace."""
    if "traceparent" in headers:
        return
    if trace.get_current_span().get_span_context().is_valid:
        inject_headers(headers)
        return
    for key, value in context.invocation_metadata() or ():
        if key in ("traceparent", "tracestate") and isinstance(value, str):
            headers[key] = value


def _required(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required", [FieldViolation(field, "is required")])
    return value


def _page_size(size: int) -> int:
    if size < 0:
        raise InvalidArgument(
            "page_size must not be negative", [FieldViolation("page_size", "must not be negative")]
        )
    return min(size or 50, _MAX_PAGE)


class ClusterWorkers(Protocol):
    """The workers of every replica sharing this server's Redis (``replicas.Directory``)."""

    async def workers(self, handler_name: str, namespace: str) -> list[WorkerInfo]: ...

    async def handlers(self, namespace: str) -> list[HandlerInfo]: ...


class RuntimeServiceServicer(pb_grpc.RuntimeServiceServicer):  # type: ignore[misc]
    """Serves RuntimeService over a runtime and (for remote handlers) a dispatcher."""

    def __init__(
        self,
        runtime: Runtime,
        dispatcher: WorkerDispatcher,
        *,
        max_live_tasks: int = 10_000,
        limits: Limits | None = None,
        max_message_bytes: int = 4 * 1024 * 1024,
        cluster: ClusterWorkers | None = None,
    ) -> None:
        self.runtime = runtime
        # With replicas: ListWorkers and ListHandlers show the workers of all of them.
        self.cluster = cluster
        self.max_message_bytes = max_message_bytes
        self.dispatcher = dispatcher
        self.max_live_tasks = max_live_tasks
        self.limits = limits or Limits()
        # False while the server drains for shutdown: new tasks go to another replica.
        self.accepting = True
        # Submits between their capacity check and their task's launch (they count as live).
        self._admitting = 0
        # Answers of idempotent mutations (callbacks, inputs, invocations), so a client that
        # retries after losing the answer gets the same answer instead of NOT_FOUND.
        self._calls = IdempotentCalls()

    async def _submit(
        self,
        request_id: str,
        task_pb: Any,
        has_task: bool,
        context: grpc.aio.ServicerContext | None = None,
    ) -> SubmitTaskResponse:
        if not has_task:
            raise InvalidArgument("task is required", [FieldViolation("task", "is required")])
        client_request_id, request_id = request_id, scoped_request_id("SubmitTask", request_id)
        full = self.runtime.live_tasks + self._admitting >= self.max_live_tasks
        # A retried submit of an accepted task is answered even when new tasks are refused.
        if (full or not self.accepting) and not (
            request_id and await self.runtime.reader.find_by_request(request_id)
        ):
            if not self.accepting:
                raise Unavailable("the server is shutting down; submit to another replica")
            raise ResourceExhausted(
                f"the server is running {self.max_live_tasks} tasks, its limit; retry later"
            )
        request = SubmitTaskRequest.from_proto(
            pb.SubmitTaskRequest(request_id=request_id, task=task_pb)
        )
        assert request.task is not None
        check_task(request.task, self.limits)
        await self._claim(request.task)
        if context is not None:
            _trace_context_from_metadata(request.task.headers, context)
        self._admitting += 1
        try:
            result = await self.runtime.submit(request.task, request.request_id)
        finally:
            self._admitting -= 1
        if not result.created:
            stored = await self.runtime.reader.submitted(result.task_id)
            if stored is not None and not same_submission(task_pb, stored.to_proto()):
                raise conflict("SubmitTask", client_request_id)
        return SubmitTaskResponse(
            task_id=result.task_id, created=result.created, session_id=result.session_id
        )

    async def submit(self, request_id: str, task: Any) -> SubmitTaskResponse:
        """SubmitTask for the current caller, outside gRPC (the HTTP API's submit)."""
        return await self._submit(request_id, task, True)

    async def _claim(self, task: Any) -> None:
        """Record who submits ``task`` in its headers; the identity, not the body, decides."""
        caller = current_caller()
        for key in [k for k in task.headers if k.startswith(RESERVED_PREFIX)]:
            del task.headers[key]
        if caller.namespace != DEFAULT_NAMESPACE:  # absent means default (tasks from before)
            task.headers[NAMESPACE_HEADER] = caller.namespace
        if caller.authenticated:
            task.headers[PRINCIPAL_HEADER] = caller.principal.name
            if task.user_id and task.user_id != caller.principal.name:
                raise InvalidArgument(
                    "user_id must be empty or the caller's principal",
                    [FieldViolation("task.user_id", "is set by the server from the credential")],
                )
            task.user_id = caller.principal.name
        if task.session_id:
            session = await self.runtime.reader.session(task.session_id)
            if session is not None and not await session_in_namespace(self.runtime.reader, session):
                raise NotFound(f"session {task.session_id}")

    @grpc_errors
    async def SubmitTask(
        self, request: pb.SubmitTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitTaskResponse:
        response = await self._submit(
            request.request_id, request.task, request.HasField("task"), context
        )
        return wire(response, pb.SubmitTaskResponse)

    @grpc_stream_errors
    async def RunTask(
        self, request: pb.RunTaskRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.RunTaskResponse]:
        submitted = await self._submit(
            request.request_id, request.task, request.HasField("task"), context
        )
        async for event in self.runtime.stream(submitted.task_id):
            yield pb.RunTaskResponse(event=event.to_proto())

    @grpc_errors
    async def GetTask(
        self, request: pb.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTaskResponse:
        task_id = await self._visible(request.task_id)
        view = await self.runtime.get_task(task_id)
        return wire(
            GetTaskResponse(
                task=view.task,
                response=view.response,
                created_at=view.created_at,
                updated_at=view.updated_at,
            ),
            pb.GetTaskResponse,
        )

    @grpc_errors
    async def ListTasks(
        self, request: pb.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTasksResponse:
        query = ListTasksRequest.from_proto(request)
        page = await self.runtime.reader.list_tasks(
            TaskQuery(
                session_id=query.session_id,
                user_id=query.user_id,
                statuses=query.statuses,
                namespace=current_caller().namespace,
                page_size=_page_size(query.page_size),
                page_token=query.page_token,
            )
        )
        caller = current_caller()
        # An engine credential lists only the task of the job it names (a page may come back
        # short), as every other RPC it may make.
        records = [
            r for r in page.items if caller.principal.may_touch_task(r.task_id, caller.job_id)
        ]
        return wire(
            ListTasksResponse(
                tasks=[summary_of(r) for r in records],
                next_page_token=page.next_page_token,
            ),
            pb.ListTasksResponse,
        )

    @grpc_errors
    async def CancelTask(
        self, request: pb.CancelTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelTaskResponse:
        cancel = CancelTaskRequest.from_proto(request)
        status = await self.runtime.cancel(await self._visible(cancel.task_id), cancel.reason)
        return wire(CancelTaskResponse(status=status), pb.CancelTaskResponse)

    @grpc_stream_errors
    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        query = StreamEventsRequest.from_proto(request)
        _required(query.task_id, "task_id")
        if query.after_seq < 0:
            raise InvalidArgument(
                "after_seq must not be negative",
                [FieldViolation("after_seq", "must not be negative")],
            )
        task_id = await self._visible(query.task_id)
        async for event in self.runtime.stream(
            task_id, query.after_seq, follow=not query.replay_only
        ):
            yield pb.StreamEventsResponse(event=event.to_proto())

    @grpc_errors
    async def GetTaskState(
        self, request: pb.GetTaskStateRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTaskStateResponse:
        status, nodes, groups = await self.runtime.task_state(await self._visible(request.task_id))
        page, next_token = self._page(nodes, request)
        if request.page_token:
            groups = []  # the first page carries them
        return wire(
            GetTaskStateResponse(
                status=status, nodes=page, groups=groups, next_page_token=next_token
            ),
            pb.GetTaskStateResponse,
        )

    @grpc_errors
    async def GetTrajectory(
        self, request: pb.GetTrajectoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTrajectoryResponse:
        items = await self.runtime.trajectory(await self._visible(request.task_id))
        page, next_token = self._page(items, request)
        return wire(
            GetTrajectoryResponse(items=page, next_page_token=next_token), pb.GetTrajectoryResponse
        )

    def _page(self, items: list[T], request: Any) -> tuple[list[T], str]:
        # Half the message limit leaves room for the rest of the response and for overhead.
        return page_of(
            items,
            request.page_size,
            request.page_token,
            max_items=self.limits.max_page_items,
            max_bytes=self.max_message_bytes // 2,
        )

    async def _visible(self, task_id: str) -> str:
        """The task id if the caller may see that task; NOT_FOUND otherwise."""
        await visible_task(self.runtime.reader, _required(task_id, "task_id"))
        return task_id

    async def _complete(
        self,
        rpc: str,
        body: Any,
        request_id: str,
        task_id: str,
        callback_id: str,
        result: Payload | None,
        failure: Any,
    ) -> TaskStatus:
        task_id = await self._visible(task_id)
        callback_id = _required(callback_id, "callback_id")
        return await self._calls.once(
            rpc,
            request_id,
            body,
            lambda: self.runtime.complete_callback(task_id, callback_id, result, failure),
        )

    @grpc_errors
    async def ProvideInput(
        self, request: pb.ProvideInputRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProvideInputResponse:
        provided = ProvideInputRequest.from_proto(request)
        if provided.value is None:
            raise InvalidArgument("value is required", [FieldViolation("value", "is required")])
        status = await self._complete(
            "ProvideInput",
            request,
            provided.request_id,
            provided.task_id,
            provided.callback_id,
            provided.value,
            None,
        )
        return wire(ProvideInputResponse(status=status), pb.ProvideInputResponse)

    @grpc_errors
    async def CompleteCallback(
        self, request: pb.CompleteCallbackRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteCallbackResponse:
        done = CompleteCallbackRequest.from_proto(request)
        if (done.result is None) == (done.failure is None):
            raise InvalidArgument(
                "set exactly one of result and failure",
                [FieldViolation("result", "set exactly one of result and failure")],
            )
        status = await self._complete(
            "CompleteCallback",
            request,
            done.request_id,
            done.task_id,
            done.callback_id,
            done.result,
            done.failure,
        )
        return wire(CompleteCallbackResponse(status=status), pb.CompleteCallbackResponse)

    @grpc_errors
    async def InvokeHandler(
        self, request: pb.InvokeHandlerRequest, context: grpc.aio.ServicerContext
    ) -> pb.InvokeHandlerResponse:
        call = _invoke_request(request)
        _required(call.name, "name")
        namespace = current_caller().namespace
        return await self._calls.once(
            "InvokeHandler", call.request_id, request, lambda: self._invoke(call, namespace)
        )

    async def _invoke(self, call: InvokeHandlerRequest, namespace: str) -> Any:
        """In-process handlers serve every namespace; workers serve their own."""
        outcome = await self.runtime.handlers.call(
            call.name,
            call.kind or HandlerKind.TOOL,
            call.input.value() if call.input is not None else {},
            namespace=namespace,
            headers=call.headers,
            timeout=call.timeout,
            request_id=call.request_id,
        )
        # Built field by field: the generic converter costs every call more than this path's
        # own Python work (the same holds for the request, see _invoke_request).
        response = pb.InvokeHandlerResponse(attempts=outcome.attempts)
        if outcome.output is not None:
            response.output.CopyFrom(outcome.output.to_proto())
        if outcome.failure is not None:
            response.failure.CopyFrom(outcome.failure.to_proto())
        return response

    @grpc_errors
    async def ListHandlers(
        self, request: pb.ListHandlersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListHandlersResponse:
        kind = HandlerKind(request.kind)
        namespace = current_caller().namespace
        remote_infos = (
            await self.cluster.handlers(namespace)
            if self.cluster is not None
            else self.dispatcher.handlers(namespace)
        )
        remote = {(h.spec.name, h.spec.kind): h for h in remote_infos if h.spec}
        infos: list[HandlerInfo] = []
        for spec in self.runtime.registry.specs():
            served = remote.pop((spec.name, spec.kind), None)
            infos.append(
                HandlerInfo(
                    spec=spec,
                    local=True,
                    worker_count=served.worker_count if served else 0,
                    replica_ids=served.replica_ids if served else [],
                )
            )
        infos.extend(remote.values())
        infos = [h for h in infos if h.spec and (not kind or h.spec.kind == kind)]
        infos.sort(key=lambda h: (int(h.spec.kind), h.spec.name) if h.spec else (0, ""))
        return wire(ListHandlersResponse(handlers=infos), pb.ListHandlersResponse)

    @grpc_errors
    async def ListWorkers(
        self, request: pb.ListWorkersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListWorkersResponse:
        namespace = current_caller().namespace
        workers = (
            await self.cluster.workers(request.handler_name, namespace)
            if self.cluster is not None
            else self.dispatcher.workers(request.handler_name, namespace)
        )
        return wire(ListWorkersResponse(workers=workers), pb.ListWorkersResponse)

    @grpc_errors
    async def GetSession(
        self, request: pb.GetSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSessionResponse:
        session_id = _required(request.session_id, "session_id")
        session = await visible_session(self.runtime.reader, session_id)
        return pb.GetSessionResponse(session=session.to_proto())

    @grpc_errors
    async def ListSessions(
        self, request: pb.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSessionsResponse:
        page = await self.runtime.reader.list_sessions(
            request.user_id, _page_size(request.page_size), request.page_token
        )
        # A page may come back short: sessions of other namespaces are left out of it.
        sessions = [s for s in page.items if await session_in_namespace(self.runtime.reader, s)]
        return wire(
            ListSessionsResponse(sessions=sessions, next_page_token=page.next_page_token),
            pb.ListSessionsResponse,
        )


def add_runtime_service(
    server: grpc.aio.Server,
    runtime: Runtime,
    dispatcher: WorkerDispatcher,
    *,
    max_live_tasks: int = 10_000,
    limits: Limits | None = None,
    max_message_bytes: int = 4 * 1024 * 1024,
    cluster: ClusterWorkers | None = None,
) -> RuntimeServiceServicer:
    servicer = RuntimeServiceServicer(
        runtime,
        dispatcher,
        max_live_tasks=max_live_tasks,
        limits=limits,
        max_message_bytes=max_message_bytes,
        cluster=cluster,
    )
    pb_grpc.add_RuntimeServiceServicer_to_server(servicer, server)
    return servicer


def _invoke_request(request: pb.InvokeHandlerRequest) -> InvokeHandlerRequest:
    """An InvokeHandler request read field by field (the generic converter costs several
    times more on this per-call path). Enum values were range-checked by the limits."""
    return InvokeHandlerRequest(
        request_id=request.request_id,
        name=request.name,
        kind=HandlerKind(request.kind),
        input=Payload.from_proto(request.input) if request.HasField("input") else None,
        timeout=request.timeout.ToTimedelta() if request.HasField("timeout") else None,
        headers=dict(request.headers),
    )
