"""The RuntimeService servicer: the gRPC face of :class:`aworld_server.runtime.Runtime`.

Requests are converted to domain types on entry and responses back on exit; the runtime never
sees a pb2 object. Errors become status codes in ``api.status``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aworld_client import HandlerInfo, HandlerKind, Payload, TaskStatus
from aworld_client._proto.aworld.runtime.v1 import runtime_service_pb2 as pb
from aworld_client._proto.aworld.runtime.v1 import runtime_service_pb2_grpc as pb_grpc
from aworld_client.runtime_service import (
    CancelTaskRequest,
    CancelTaskResponse,
    CompleteCallbackRequest,
    CompleteCallbackResponse,
    GetTaskResponse,
    GetTaskStateResponse,
    GetTrajectoryResponse,
    InvokeHandlerRequest,
    InvokeHandlerResponse,
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
    TaskSummary,
)

from aworld_server.api.status import grpc_errors, grpc_stream_errors
from aworld_server.dispatch import WorkerDispatcher
from aworld_server.errors import FieldViolation, InvalidArgument, NotFound, ResourceExhausted
from aworld_server.retry import HandlerFailed
from aworld_server.runtime import Runtime
from aworld_server.storage import TaskQuery

__all__ = ["RuntimeServiceServicer", "add_runtime_service"]

_MAX_PAGE = 1000
_REMEMBERED_REQUESTS = 10_000


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


class RuntimeServiceServicer(pb_grpc.RuntimeServiceServicer):  # type: ignore[misc]
    """Serves RuntimeService over a runtime and (for remote handlers) a dispatcher."""

    def __init__(self, runtime: Runtime, dispatcher: WorkerDispatcher,
                 *, max_live_tasks: int = 10_000) -> None:  # fmt: skip
        self.runtime = runtime
        self.dispatcher = dispatcher
        self.max_live_tasks = max_live_tasks
        # Answers of idempotent mutations (callbacks, inputs) by request id, so a client that
        # retries after losing the answer gets the same answer instead of NOT_FOUND.
        self._answers: OrderedDict[str, Any] = OrderedDict()

    def _remember(self, request_id: str, answer: Any) -> None:
        if request_id:
            self._answers[request_id] = answer
            while len(self._answers) > _REMEMBERED_REQUESTS:
                self._answers.popitem(last=False)

    async def _submit(self, request_id: str, task_pb: Any, has_task: bool) -> SubmitTaskResponse:
        if not has_task:
            raise InvalidArgument("task is required", [FieldViolation("task", "is required")])
        if self.runtime.live_tasks >= self.max_live_tasks:
            raise ResourceExhausted(
                f"the server is running {self.max_live_tasks} tasks, its limit; retry later"
            )
        request = SubmitTaskRequest.from_proto(
            pb.SubmitTaskRequest(request_id=request_id, task=task_pb)
        )
        assert request.task is not None
        result = await self.runtime.submit(request.task, request.request_id)
        return SubmitTaskResponse(
            task_id=result.task_id, created=result.created, session_id=result.session_id
        )

    @grpc_errors
    async def SubmitTask(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        response = await self._submit(request.request_id, request.task, request.HasField("task"))
        return response.to_proto()

    @grpc_stream_errors
    async def RunTask(self, request: Any, context: grpc.aio.ServicerContext
                      ) -> AsyncIterator[Any]:  # fmt: skip
        submitted = await self._submit(request.request_id, request.task,
                                       request.HasField("task"))  # fmt: skip
        async for event in self.runtime.stream(submitted.task_id):
            yield pb.RunTaskResponse(event=event.to_proto())

    @grpc_errors
    async def GetTask(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        view = await self.runtime.get_task(_required(request.task_id, "task_id"))
        return GetTaskResponse(task=view.task, response=view.response,
                               created_at=view.created_at,
                               updated_at=view.updated_at).to_proto()  # fmt: skip

    @grpc_errors
    async def ListTasks(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        query = ListTasksRequest.from_proto(request)
        page = await self.runtime.store.list_tasks(TaskQuery(
            session_id=query.session_id, user_id=query.user_id, statuses=query.statuses,
            page_size=_page_size(query.page_size), page_token=query.page_token,
        ))  # fmt: skip
        return ListTasksResponse(
            tasks=[TaskSummary(id=r.task_id, name=r.name, session_id=r.session_id,
                               user_id=r.user_id, status=r.status, created_at=r.created_at,
                               updated_at=r.updated_at) for r in page.items],
            next_page_token=page.next_page_token,
        ).to_proto()  # fmt: skip

    @grpc_errors
    async def CancelTask(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        cancel = CancelTaskRequest.from_proto(request)
        status = await self.runtime.cancel(_required(cancel.task_id, "task_id"), cancel.reason)
        return CancelTaskResponse(status=status).to_proto()

    @grpc_stream_errors
    async def StreamEvents(self, request: Any, context: grpc.aio.ServicerContext
                           ) -> AsyncIterator[Any]:  # fmt: skip
        query = StreamEventsRequest.from_proto(request)
        task_id = _required(query.task_id, "task_id")
        if query.after_seq < 0:
            raise InvalidArgument(
                "after_seq must not be negative",
                [FieldViolation("after_seq", "must not be negative")],
            )
        if await self.runtime.store.get_task(task_id) is None:
            raise NotFound(f"task {task_id}")
        async for event in self.runtime.stream(task_id, query.after_seq,
                                               follow=not query.replay_only):  # fmt: skip
            yield pb.StreamEventsResponse(event=event.to_proto())

    @grpc_errors
    async def GetTaskState(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        status, nodes, groups = await self.runtime.task_state(_required(request.task_id, "task_id"))
        return GetTaskStateResponse(status=status, nodes=nodes, groups=groups).to_proto()

    @grpc_errors
    async def GetTrajectory(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        items = await self.runtime.trajectory(_required(request.task_id, "task_id"))
        return GetTrajectoryResponse(items=items).to_proto()

    async def _complete(self, request_id: str, task_id: str, callback_id: str,
                        result: Payload | None, failure: Any) -> TaskStatus:  # fmt: skip
        if request_id in self._answers:
            answer: TaskStatus = self._answers[request_id]
            return answer
        status = await self.runtime.complete_callback(
            _required(task_id, "task_id"), _required(callback_id, "callback_id"), result, failure
        )
        self._remember(request_id, status)
        return status

    @grpc_errors
    async def ProvideInput(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        provided = ProvideInputRequest.from_proto(request)
        if provided.value is None:
            raise InvalidArgument("value is required", [FieldViolation("value", "is required")])
        status = await self._complete(provided.request_id, provided.task_id,
                                      provided.callback_id, provided.value, None)  # fmt: skip
        return ProvideInputResponse(status=status).to_proto()

    @grpc_errors
    async def CompleteCallback(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        done = CompleteCallbackRequest.from_proto(request)
        status = await self._complete(done.request_id, done.task_id, done.callback_id,
                                      done.result, done.failure)  # fmt: skip
        return CompleteCallbackResponse(status=status).to_proto()

    @grpc_errors
    async def InvokeHandler(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = InvokeHandlerRequest.from_proto(request)
        name = _required(call.name, "name")
        if call.request_id in self._answers:
            return self._answers[call.request_id]
        kind = call.kind or HandlerKind.TOOL
        arguments = call.input.value() if call.input is not None else {}
        local = (self.runtime.registry.tools if kind == HandlerKind.TOOL
                 else self.runtime.registry.hooks).get(name)  # fmt: skip
        try:
            if local is not None:
                work = local.invoke(arguments)
                output = await (asyncio.wait_for(work, call.timeout.total_seconds())
                                if call.timeout else work)  # fmt: skip
                result = Payload.of(output)
                attempts = 1
            else:
                if not self.dispatcher.has_handler(name, kind):
                    raise NotFound(f"no {kind.name.lower()} handler named {name!r}")
                remote = await self.dispatcher.call(
                    name, kind, Payload.of(arguments), headers=call.headers,
                    timeout=call.timeout,
                )  # fmt: skip
                result = remote if isinstance(remote, Payload) else Payload.of(
                    {"pending_callback_id": remote.callback_id})  # fmt: skip
                attempts = 0
            response = InvokeHandlerResponse(output=result, attempts=attempts).to_proto()
        except HandlerFailed as error:
            response = InvokeHandlerResponse(failure=error.failure, attempts=1).to_proto()
        self._remember(call.request_id, response)
        return response

    @grpc_errors
    async def ListHandlers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        kind = HandlerKind(request.kind)
        remote = {(h.spec.name, h.spec.kind): h for h in self.dispatcher.handlers() if h.spec}
        infos: list[HandlerInfo] = []
        for spec in self.runtime.registry.specs():
            served = remote.pop((spec.name, spec.kind), None)
            infos.append(
                HandlerInfo(
                    spec=spec, local=True, worker_count=served.worker_count if served else 0
                )
            )
        infos.extend(remote.values())
        infos = [h for h in infos if h.spec and (not kind or h.spec.kind == kind)]
        infos.sort(key=lambda h: (int(h.spec.kind), h.spec.name) if h.spec else (0, ""))
        return ListHandlersResponse(handlers=infos).to_proto()

    @grpc_errors
    async def ListWorkers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        workers = self.dispatcher.workers(request.handler_name)
        return ListWorkersResponse(workers=workers).to_proto()

    @grpc_errors
    async def GetSession(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        session_id = _required(request.session_id, "session_id")
        session = await self.runtime.store.get_session(session_id)
        if session is None:
            raise NotFound(f"session {session_id}")
        return pb.GetSessionResponse(session=session.to_proto())

    @grpc_errors
    async def ListSessions(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        page = await self.runtime.store.list_sessions(
            request.user_id, _page_size(request.page_size), request.page_token
        )
        return ListSessionsResponse(
            sessions=page.items, next_page_token=page.next_page_token
        ).to_proto()


def add_runtime_service(server: grpc.aio.Server, runtime: Runtime, dispatcher: WorkerDispatcher,
                        *, max_live_tasks: int = 10_000) -> RuntimeServiceServicer:  # fmt: skip
    servicer = RuntimeServiceServicer(runtime, dispatcher, max_live_tasks=max_live_tasks)
    pb_grpc.add_RuntimeServiceServicer_to_server(servicer, server)
    return servicer
