"""The runtime's view of remote handlers: one attempt of a tool or hook on a worker.

Retries stay with the runtime (the same policy and events as local tools), so this adapter
runs exactly one attempt per call and turns the worker's answer into a plain value.
"""

from __future__ import annotations

from typing import Any

from aworld_client import HandlerKind, HandlerSpec, Payload, Task
from aworld_client.handlers import Pending

from aworld_server.dispatch._dispatcher import WorkerDispatcher
from aworld_server.observability import inject_headers

__all__ = ["RemoteHandlers"]


class RemoteHandlers:
    """Implements ``aworld_server.runtime.RemoteHandlers`` over a WorkerDispatcher."""

    def __init__(self, dispatcher: WorkerDispatcher) -> None:
        self.dispatcher = dispatcher

    def spec(self, name: str, kind: HandlerKind) -> HandlerSpec | None:
        return self.dispatcher.spec(name, kind)

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
    ) -> Any:
        output = await self.dispatcher.call_attempt(
            call_id,
            attempt,
            name,
            kind,
            Payload.of(arguments),
            task_id=task.id if task else "",
            session_id=task.session_id if task else "",
            # The calling span's trace context, so the worker's span joins the task's trace.
            headers=inject_headers(dict(task.headers) if task else {}),
            hook_point=hook_point,
        )
        return output if isinstance(output, Pending) else output.value()

    async def cancel_task(self, task_id: str, reason: str) -> None:
        await self.dispatcher.cancel_task(task_id, reason)
