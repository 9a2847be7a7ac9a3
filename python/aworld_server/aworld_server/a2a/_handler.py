"""The A2A methods of one exposed swarm, served by the runtime's public methods.

``message/send`` (``SendMessage``) without a task id starts a task from the swarm's template
with the message as its input (``contextId`` names the session); with the id of a task waiting
for input it answers the oldest open request (``ProvideInput``). Either way it returns the task
once it has finished or waits for input again (or at once with ``returnImmediately``).
``message/stream`` does the same while streaming the status and artifact updates;
``tasks/get``, ``tasks/cancel`` and ``tasks/resubscribe`` work on tasks this endpoint started.

The caller was authenticated, and its scope for the method checked, before any of this runs
(``_endpoint``); here it only decides the namespace, exactly as over gRPC: a task of another
namespace, or started another way, is "not found". Idempotency: a message id is the request
id of the task it starts, so a client that retries a lost ``message/send`` gets the same task.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event as A2AEvent
from a2a.server.request_handlers import RequestHandler
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
)
from a2a.utils.errors import (
    ContentTypeNotSupportedError,
    InternalError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from aworld_client import Payload
from aworld_client import Task as OurTask

from aworld_server.a2a._mapping import TaskFold, payload_of
from aworld_server.api.authz import session_in_namespace, visible_task
from aworld_server.api.idempotency import scoped_request_id
from aworld_server.api.limits import json_depth
from aworld_server.api.principals import Caller, bind_caller, current_caller
from aworld_server.config import Limits
from aworld_server.errors import (
    AlreadyExists,
    AWorldError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from aworld_server.namespaces import DEFAULT_NAMESPACE, NAMESPACE_HEADER, PRINCIPAL_HEADER

if TYPE_CHECKING:
    from aworld_server.runtime import Runtime

__all__ = ["A2A_AGENT_HEADER", "CALLER_KEY", "ExposedSwarm", "SwarmRequestHandler"]

# The task header naming the exposed agent that started a task. Reserved ("aworld-"): a client
# cannot set it, so only this endpoint's tasks carry it.
A2A_AGENT_HEADER = "aworld-a2a-agent"
# Where the endpoint leaves the authenticated caller in the ServerCallContext state.
CALLER_KEY = "aworld.caller"


@dataclass(frozen=True, slots=True)
class ExposedSwarm:
    """A swarm served as an A2A agent: its name (route), task template and card."""

    name: str
    template: OurTask
    card: AgentCard


class SwarmRequestHandler(RequestHandler):
    """See the module docstring. One instance per exposed swarm."""

    def __init__(
        self,
        runtime: Runtime,
        swarm: ExposedSwarm,
        *,
        limits: Limits,
        max_live_tasks: int,
        accepting: Callable[[], bool] = lambda: True,
    ) -> None:
        self._runtime = runtime
        self._swarm = swarm
        self._limits = limits
        self._max_live_tasks = max_live_tasks
        self._accepting = accepting  # False while the server drains for shutdown

    # -- messages ---------------------------------------------------------------------------
    async def on_message_send(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> Task | Message:
        with _a2a_errors():
            _enter(context)
            fold = await self._send(params)
            if not params.configuration.return_immediately:
                async for _ in self._follow(fold):
                    pass
            return fold.task(_history_length(params))

    async def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[A2AEvent]:
        with _a2a_errors():
            _enter(context)
            fold = await self._send(params)
            yield fold.task(_history_length(params))
            async for update in self._follow(fold):
                yield update

    async def on_subscribe_to_task(
        self, params: SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[A2AEvent]:
        with _a2a_errors():
            _enter(context)
            fold = await self._fold(await self._visible(params.id))
            if fold.status.is_terminal:
                raise UnsupportedOperationError(f"task {params.id} has ended ({fold.status.name})")
            yield fold.task()  # then its updates, unless it waits for input already
            async for update in self._follow(fold):
                yield update

    async def _send(self, params: SendMessageRequest) -> TaskFold:
        """Start a task or answer one; the fold of its log up to that point."""
        _check_configuration(params)
        message = params.message
        if not message.message_id:
            raise InvalidArgument(
                "invalid message", [FieldViolation("message.messageId", "is required")]
            )
        payload = payload_of(message)
        if json_depth(payload.value()) > self._limits.max_json_depth:
            raise InvalidArgument(
                "message too deep",
                [FieldViolation("message.parts", f"deeper than {self._limits.max_json_depth}")],
            )
        if message.task_id:
            return await self._answer(message, payload)
        return await self._start(message, payload)

    async def _start(self, message: Message, payload: Payload) -> TaskFold:
        runtime = self._runtime
        if not self._accepting():
            raise InternalError("the server is shutting down; send to another replica")
        if runtime.live_tasks >= self._max_live_tasks:
            raise InternalError(f"the server is running {runtime.live_tasks} tasks; retry later")
        task = OurTask.from_proto(self._swarm.template.to_proto())  # a copy to fill in
        task.input = payload
        task.name = task.name or self._swarm.name
        task.headers[A2A_AGENT_HEADER] = self._swarm.name
        caller = current_caller()
        if caller.namespace != DEFAULT_NAMESPACE:  # as SubmitTask records it
            task.headers[NAMESPACE_HEADER] = caller.namespace
        if caller.authenticated:
            task.headers[PRINCIPAL_HEADER] = caller.principal.name
            task.user_id = caller.principal.name
        if message.context_id:
            task.session_id = message.context_id
            session = await runtime.reader.session(message.context_id)
            if session is not None and not await session_in_namespace(runtime.reader, session):
                raise InvalidArgument(
                    "unknown context",
                    [FieldViolation("message.contextId", "names no session of this caller")],
                )
        # Prefixed, so a message id never names a task submitted over gRPC with the same id.
        request_id = scoped_request_id(
            "A2A.SendMessage", f"a2a:{self._swarm.name}:{message.message_id}"
        )
        result = await runtime.submit(task, request_id)
        fold = await self._fold(result.task_id)
        if not result.created and fold.input != payload:
            raise AlreadyExists(
                f"message id {message.message_id!r} was sent before with another content"
            )
        return fold

    async def _answer(self, message: Message, payload: Payload) -> TaskFold:
        """Give the input a waiting task asked for (the oldest open request)."""
        task_id = await self._visible(message.task_id)
        fold = await self._fold(task_id)
        if message.context_id and message.context_id != fold.context_id:
            raise InvalidArgument(
                "context mismatch",
                [FieldViolation("message.contextId", f"task {task_id} is in another context")],
            )
        if fold.status.is_terminal:
            raise UnsupportedOperationError(
                f"task {task_id} has ended ({fold.status.name}); send a new message without "
                "taskId to start another"
            )
        if not fold.pending:
            raise UnsupportedOperationError(f"task {task_id} is not waiting for input")
        callback_id = next(iter(fold.pending))
        await self._runtime.provide_input(task_id, callback_id, payload)
        # Read again: the answer is in the log now (and maybe, already, the next question).
        return await self._fold(task_id)

    async def _follow(self, fold: TaskFold) -> AsyncIterator[A2AEvent]:
        """The task's updates after ``fold``, until it ends or waits for input."""
        if fold.interrupted:  # it got there before the log was read
            return
        async for event in self._runtime.stream(fold.task_id, fold.last_seq):
            for update in fold.add(event):
                payload = update.WhichOneof("payload")
                yield getattr(update, payload)
            if fold.interrupted:
                return

    # -- tasks ------------------------------------------------------------------------------
    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext) -> Task | None:
        with _a2a_errors():
            _enter(context)
            fold = await self._fold(await self._visible(params.id))
            length = params.history_length if params.HasField("history_length") else None
            if length is not None and length < 0:
                raise InvalidArgument(
                    "invalid history length",
                    [FieldViolation("historyLength", "must not be negative")],
                )
            return fold.task(length)

    async def on_cancel_task(
        self, params: CancelTaskRequest, context: ServerCallContext
    ) -> Task | None:
        with _a2a_errors():
            _enter(context)
            task_id = await self._visible(params.id)
            fold = await self._fold(task_id)
            if fold.status.is_terminal:
                raise TaskNotCancelableError(f"task {task_id} has ended ({fold.status.name})")
            await self._runtime.cancel(task_id, "cancelled over A2A")
            return (await self._fold(task_id)).task()

    async def _visible(self, task_id: str) -> str:
        """``task_id`` if the caller may see it and this endpoint started it; else not found."""
        await visible_task(self._runtime.reader, task_id)
        view = await self._runtime.get_task(task_id)
        if view.task.headers.get(A2A_AGENT_HEADER) != self._swarm.name:
            raise NotFound(f"task {task_id}")
        return task_id

    async def _fold(self, task_id: str) -> TaskFold:
        fold = TaskFold(task_id)
        async for event in self._runtime.stream(task_id, follow=False):
            fold.add(event)
        return fold

    # -- not offered ------------------------------------------------------------------------
    async def on_list_tasks(
        self, params: ListTasksRequest, context: ServerCallContext
    ) -> ListTasksResponse:
        raise UnsupportedOperationError("tasks/list is not offered; use ListTasks over gRPC")

    async def on_create_task_push_notification_config(
        self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        _no_push()

    async def on_get_task_push_notification_config(
        self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        _no_push()

    async def on_list_task_push_notification_configs(
        self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        _no_push()

    async def on_delete_task_push_notification_config(
        self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        _no_push()

    async def on_get_extended_agent_card(
        self, params: GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> AgentCard:
        raise UnsupportedOperationError("this agent has no extended card")


def _no_push() -> NoReturn:
    raise PushNotificationNotSupportedError("push notifications are not offered; stream instead")


def _history_length(params: SendMessageRequest) -> int | None:
    configuration = params.configuration
    return configuration.history_length if configuration.HasField("history_length") else None


# What a task's answer can be: text, or JSON for a structured one.
OUTPUT_MODES = ("text/plain", "application/json")


def _check_configuration(params: SendMessageRequest) -> None:
    """Refuse what a request asks for and this endpoint would not do (rather than ignore it)."""
    configuration = params.configuration
    if configuration.HasField("task_push_notification_config"):
        _no_push()
    accepted = list(configuration.accepted_output_modes)
    if accepted and not any(_covers(mode, ours) for mode in accepted for ours in OUTPUT_MODES):
        raise ContentTypeNotSupportedError(
            f"answers are {' or '.join(OUTPUT_MODES)}; the client accepts {accepted}"
        )
    if params.tenant:
        raise InvalidArgument(
            "tenants are not used here",
            [FieldViolation("tenant", "leave it empty; the token decides the namespace")],
        )
    if configuration.HasField("history_length") and configuration.history_length < 0:
        raise InvalidArgument(
            "invalid history length",
            [FieldViolation("configuration.historyLength", "must not be negative")],
        )


def _covers(accepted: str, mode: str) -> bool:
    kind, _, sub = accepted.partition("/")
    return accepted in ("*/*", "*", mode) or (sub == "*" and mode.startswith(f"{kind}/"))


def _enter(context: ServerCallContext) -> None:
    """Bind the request's caller (set by the endpoint) for the namespace checks."""
    caller = context.state.get(CALLER_KEY)
    if not isinstance(caller, Caller):  # the endpoint always sets it; never run without one
        raise InternalError("request reached the handler unauthenticated")
    bind_caller(caller)


@contextmanager
def _a2a_errors() -> Iterator[None]:
    """Our errors as A2A errors (JSON-RPC codes), with field violations as data."""
    try:
        yield
    except InvalidArgument as error:
        violations = [{"field": v.field, "description": v.description} for v in error.violations]
        raise InvalidParamsError(str(error), data={"fieldViolations": violations}) from None
    except NotFound as error:
        raise TaskNotFoundError(str(error) or "task not found") from None
    except (FailedPrecondition, AlreadyExists) as error:
        raise InvalidParamsError(str(error)) from None
    except AWorldError as error:  # overload, shutdown: the client may retry
        raise InternalError(str(error)) from None
