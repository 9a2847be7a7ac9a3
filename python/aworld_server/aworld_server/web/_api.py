"""The JSON-over-HTTP API: RuntimeService's read side (and submit, cancel) for curl and the
console. Bodies are the protobuf JSON mapping of RuntimeService's own messages, so a client
reads the same fields as over gRPC. Every route reads through the runtime, never the store,
where the runtime has a method for it.

==========================================  ====================  ======
Route                                       RuntimeService        Scope
==========================================  ====================  ======
``GET  /api/v1/tasks?status=&q=``           ListTasks             read
``POST /api/v1/tasks``                      SubmitTask            submit
``GET  /api/v1/tasks/{id}``                 GetTask               read
``POST /api/v1/tasks/{id}/cancel``          CancelTask            cancel
``GET  /api/v1/tasks/{id}/state``           GetTaskState          read
``GET  /api/v1/tasks/{id}/trajectory``      GetTrajectory         read
``GET  /api/v1/tasks/{id}/events``          StreamEvents (SSE)    read
``GET  /api/v1/workers``                    ListWorkers           read
``GET  /api/v1/handlers``                   ListHandlers          read
==========================================  ====================  ======

Errors are ``{"code": "NOT_FOUND", "message": ...}`` with the HTTP status of that gRPC code.
Requests work in one namespace (``aworld-namespace`` header, default ``default``) and see only
its tasks; SubmitTask here is the gRPC servicer's, for the authenticated caller.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aworld_client import HandlerInfo, TaskStatus, WorkerInfo
from aworld_client.api import runtime_service_pb2 as pb
from aworld_client.runtime_service import (
    CancelTaskResponse,
    GetTaskResponse,
    GetTaskStateResponse,
    GetTrajectoryResponse,
    ListHandlersResponse,
    ListTasksResponse,
    ListWorkersResponse,
)
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2

from aworld_server.api.principals import Caller, bind_caller
from aworld_server.api.status import status_of
from aworld_server.errors import (
    AWorldError,
    InvalidArgument,
    NotFound,
)
from aworld_server.namespaces import DEFAULT_NAMESPACE
from aworld_server.runtime import Runtime
from aworld_server.runtime.reader import summary_of
from aworld_server.storage import TaskQuery
from aworld_server.web._access import CALLER, HttpAccess, HttpCaller
from aworld_server.web._sources import Sources

__all__ = ["add_api_routes"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The HTTP status of each gRPC code the API answers with (api.status decides the code).
_HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
_MAX_SEARCHED = 1000  # tasks a search (?q=) looks through, newest first


def to_json(message: Message) -> dict[str, Any]:
    """The protobuf JSON mapping (camelCase names, enums by name), as grpcurl prints it."""
    return json_format.MessageToDict(message)


def _reply(message: Message) -> web.Response:
    return web.json_response(to_json(message))


def _errors(handler: Handler) -> Handler:
    """Runtime errors become their gRPC code's HTTP status, in one place."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except AWorldError as error:
            status = status_of(error)
            code = code_pb2.Code.Name(status.code)
            return web.json_response(
                {"code": code, "message": status.message}, status=_HTTP_STATUS.get(code, 500)
            )

    return wrapped


def _statuses(request: web.Request) -> list[TaskStatus]:
    try:
        return [TaskStatus[name.upper()] for name in request.query.getall("status", [])]
    except KeyError as error:
        raise InvalidArgument(f"unknown status {error.args[0]}") from None


async def list_tasks(
    runtime: Runtime,
    caller: HttpCaller,
    statuses: list[TaskStatus],
    search: str,
    page_size: int,
    page_token: str,
) -> ListTasksResponse:
    """ListTasks in the caller's namespace, newest first; ``search`` keeps tasks whose id or
    name contains it."""
    query = TaskQuery(
        statuses=statuses,
        page_token=page_token,
        namespace=caller.namespace,
        page_size=_MAX_SEARCHED if search else page_size,
    )
    page = await runtime.reader.list_tasks(query)
    needle = search.lower()
    records = [
        r
        for r in page.items
        if (needle in r.task_id.lower() or needle in r.name.lower())
        and caller.principal.may_touch_task(r.task_id)
    ]
    return ListTasksResponse(
        tasks=[summary_of(r) for r in records[:page_size]],
        next_page_token="" if search else page.next_page_token,
    )


async def visible(runtime: Runtime, caller: HttpCaller, task_id: str) -> None:
    """NotFound unless the task is in the caller's namespace (as ``api.authz.visible_task``)."""
    record = await runtime.reader.record(task_id)
    if (
        record is None
        or record.namespace != caller.namespace
        or not caller.principal.may_touch_task(task_id)
    ):
        raise NotFound(f"task {task_id}")


async def worker_infos(sources: Sources, handler: str = "") -> list[WorkerInfo]:
    """Connected workers (with replicas: of all of them), as ListWorkers answers."""
    if sources.cluster is not None:
        return await sources.cluster.workers(handler, DEFAULT_NAMESPACE)
    return sources.dispatcher.workers(handler)


