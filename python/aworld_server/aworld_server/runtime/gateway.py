"""``Handlers``: the one place that decides whether a tool or hook runs in this process or on
a worker, and runs one attempt of it there. Retries stay with the callers (a task's tool call
records each attempt; a direct call returns the attempt count), both through ``retry_async``.

A remote handler that is known — declared by a worker before, or named by the task — but served
by no worker now waits for one (schedule-to-start); a name nobody knows fails at once with a
non-retryable ``ToolNotFound`` / ``HookNotFound``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from aworld_client import Failure, HandlerKind, HandlerSpec, Payload, RetryPolicy, Task
from aworld_client.handlers import InvalidHandlerInput, Pending

from aworld_server.context import Context
from aworld_server.dispatch import HandlerCall
from aworld_server.errors import (
    AttemptTimedOut,
    HandlerFailed,
    InvalidArgument,
    NotFound,
    OutcomeUnknown,
)
from aworld_server.handlers import HandlerRegistry, LocalTool
from aworld_server.handlers.named import handler_names
from aworld_server.ids import new_id
from aworld_server.namespaces import DEFAULT_NAMESPACE, namespace_of
from aworld_server.retry import failure_of, retry_async

__all__ = ["CURRENT_CALL", "CallOutcome", "Handlers", "RemoteHandlers"]

# The call an in-process handler is running for (its id is stable across a task's re-runs),
# for built-in tools that need it, such as sub-tasks (their ids derive from it).
CURRENT_CALL: ContextVar[HandlerCall | None] = ContextVar("aworld_current_call", default=None)


class RemoteHandlers(Protocol):
    """Handlers served by workers (the server plugs its dispatcher in here; an engine worker,
    the control plane).

    ``spec`` is the latest declaration of a handler, also while no worker serves it right now;
    ``invoke`` runs one attempt, waiting for a worker (schedule-to-start) rather than failing."""

    def spec(
        self, name: str, kind: HandlerKind, namespace: str = DEFAULT_NAMESPACE
    ) -> HandlerSpec | None: ...

    async def invoke(self, call: HandlerCall) -> Any: ...

    async def cancel_task(self, task_id: str, reason: str) -> None: ...


@dataclass(slots=True, frozen=True)
class CallOutcome:
    """How a direct call ended: its output or its failure, after ``attempts`` attempts."""

    output: Payload | None
    failure: Failure | None
    attempts: int


class Handlers:
    """Tools and hooks by name: in-process ones from the registry, else remote ones."""

    def __init__(self, registry: HandlerRegistry, remote: RemoteHandlers | None = None) -> None:
        self.registry = registry
        self.remote = remote

    def _local(self, name: str, kind: HandlerKind) -> LocalTool | None:
        """An in-process tool or hook (in-process agents are Agent objects, not handlers)."""
        if kind == HandlerKind.TOOL:
            return self.registry.tools.get(name)
        if kind == HandlerKind.HOOK:
            return self.registry.hooks.get(name)
        return None

    def spec(
        self, name: str, kind: HandlerKind, namespace: str = DEFAULT_NAMESPACE
    ) -> HandlerSpec | None:
        """The declaration of a handler: in-process, else by a worker of ``namespace``."""
        local = self._local(name, kind)
        if local is not None:
            return local.spec
        return self.remote.spec(name, kind, namespace) if self.remote is not None else None

    def tool_spec(self, name: str, task: Task | None = None) -> HandlerSpec | None:
        return self.spec(name, HandlerKind.TOOL, _namespace(task))

    def _knows_remote(
        self, name: str, kind: HandlerKind, scope: Task | None, namespace: str
    ) -> bool:
        """Declared by a worker of ``namespace`` (now or before), or named by the task."""
        if self.remote is None:
            return False
        if self.remote.spec(name, kind, namespace) is not None:
            return True
        return scope is not None and (name, kind) in handler_names(scope)

    async def invoke(self, call: HandlerCall, context: Context | None = None) -> Any:
        """One attempt, in-process or on a worker. A local handler gets ``context`` and runs
        under ``call.timeout`` (default: its spec's); its errors become HandlerFailed."""
        local = self._local(call.name, call.kind)
        if local is not None:
            if call.require_idempotent and not local.spec.idempotent:
                raise OutcomeUnknown(call.name, source="runtime")
            if call.on_start is not None:
                await call.on_start("")
            token = CURRENT_CALL.set(call)
            try:
                return await _run_local(local, call.arguments, context, call.timeout)
            finally:
                CURRENT_CALL.reset(token)
        if self._knows_remote(call.name, call.kind, call.owner, call.in_namespace):
            assert self.remote is not None
            return await self.remote.invoke(call)
        raise _not_found(call.kind, call.name)

    async def invoke_hook(
        self, name: str, point: str, request: dict[str, Any], context: Context, task: Task | None
    ) -> Any:
        """Run one hook, in-process or on a worker of the task's namespace. Not an attempt of
        the task's calls: cancelling the task does not cancel the hooks that record its end."""
        call = HandlerCall(
            name=name,
            kind=HandlerKind.HOOK,
            arguments=request,
            call_id=new_id(),
            scope=task,
            hook_point=point,
        )
        return await self.invoke(call, context)

    async def call(
        self,
        name: str,
        kind: HandlerKind,
        arguments: Any,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        headers: Mapping[str, str] | None = None,
        timeout: timedelta | None = None,
        request_id: str = "",
        retry_policy: RetryPolicy | None = None,
    ) -> CallOutcome:
        """A direct call outside any task (InvokeHandler), retried by ``retry_policy`` (default:
        the handler's; a local one without a policy runs once). Raises NotFound for a name no
        one declares, InvalidArgument for input that fails the handler's schema."""
        spec = self.spec(name, kind, namespace)
        if spec is None:
            raise NotFound(f"no {kind.name.lower()} handler named {name!r}")
        local = self._local(name, kind) is not None
        policy = (
            retry_policy
            or spec.retry_policy
            or (RetryPolicy(maximum_attempts=1) if local else None)
        )
        call_id = new_id()
        attempts = 0

        async def attempt(number: int) -> Payload:
            nonlocal attempts
            attempts = number
            output = await self.invoke(
                HandlerCall(
                    name=name,
                    kind=kind,
                    arguments=arguments,
                    call_id=call_id,
                    attempt=number,
                    namespace=namespace,
                    headers=headers,
                    timeout=timeout,
                    idempotency_key=request_id or call_id,
                )
            )
            if isinstance(output, Pending):
                return Payload.of({"pending_callback_id": output.callback_id})
            return Payload.of(output)

        try:
            output = await retry_async(attempt, policy)
        except InvalidArgument:
            raise  # input that fails a worker handler's schema (InvalidInput): a status code
        except HandlerFailed as error:
            return CallOutcome(None, error.failure, attempts)
        return CallOutcome(output, None, attempts)

    async def cancel_calls(self, task_id: str, reason: str) -> None:
        """Tell workers to stop the task's calls in flight."""
        if self.remote is not None:
            await self.remote.cancel_task(task_id, reason)


async def _run_local(
    fn: LocalTool,
    arguments: Any,
    context: Context | None,
    timeout: timedelta | None,
) -> Any:
    limit = timeout or fn.spec.default_timeout
    deadline = asyncio.timeout(limit.total_seconds() if limit else None)
    try:
        async with deadline:
            if context is None:
                return await fn.invoke(arguments)
            return await fn.invoke(arguments, context=context)
    except InvalidHandlerInput:
        raise  # the input is wrong, not the handler
    except TimeoutError as error:
        if limit is None or not deadline.expired():  # the handler's own timeout, not ours
            raise HandlerFailed(failure_of(error)) from error
        raise AttemptTimedOut(
            fn.name, limit.total_seconds(), idempotent=fn.spec.idempotent
        ) from error
    except HandlerFailed:
        raise
    except Exception as error:
        raise HandlerFailed(failure_of(error)) from error


def _namespace(task: Task | None) -> str:
    return namespace_of(task.headers) if task is not None else DEFAULT_NAMESPACE


def _not_found(kind: HandlerKind, name: str) -> HandlerFailed:
    label = kind.name.lower()
    return HandlerFailed(
        Failure(
            type=f"{label.capitalize()}NotFound",
            non_retryable=True,
            message=f"no {label} named {name!r} is registered or served",
        )
    )
