"""``RoutedHandlers``: the remote handlers of a replica. A call goes to a worker of this replica
when one serves its handler, else to the least loaded other replica whose worker does
(:mod:`.routing`); while none serves a known handler anywhere, it waits for one — connected
here or published by another replica — up to the schedule-to-start timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from aworld_client import HandlerKind, HandlerSpec
from redis.exceptions import RedisError

from aworld_server.dispatch import HandlerCall
from aworld_server.dispatch.remote_handlers import RemoteHandlers
from aworld_server.errors import ScheduleToStartTimeout
from aworld_server.namespaces import DEFAULT_NAMESPACE
from aworld_server.replicas.routing import NotStarted, Router

__all__ = ["RoutedHandlers"]

log = logging.getLogger(__name__)


class RoutedHandlers:
    """``runtime.RemoteHandlers`` of a replica: this replica's workers first, else another
    replica's (``Router``); while none serves a known handler, waits for one to, up to the
    schedule-to-start timeout."""

    def __init__(
        self,
        local: RemoteHandlers,
        router: Router,
        *,
        schedule_to_start: timedelta,
    ) -> None:
        self.local = local
        self.router = router
        self.dispatcher = local.dispatcher
        self.schedule_to_start = schedule_to_start

    def spec(
        self, name: str, kind: HandlerKind, namespace: str = DEFAULT_NAMESPACE
    ) -> HandlerSpec | None:
        return self.local.spec(name, kind, namespace) or self.router.directory.declared(
            name, kind, namespace
        )

    async def invoke(self, call: HandlerCall) -> Any:
        name, kind, namespace = call.name, call.kind, call.in_namespace
        conf = call.task.conf if call.task else None
        declared = self.spec(name, kind, namespace)
        asked = conf.schedule_to_start_timeout if conf else None
        limit = (
            asked
            or (declared.schedule_to_start_timeout if declared else None)
            or self.schedule_to_start
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit.total_seconds()
        tried: set[str] = set()
        while True:
            if self.dispatcher.has_handler(name, kind, namespace):
                # This replica owns the task now: an attempt of the call still served here
                # for its former owner gives way.
                await self.router.supersede(call.key)
                return await self.local.invoke(call)
            try:
                picked = await self.router.pick(name, kind, namespace, tried)
            except (RedisError, OSError):
                log.warning("could not read the other replicas' workers", exc_info=True)
                picked = None
            if picked is not None:
                target, instance = picked
                try:
                    return await self.router.call(target, instance, call, asked)
                except NotStarted:
                    tried.add(target)  # it died or lost its worker: the others, or wait
                    continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ScheduleToStartTimeout(name, limit.total_seconds())
            # A worker may connect here (woken at once) or to another replica (seen within
            # a beat, when its replica publishes).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(self.router.beat, remaining)):
                    await self.dispatcher.wait_for_handler(name, kind, namespace=namespace)
            tried.clear()

    async def cancel_task(self, task_id: str, reason: str) -> None:
        # The routed ones first (they talk to Redis); the local ones then settle at once, so
        # the task's run is cancelled before it sees any of its calls fail.
        await self.router.cancel_task(task_id, reason)
        await self.local.cancel_task(task_id, reason)