async def handler_infos(sources: Sources) -> list[HandlerInfo]:
    """In-process and remote handlers with their worker counts, as ListHandlers answers."""
    served_remotely = (
        await sources.cluster.handlers(DEFAULT_NAMESPACE)
        if sources.cluster is not None
        else sources.dispatcher.handlers()
    )
    remote = {(h.spec.name, h.spec.kind): h for h in served_remotely if h.spec}
    infos: list[HandlerInfo] = []
    for spec in sources.runtime.registry.specs():
        served = remote.pop((spec.name, spec.kind), None)
        count = served.worker_count if served else 0
        replicas = served.replica_ids if served else []
        infos.append(HandlerInfo(spec=spec, local=True, worker_count=count, replica_ids=replicas))
    return [*infos, *remote.values()]


def add_api_routes(app: web.Application, sources: Sources, access: HttpAccess) -> None:
    runtime = sources.runtime

    def route(scope: str, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            request[CALLER] = access.require(request, scope)
            if "task_id" in request.match_info:
                await visible(runtime, request[CALLER], request.match_info["task_id"])
            return await handler(request)

        return _errors(guarded)

    async def tasks(request: web.Request) -> web.StreamResponse:
        size = request.query.get("page_size", "50")
        if not size.isdigit():
            raise InvalidArgument("page_size must be a non-negative integer")
        page_size = min(max(int(size), 1), _MAX_SEARCHED)
        response = await list_tasks(
            runtime,
            request[CALLER],
            _statuses(request),
            request.query.get("q", ""),
            page_size,
            request.query.get("page_token", ""),
        )
        return _reply(response.to_proto())

    async def submit(request: web.Request) -> web.StreamResponse:
        try:
            message = json_format.Parse(await request.text(), pb.SubmitTaskRequest())
        except (json_format.ParseError, ValueError) as error:
            raise InvalidArgument(f"body is not a SubmitTaskRequest: {error}") from None
        if not message.HasField("task"):
            raise InvalidArgument("task is required")
        # As over gRPC: a caller's W3C trace context continues in the task.
        if "traceparent" not in message.task.headers:
            for key in ("traceparent", "tracestate"):
                if key in request.headers:
                    message.task.headers[key] = request.headers[key]
        caller = request[CALLER]
        # The same submit as over gRPC, for this caller: its namespace, principal and scopes.
        bind_caller(Caller(caller.principal, caller.namespace, authenticated=access.enabled))
        response = await sources.submit(message.request_id, message.task)
        return _reply(response.to_proto())

    async def get_task(request: web.Request) -> web.StreamResponse:
        view = await runtime.get_task(request.match_info["task_id"])
        return _reply(
            GetTaskResponse(
                task=view.task,
                response=view.response,
                created_at=view.created_at,
                updated_at=view.updated_at,
            ).to_proto()
        )

    async def cancel(request: web.Request) -> web.StreamResponse:
        reason = request.query.get("reason", "cancelled over HTTP")
        status = await runtime.cancel(request.match_info["task_id"], reason)
        return _reply(CancelTaskResponse(status=status).to_proto())

    async def state(request: web.Request) -> web.StreamResponse:
        status, nodes, groups = await runtime.task_state(request.match_info["task_id"])
        return _reply(GetTaskStateResponse(status=status, nodes=nodes, groups=groups).to_proto())

    async def trajectory(request: web.Request) -> web.StreamResponse:
        items = await runtime.trajectory(request.match_info["task_id"])
        return _reply(GetTrajectoryResponse(items=items).to_proto())

    async def events(request: web.Request) -> web.StreamResponse:
        """Server-sent events: one ``data:`` line per Event (JSON), ``id:`` its seq, so a
        browser's EventSource resumes after the last one it saw (Last-Event-ID)."""
        task_id = request.match_info["task_id"]
        after = request.headers.get("Last-Event-ID") or request.query.get("after_seq", "0")
        if not after.isdigit():
            raise InvalidArgument("after_seq must be a non-negative integer")
        follow = request.query.get("replay_only", "") not in ("1", "true")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        try:
            async for event in runtime.stream(task_id, int(after), follow=follow):
                data = json.dumps(to_json(event.to_proto()), separators=(",", ":"))
                await response.write(f"id: {event.seq}\ndata: {data}\n\n".encode())
            # Tells the console the log is complete (EventSource would otherwise reconnect).
            await response.write(b"event: end\ndata: {}\n\n")
        except ConnectionResetError:
            pass  # the browser went away: nothing to tell anyone
        return response

    async def workers(request: web.Request) -> web.StreamResponse:
        handler = request.query.get("handler", "")
        return _reply(ListWorkersResponse(workers=await worker_infos(sources, handler)).to_proto())

    async def handlers(request: web.Request) -> web.StreamResponse:
        return _reply(ListHandlersResponse(handlers=await handler_infos(sources)).to_proto())

    app.router.add_get("/api/v1/tasks", route("read", tasks))
    app.router.add_post("/api/v1/tasks", route("submit", submit))
    app.router.add_get("/api/v1/tasks/{task_id}", route("read", get_task))
    app.router.add_post("/api/v1/tasks/{task_id}/cancel", route("cancel", cancel))
    app.router.add_get("/api/v1/tasks/{task_id}/state", route("read", state))
    app.router.add_get("/api/v1/tasks/{task_id}/trajectory", route("read", trajectory))
    app.router.add_get("/api/v1/tasks/{task_id}/events", route("read", events))
    app.router.add_get("/api/v1/workers", route("read", workers))
    app.router.add_get("/api/v1/handlers", route("read", handlers))
