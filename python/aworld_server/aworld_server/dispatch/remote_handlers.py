"""The runtime's view of remote handlers: one attempt of a tool or hook on a worker.

Retries stay with the runtime (the same policy and events as local tools), so this adapter
runs exactly one attempt per call and turns the worker's answer into a plain value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aworld_client import HandlerKind, HandlerSpec, Payload, Task
from aworld_client.handlers import Pending

from aworld_server.dispatch._dispatcher import WorkerDispatcher
from aworld_server.dispatch._types import OnStart
from aworld_server.namespaces import DEFAULT_NAMESPACE, namespace_of
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

    async def invoke(
        self,
        name: str,
        kind: HandlerKind,
        arguments: Any,
        *,
        call_id: str,
        attempt: int,
        task: Task | None,
        hook_point: str = "",
        on_start: OnStart | None = None,
        require_idempotent: bool = False,
        namespace: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: timedelta | None = None,
        idempotency_key: str = "",
    ) -> Any:
        """One attempt on a worker of ``namespace`` (default: the task's). ``headers`` default
        to the task's; either way they carry the calling span's trace context."""
        conf = task.conf if task else None
        output = await self.dispatcher.call_attempt(
            call_id,
            attempt,
            name,
            kind,
            Payload.of(arguments),
            task_id=task.id if task else "",
            session_id=task.session_id if task else "",
            # The calling span's trace context, so the worker's span joins the task's trace.
            headers=call_headers(task.headers if task else None, headers),
            hook_point=hook_point,
            timeout=timeout,
            # The same for every execution of this logical call, across attempts and restarts.
            idempotency_key=idempotency_key or (f"{task.id}/{call_id}" if task else call_id),
            schedule_to_start=conf.schedule_to_start_timeout if conf else None,
            on_start=on_start,
            require_idempotent=require_idempotent,
            namespace=namespace or (namespace_of(task.headers) if task else DEFAULT_NAMESPACE),
        )
        return output if isinstance(output, Pending) else output.value()

    async def cancel_task(self, task_id: str, reason: str) -> None:
        await self.dispatcher.cancel_task(task_id, reason)
