"""Clients for RuntimeService: :class:`AsyncClient` (asyncio) and :class:`Client` (blocking).

Every RPC has a method that takes and returns domain types. Event streams resume by
themselves: when the connection drops mid-stream, the client reconnects and continues after the
last seq it delivered, so the caller sees every event exactly once.

::

    async with AsyncClient("127.0.0.1:50051") as client:
        task_id = await client.submit(task)
        async for event in client.events(task_id):
            print(event.seq, type(event.body).__name__)
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import grpc

from aworld_client._proto.aworld.runtime.v1 import runtime_service_pb2 as pb
from aworld_client._proto.aworld.runtime.v1 import runtime_service_pb2_grpc as pb_grpc
from aworld_client.common import Failure, Payload
from aworld_client.event import Event
from aworld_client.handler import HandlerInfo, HandlerKind, WorkerInfo
from aworld_client.runtime_service import (
    GetTaskResponse,
    GetTaskStateResponse,
    InvokeHandlerResponse,
    ListSessionsResponse,
    ListTasksRequest,
    ListTasksResponse,
    SubmitTaskResponse,
)
from aworld_client.state import Session
from aworld_client.task import Task, TaskResponse, TaskStatus
from aworld_client.trajectory import TrajectoryItem

__all__ = ["AsyncClient", "Client", "RuntimeServiceError"]

T = TypeVar("T")

# Transient failures after which a stream is resumed from the last delivered seq.
_RESUMABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


def _enum(value: int) -> Any:
    # Generated stubs type enum fields with their own enum classes; ours are equal ints.
    return int(value)


class RuntimeServiceError(Exception):
    """An RPC failed; ``code`` is the gRPC status code, ``violations`` the invalid fields."""

    def __init__(self, code: grpc.StatusCode, message: str,
                 violations: Sequence[tuple[str, str]] = ()) -> None:  # fmt: skip
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.violations = list(violations)


def _translate(error: grpc.aio.AioRpcError | grpc.RpcError) -> RuntimeServiceError:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    violations: list[tuple[str, str]] = []
    status = rpc_status.from_call(error)
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [(v.field, v.description) for v in bad.field_violations]
    return RuntimeServiceError(error.code(), error.details() or "", violations)


class AsyncClient:
    """Asyncio client for one server. ``token`` adds ``authorization: Bearer`` metadata;
    ``namespace`` names the namespace every call works in (``aworld-namespace`` metadata)."""

    def __init__(
        self,
        target: str,
        *,
        token: str = "",
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        reconnect_attempts: int = 10,
        namespace: str = "",
    ) -> None:
        self.target = target
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        if namespace:  # empty: the caller's only namespace, else "default"
            self._metadata += (("aworld-namespace", namespace),)
        self._channel = (
            grpc.aio.secure_channel(target, credentials, options=options)
            if credentials
            else grpc.aio.insecure_channel(target, options=options)
        )
        self._stub = pb_grpc.RuntimeServiceStub(self._channel)
        self._reconnect_attempts = reconnect_attempts

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: str, request: Any) -> Any:
        try:
            return await getattr(self._stub, method)(request, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            raise _translate(error) from None

    # -- tasks ----------------------------------------------------------------------------
    async def submit(self, task: Task, *, request_id: str = "") -> str:
        """Submit a task; returns its id once the server has it on disk. A ``request_id``
        (generated when empty) makes retries of this call safe."""
        return (await self.submit_task(task, request_id=request_id)).task_id

    async def submit_task(self, task: Task, *, request_id: str = "") -> SubmitTaskResponse:
        """Submit a task; the full response (task id, session id, created)."""
        request = pb.SubmitTaskRequest(request_id=request_id or uuid.uuid4().hex,
                                       task=task.to_proto())  # fmt: skip
        return SubmitTaskResponse.from_proto(await self._call("SubmitTask", request))

    async def run(self, task: Task, *, request_id: str = "") -> AsyncIterator[Event]:
        """Submit a task and stream its events until the terminal one (resuming on drops)."""
        request = pb.RunTaskRequest(request_id=request_id or uuid.uuid4().hex,
                                    task=task.to_proto())  # fmt: skip
        last = 0
        task_id = ""
        try:
            async for response in self._stub.RunTask(request, metadata=self._metadata):
                event = Event.from_proto(response.event)
                task_id, last = event.task_id, event.seq
                yield event
                if event.is_terminal:
                    return
        except grpc.aio.AioRpcError as error:
            if not task_id or error.code() not in _RESUMABLE:
                raise _translate(error) from None
        async for event in self.events(task_id, after_seq=last):
            yield event

    async def run_to_completion(self, task: Task, *, request_id: str = "") -> TaskResponse:
        """Submit a task and return its terminal response."""
        async for event in self.run(task, request_id=request_id):
            if event.is_terminal:
                body = event.body
                assert body is not None and hasattr(body, "response")
                return body.response or TaskResponse(id=event.task_id)
        raise RuntimeServiceError(
            grpc.StatusCode.UNKNOWN, "the stream ended without a terminal event"
        )

    async def get(self, task_id: str) -> GetTaskResponse:
        return GetTaskResponse.from_proto(
            await self._call("GetTask", pb.GetTaskRequest(task_id=task_id))
        )

    async def list_tasks(
        self,
        *,
        session_id: str = "",
        user_id: str = "",
        statuses: Sequence[TaskStatus] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> ListTasksResponse:
        """One page of tasks, newest first."""
        request = ListTasksRequest(session_id=session_id, user_id=user_id,
                                   statuses=list(statuses), page_size=page_size,
                                   page_token=page_token).to_proto()  # fmt: skip
        return ListTasksResponse.from_proto(await self._call("ListTasks", request))

    async def cancel(self, task_id: str, *, reason: str = "", request_id: str = "") -> TaskStatus:
        response = await self._call(
            "CancelTask",
            pb.CancelTaskRequest(
                task_id=task_id, reason=reason, request_id=request_id or uuid.uuid4().hex
            ),
        )
        return TaskStatus(response.status)

    async def events(
        self, task_id: str, *, after_seq: int = 0, follow: bool = True
    ) -> AsyncIterator[Event]:
        """The task's events after ``after_seq``, then live ones until the terminal event.
        Reconnects (with backoff) after transient errors and resumes after the last seq
        delivered, so nothing is skipped or repeated."""
        last = after_seq
        failures = 0
        while True:
            request = pb.StreamEventsRequest(task_id=task_id, after_seq=last,
                                             replay_only=not follow)  # fmt: skip
            try:
                async for response in self._stub.StreamEvents(request, metadata=self._metadata):
                    event = Event.from_proto(response.event)
                    failures = 0
                    last = event.seq
                    yield event
                    if event.is_terminal:
                        return
                return
            except grpc.aio.AioRpcError as error:
                failures += 1
                if error.code() not in _RESUMABLE or failures > self._reconnect_attempts:
                    raise _translate(error) from None
                await asyncio.sleep(min(2.0, 0.05 * 2**failures) * (0.5 + random.random()))

    async def state(self, task_id: str) -> GetTaskStateResponse:
        """The task's run-node tree, every page of it."""
        state = GetTaskStateResponse.from_proto(
            await self._call("GetTaskState", pb.GetTaskStateRequest(task_id=task_id))
        )
        while state.next_page_token:
            request = pb.GetTaskStateRequest(task_id=task_id, page_token=state.next_page_token)
            page = GetTaskStateResponse.from_proto(await self._call("GetTaskState", request))
            state.nodes += page.nodes
            state.next_page_token = page.next_page_token
        return state

    async def trajectory(self, task_id: str) -> list[TrajectoryItem]:
        """The task's trajectory, every page of it."""
        items: list[TrajectoryItem] = []
        token = ""
        while True:
            request = pb.GetTrajectoryRequest(task_id=task_id, page_token=token)
            response = await self._call("GetTrajectory", request)
            items += [TrajectoryItem.from_proto(item) for item in response.items]
            token = response.next_page_token
            if not token:
                return items

    async def provide_input(self, task_id: str, callback_id: str, value: Any, *,
                            request_id: str = "") -> TaskStatus:  # fmt: skip
        """Answer a request for human input with a JSON value (or a Payload)."""
        payload = value if isinstance(value, Payload) else Payload.of(value)
        response = await self._call("ProvideInput", pb.ProvideInputRequest(
            task_id=task_id, callback_id=callback_id, value=payload.to_proto(),
            request_id=request_id or uuid.uuid4().hex))  # fmt: skip
        return TaskStatus(response.status)

    async def complete_callback(self, task_id: str, callback_id: str, result: Any = None, *,
                                failure: Failure | None = None,
                                request_id: str = "") -> TaskStatus:  # fmt: skip
        """Complete a pending call with a result (a JSON value or Payload) or a failure."""
        request = pb.CompleteCallbackRequest(
            task_id=task_id, callback_id=callback_id, request_id=request_id or uuid.uuid4().hex
        )
        if failure is not None:
            request.failure.CopyFrom(failure.to_proto())
        else:
            payload = result if isinstance(result, Payload) else Payload.of(result)
            request.result.CopyFrom(payload.to_proto())
        return TaskStatus((await self._call("CompleteCallback", request)).status)

    # -- handlers, workers, sessions --------------------------------------------------------
    async def invoke(self, name: str, input: Any = None, *,
                     kind: HandlerKind = HandlerKind.TOOL, timeout: timedelta | None = None,
                     headers: dict[str, str] | None = None,
                     request_id: str = "") -> InvokeHandlerResponse:  # fmt: skip
        """Call one handler directly, outside any task."""
        request = pb.InvokeHandlerRequest(
            name=name,
            kind=_enum(kind),
            headers=headers or {},
            request_id=request_id or uuid.uuid4().hex,
        )
        request.input.CopyFrom(
            (input if isinstance(input, Payload) else Payload.of(input or {})).to_proto()
        )
        if timeout is not None:
            request.timeout.FromTimedelta(timeout)
        return InvokeHandlerResponse.from_proto(await self._call("InvokeHandler", request))

    async def handlers(self, kind: HandlerKind = HandlerKind.UNSPECIFIED) -> list[HandlerInfo]:
        response = await self._call("ListHandlers", pb.ListHandlersRequest(kind=_enum(kind)))
        return [HandlerInfo.from_proto(h) for h in response.handlers]

    async def workers(self, handler_name: str = "") -> list[WorkerInfo]:
        response = await self._call("ListWorkers", pb.ListWorkersRequest(handler_name=handler_name))
        return [WorkerInfo.from_proto(w) for w in response.workers]

    async def session(self, session_id: str) -> Session:
        response = await self._call("GetSession", pb.GetSessionRequest(session_id=session_id))
        return Session.from_proto(response.session)

    async def sessions(self, *, user_id: str = "", page_size: int = 0,
                       page_token: str = "") -> ListSessionsResponse:  # fmt: skip
        return ListSessionsResponse.from_proto(await self._call("ListSessions",
            pb.ListSessionsRequest(user_id=user_id, page_size=page_size,
                                   page_token=page_token)))  # fmt: skip


