"""Clients for RuntimeService: :class:`AsyncClient` (asyncio) and :class:`Client` (blocking).

Every RPC has a method that takes and returns domain types. Event streams resume by
themselves: when the connection drops mid-stream, the client reconnects and continues after the
last seq it delivered, so the caller sees every event exactly once.

Addresses are ``host:port``, ``[ipv6]:port``, ``http://host:port`` or ``https://host:port``
(TLS), checked when the client is created. A server that this client has never reached fails the
call at once with UNAVAILABLE and the address in the message; once the server has answered,
streams wait for it across restarts and dropped connections.

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
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import grpc

from aworld_client._address import parse_address
from aworld_client._proto.aworld.runtime.v1 import runtime_service_pb2 as pb
from aworld_client._proto.aworld.runtime.v1 import runtime_service_pb2_grpc as pb_grpc
from aworld_client._tracing import client_interceptors
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

    def __init__(
        self, code: grpc.StatusCode, message: str, violations: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.violations = list(violations)


def _translate(error: grpc.aio.AioRpcError | grpc.RpcError, target: str) -> RuntimeServiceError:
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
    message = error.details() or ""
    if error.code() == grpc.StatusCode.UNAVAILABLE:
        message = f"cannot reach the server at {target}: {message}"
    return RuntimeServiceError(error.code(), message, violations)


def _as_task(task: Task | Mapping[str, Any]) -> Task:
    return task if isinstance(task, Task) else Task.from_dict(task)


class AsyncClient:
    """Asyncio client for the server at ``target`` (see the module docstring for its forms).

    ``token`` adds ``authorization: Bearer`` metadata; ``namespace`` names the namespace every
    call works in (``aworld-namespace`` metadata; empty: the caller's only namespace, else
    ``default``); ``credentials`` (or an ``https://`` target) switches to TLS; ``options`` are
    raw gRPC channel options; ``reconnect_attempts`` bounds how many times in a row a broken
    event stream is reopened.
    """

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
        address = parse_address(target)
        self.target = target
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        if namespace:
            self._metadata += (("aworld-namespace", namespace),)
        if credentials is None and address.tls:
            credentials = grpc.ssl_channel_credentials()
        # A span per RPC carrying the caller's trace to the server, when tracing is on.
        interceptors = client_interceptors()
        self._channel = (
            grpc.aio.secure_channel(
                address.target, credentials, options=options, interceptors=interceptors
            )
            if credentials
            else grpc.aio.insecure_channel(
                address.target, options=options, interceptors=interceptors
            )
        )
        self._stub = pb_grpc.RuntimeServiceStub(self._channel)
        self._reconnect_attempts = reconnect_attempts
        # Whether the server ever answered this client: until it has, an unreachable server is
        # reported at once; after, it is waited for (a restart, a dropped connection).
        self._reached = False

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel; calls and streams still open end with CANCELLED."""
        await self._channel.close()

    async def _call(self, method: str, request: Any) -> Any:
        try:
            response = await getattr(self._stub, method)(request, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            self._reached |= error.code() != grpc.StatusCode.UNAVAILABLE
            raise _translate(error, self.target) from None
        self._reached = True
        return response

    # -- tasks ----------------------------------------------------------------------------
    async def submit(self, task: Task | Mapping[str, Any], *, request_id: str = "") -> str:
        """Submit a task; returns its id once the server has it on disk. A ``request_id``
        (generated when empty) makes retries of this call safe."""
        return (await self.submit_task(task, request_id=request_id)).task_id

    async def submit_task(
        self, task: Task | Mapping[str, Any], *, request_id: str = ""
    ) -> SubmitTaskResponse:
        """Submit a task; the full response (task id, session id, created). A plain mapping
        is read with :meth:`Task.from_dict`."""
        request = pb.SubmitTaskRequest(
            request_id=request_id or uuid.uuid4().hex, task=_as_task(task).to_proto()
        )
        return SubmitTaskResponse.from_proto(await self._call("SubmitTask", request))

    async def run(
        self, task: Task | Mapping[str, Any], *, request_id: str = ""
    ) -> AsyncIterator[Event]:
        """Submit a task and stream its events until the terminal one (resuming on drops).
        Stopping the iteration early closes the stream; the task keeps running."""
        request = pb.RunTaskRequest(
            request_id=request_id or uuid.uuid4().hex, task=_as_task(task).to_proto()
        )
        last = 0
        task_id = ""
        call = self._stub.RunTask(request, metadata=self._metadata)
        try:
            async for response in call:
                self._reached = True
                event = Event.from_proto(response.event)
                task_id, last = event.task_id, event.seq
                yield event
                if event.is_terminal:
                    return
        except grpc.aio.AioRpcError as error:
            if not task_id or error.code() not in _RESUMABLE:
                raise _translate(error, self.target) from None
        finally:
            call.cancel()
        async for event in self.events(task_id, after_seq=last):
            yield event

    async def run_to_completion(
        self, task: Task | Mapping[str, Any], *, request_id: str = ""
    ) -> TaskResponse:
        """Submit a task and return its terminal response."""
        events = self.run(task, request_id=request_id)
        try:
            async for event in events:
                if event.is_terminal:
                    body = event.body
                    assert body is not None and hasattr(body, "response")
                    return body.response or TaskResponse(id=event.task_id)
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        raise RuntimeServiceError(
            grpc.StatusCode.UNKNOWN, "the stream ended without a terminal event"
        )

    async def get(self, task_id: str) -> GetTaskResponse:
        """A task and its current response; NOT_FOUND for unknown ids."""
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
        request = ListTasksRequest(
            session_id=session_id,
            user_id=user_id,
            statuses=list(statuses),
            page_size=page_size,
            page_token=page_token,
        ).to_proto()
        return ListTasksResponse.from_proto(await self._call("ListTasks", request))

    async def cancel(self, task_id: str, *, reason: str = "", request_id: str = "") -> TaskStatus:
        """Cancel a task (``reason`` is recorded); returns its status afterwards."""
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
            request = pb.StreamEventsRequest(
                task_id=task_id, after_seq=last, replay_only=not follow
            )
            call = self._stub.StreamEvents(request, metadata=self._metadata)
            try:
                async for response in call:
                    self._reached = True
                    event = Event.from_proto(response.event)
                    failures = 0
                    last = event.seq
                    yield event
                    if event.is_terminal:
                        return
                return
            except grpc.aio.AioRpcError as error:
                failures += 1
                self._reached |= error.code() != grpc.StatusCode.UNAVAILABLE
                # A server never reached is reported at once; a dropped one is waited for.
                retry = self._reached and error.code() in _RESUMABLE
                if not retry or failures > self._reconnect_attempts:
                    raise _translate(error, self.target) from None
            finally:
                call.cancel()
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
        """The task's trajectory (state, action, reward per step), every page of it."""
        items: list[TrajectoryItem] = []
        token = ""
        while True:
            request = pb.GetTrajectoryRequest(task_id=task_id, page_token=token)
            response = await self._call("GetTrajectory", request)
            items += [TrajectoryItem.from_proto(item) for item in response.items]
            token = response.next_page_token
            if not token:
                return items

    async def provide_input(
        self, task_id: str, callback_id: str, value: Any, *, request_id: str = ""
    ) -> TaskStatus:
        """Answer a request for human input with a JSON value (or a Payload)."""
        payload = value if isinstance(value, Payload) else Payload.of(value)
        response = await self._call(
            "ProvideInput",
            pb.ProvideInputRequest(
                task_id=task_id,
                callback_id=callback_id,
                value=payload.to_proto(),
                request_id=request_id or uuid.uuid4().hex,
            ),
        )
        return TaskStatus(response.status)

    async def complete_callback(
        self,
        task_id: str,
        callback_id: str,
        result: Any = None,
        *,
        failure: Failure | None = None,
        request_id: str = "",
    ) -> TaskStatus:
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
    async def invoke(
        self,
        name: str,
        input: Any = None,
        *,
        kind: HandlerKind = HandlerKind.TOOL,
        timeout: timedelta | None = None,
        headers: dict[str, str] | None = None,
        request_id: str = "",
    ) -> InvokeHandlerResponse:
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
        """The handlers the server knows (local and remote), of ``kind`` or all."""
        response = await self._call("ListHandlers", pb.ListHandlersRequest(kind=_enum(kind)))
        return [HandlerInfo.from_proto(h) for h in response.handlers]

    async def workers(self, handler_name: str = "") -> list[WorkerInfo]:
        """The connected workers, or those serving ``handler_name``."""
        response = await self._call("ListWorkers", pb.ListWorkersRequest(handler_name=handler_name))
        return [WorkerInfo.from_proto(w) for w in response.workers]

    async def session(self, session_id: str) -> Session:
        """One session; NOT_FOUND for unknown ids."""
        response = await self._call("GetSession", pb.GetSessionRequest(session_id=session_id))
        return Session.from_proto(response.session)

    async def sessions(
        self, *, user_id: str = "", page_size: int = 0, page_token: str = ""
    ) -> ListSessionsResponse:
        """One page of sessions, newest first."""
        return ListSessionsResponse.from_proto(
            await self._call(
                "ListSessions",
                pb.ListSessionsRequest(user_id=user_id, page_size=page_size, page_token=page_token),
            )
        )


class Client:
    """Blocking client: the methods of :class:`AsyncClient`, run on a private event loop.

    Use it as a context manager (or call :meth:`close`). Breaking out of a ``for`` over
    :meth:`run` or :meth:`events` closes that stream at once; the task keeps running.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str = "",
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        reconnect_attempts: int = 10,
    ) -> None:
        parse_address(target)  # a bad address fails here, before a loop exists to leak
        self._loop = asyncio.new_event_loop()

        async def make() -> AsyncClient:  # grpc.aio binds the channel to the running loop
            return AsyncClient(
                target,
                token=token,
                credentials=credentials,
                options=options,
                reconnect_attempts=reconnect_attempts,
            )

        self._async = self._loop.run_until_complete(make())
        self.target = target

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel and the private loop, after ending every stream still open."""
        if self._loop.is_closed():
            return
        loop = self._loop
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(self._async.close())
        # gRPC leaves small bookkeeping tasks behind cancelled calls; let them finish.
        pending = asyncio.all_tasks(loop)
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
        loop.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)

    def _iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._loop.run_until_complete(anext(iterator))
                except StopAsyncIteration:
                    return
        finally:
            # Runs when the caller stops iterating: end the gRPC stream now, on our loop.
            if not self._loop.is_closed():
                self._loop.run_until_complete(iterator.aclose())  # type: ignore[attr-defined]

    def submit(self, task: Task | Mapping[str, Any], *, request_id: str = "") -> str:
        """Submit a task; returns its id. See :meth:`AsyncClient.submit`."""
        return self._run(self._async.submit(task, request_id=request_id))

    def submit_task(
        self, task: Task | Mapping[str, Any], *, request_id: str = ""
    ) -> SubmitTaskResponse:
        """Submit a task; the full response. See :meth:`AsyncClient.submit_task`."""
        return self._run(self._async.submit_task(task, request_id=request_id))

    def run(self, task: Task | Mapping[str, Any], *, request_id: str = "") -> Iterator[Event]:
        """Submit a task and yield its events until the terminal one."""
        return self._iterate(self._async.run(task, request_id=request_id))

    def run_to_completion(
        self, task: Task | Mapping[str, Any], *, request_id: str = ""
    ) -> TaskResponse:
        """Submit a task and return its terminal response."""
        return self._run(self._async.run_to_completion(task, request_id=request_id))

    def get(self, task_id: str) -> GetTaskResponse:
        """A task and its current response; NOT_FOUND for unknown ids."""
        return self._run(self._async.get(task_id))

    def list_tasks(
        self,
        *,
        session_id: str = "",
        user_id: str = "",
        statuses: Sequence[TaskStatus] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> ListTasksResponse:
        """One page of tasks, newest first."""
        return self._run(
            self._async.list_tasks(
                session_id=session_id,
                user_id=user_id,
                statuses=statuses,
                page_size=page_size,
                page_token=page_token,
            )
        )

    def cancel(self, task_id: str, *, reason: str = "", request_id: str = "") -> TaskStatus:
        """Cancel a task; returns its status afterwards."""
        return self._run(self._async.cancel(task_id, reason=reason, request_id=request_id))

    def events(self, task_id: str, *, after_seq: int = 0, follow: bool = True) -> Iterator[Event]:
        """The task's events after ``after_seq``, then live ones until the terminal event."""
        return self._iterate(self._async.events(task_id, after_seq=after_seq, follow=follow))

    def state(self, task_id: str) -> GetTaskStateResponse:
        """The task's run-node tree."""
        return self._run(self._async.state(task_id))

    def trajectory(self, task_id: str) -> list[TrajectoryItem]:
        """The task's trajectory."""
        return self._run(self._async.trajectory(task_id))

    def provide_input(
        self, task_id: str, callback_id: str, value: Any, *, request_id: str = ""
    ) -> TaskStatus:
        """Answer a request for human input with a JSON value (or a Payload)."""
        return self._run(
            self._async.provide_input(task_id, callback_id, value, request_id=request_id)
        )

    def complete_callback(
        self,
        task_id: str,
        callback_id: str,
        result: Any = None,
        *,
        failure: Failure | None = None,
        request_id: str = "",
    ) -> TaskStatus:
        """Complete a pending call with a result (a JSON value or Payload) or a failure."""
        return self._run(
            self._async.complete_callback(
                task_id, callback_id, result, failure=failure, request_id=request_id
            )
        )

    def invoke(
        self,
        name: str,
        input: Any = None,
        *,
        kind: HandlerKind = HandlerKind.TOOL,
        timeout: timedelta | None = None,
        headers: dict[str, str] | None = None,
        request_id: str = "",
    ) -> InvokeHandlerResponse:
        """Call one handler directly, outside any task."""
        return self._run(
            self._async.invoke(
                name, input, kind=kind, timeout=timeout, headers=headers, request_id=request_id
            )
        )

    def handlers(self, kind: HandlerKind = HandlerKind.UNSPECIFIED) -> list[HandlerInfo]:
        """The handlers the server knows, of ``kind`` or all."""
        return self._run(self._async.handlers(kind))

    def workers(self, handler_name: str = "") -> list[WorkerInfo]:
        """The connected workers, or those serving ``handler_name``."""
        return self._run(self._async.workers(handler_name))

    def session(self, session_id: str) -> Session:
        """One session; NOT_FOUND for unknown ids."""
        return self._run(self._async.session(session_id))

    def sessions(
        self, *, user_id: str = "", page_size: int = 0, page_token: str = ""
    ) -> ListSessionsResponse:
        """One page of sessions, newest first."""
        return self._run(
            self._async.sessions(user_id=user_id, page_size=page_size, page_token=page_token)
        )
