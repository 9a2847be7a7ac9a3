"""The runtime's view of remote handlers: one attempt of a tool or hook on a worker.

Retries stay with the runtime (the same policy and events as local tools), so this adapter
runs exactly one attempt per call and turns the worker's answer into a plain value.
"""

from __future__ import annotations

from typing import Any

from aworld_client import HandlerKind, HandlerSpec, Payload
from aworld_client.handlers import Pending

from aworld_server.dispatch._dispatcher import WorkerDispatcher
from aworld_server.dispatch.handler_call import HandlerCall
from aworld_server.namespaces import DEFAULT_NAMESPACE
from aworld_server.observability import call_headers

__all__ = ["RemoteHandlers"]


class RemoteHandlers:
    """Implements ``aworld_server.runtime.RemoteHandlers`` over a WorkerDispatcher."""

    __slots__ = ("dispatcher",)

    def __init__(self, dispatcher: WorkerDispatcher) -> None:
        self.dispatcher = dispatcher

    def spec(
        self, name: str, kind: HandlerKind, namespace: str = DEFAULT_NAMESPACE
    ) -> HandlerSpec | None:
        return self.dispatcher.declared(name, kind, namespace)

    async def invoke(self, call: HandlerCall) -> Any:
        """One attempt on a worker of the call's namespace; its headers carry the calling
        span's trace context, so the worker's span joins the task's trace."""
        task = call.task
        conf = task.conf if task else None
        output = await self.dispatcher.call_attempt(
            call.call_id,
            call.attempt,
            call.name,
            call.kind,
            Payload.of(call.arguments),
            task_id=task.id if task else "",
            session_id=task.session_id if task else "",
            headers=call_headers(task.headers if task else None, call.headers),
            hook_point=call.hook_point,
            timeout=call.timeout,
            idempotency_key=call.key,
            schedule_to_start=conf.schedule_to_start_timeout if conf else None,
            on_start=call.on_start,
            require_idempotent=call.require_idempotent,
            namespace=call.in_namespace,
        )
        return output if isinstance(output, Pending) else output.value()

    async def cancel_task(self, task_id: str, reason: str) -> None:
        await self.dispatcher.cancel_task(task_id, reason)