class Client:
    """Blocking client: the same methods as :class:`AsyncClient`, run on a private loop."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._async = self._loop.run_until_complete(self._make(target, kwargs))

    @staticmethod
    async def _make(target: str, kwargs: dict[str, Any]) -> AsyncClient:
        return AsyncClient(target, **kwargs)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._loop.run_until_complete(self._async.close())
        self._loop.close()

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def _iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self._loop.run_until_complete(anext(iterator))
            except StopAsyncIteration:
                return

    def submit(self, task: Task, **kw: Any) -> str:
        return self._run(self._async.submit(task, **kw))  # type: ignore[no-any-return]

    def submit_task(self, task: Task, **kw: Any) -> SubmitTaskResponse:
        return self._run(self._async.submit_task(task, **kw))  # type: ignore[no-any-return]

    def run(self, task: Task, **kw: Any) -> Iterator[Event]:
        return self._iterate(self._async.run(task, **kw))

    def run_to_completion(self, task: Task, **kw: Any) -> TaskResponse:
        return self._run(self._async.run_to_completion(task, **kw))  # type: ignore[no-any-return]

    def get(self, task_id: str) -> GetTaskResponse:
        return self._run(self._async.get(task_id))  # type: ignore[no-any-return]

    def list_tasks(self, **kw: Any) -> ListTasksResponse:
        return self._run(self._async.list_tasks(**kw))  # type: ignore[no-any-return]

    def cancel(self, task_id: str, **kw: Any) -> TaskStatus:
        return self._run(self._async.cancel(task_id, **kw))  # type: ignore[no-any-return]

    def events(self, task_id: str, **kw: Any) -> Iterator[Event]:
        return self._iterate(self._async.events(task_id, **kw))

    def state(self, task_id: str) -> GetTaskStateResponse:
        return self._run(self._async.state(task_id))  # type: ignore[no-any-return]

    def trajectory(self, task_id: str) -> list[TrajectoryItem]:
        return self._run(self._async.trajectory(task_id))  # type: ignore[no-any-return]

    def provide_input(self, task_id: str, callback_id: str, value: Any, **kw: Any) -> TaskStatus:
        return self._run(  # type: ignore[no-any-return]
            self._async.provide_input(task_id, callback_id, value, **kw)
        )

    def complete_callback(self, task_id: str, callback_id: str, result: Any = None,
                          **kw: Any) -> TaskStatus:  # fmt: skip
        return self._run(  # type: ignore[no-any-return]
            self._async.complete_callback(task_id, callback_id, result, **kw)
        )

    def invoke(self, name: str, input: Any = None, **kw: Any) -> InvokeHandlerResponse:
        return self._run(self._async.invoke(name, input, **kw))  # type: ignore[no-any-return]

    def handlers(self, kind: HandlerKind = HandlerKind.UNSPECIFIED) -> list[HandlerInfo]:
        return self._run(self._async.handlers(kind))  # type: ignore[no-any-return]

    def workers(self, handler_name: str = "") -> list[WorkerInfo]:
        return self._run(self._async.workers(handler_name))  # type: ignore[no-any-return]

    def session(self, session_id: str) -> Session:
        return self._run(self._async.session(session_id))  # type: ignore[no-any-return]

    def sessions(self, **kw: Any) -> ListSessionsResponse:
        return self._run(self._async.sessions(**kw))  # type: ignore[no-any-return]
