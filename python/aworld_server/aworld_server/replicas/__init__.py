"""Replicas: several servers on one Redis (store and bus) share its tasks.

* A task runs on one replica, which holds its lease (:mod:`.leases`); every replica's sweeper
  takes over tasks whose lease expired and resumes them from the log, as after a restart.
* The lease's fencing token goes with every write to the task's log, and the store refuses stale
  ones: a replica that lost a lease cannot write into a log another replica now extends.
* Any replica serves any client: reads come from Redis, a stream of a task running elsewhere
  polls the log (``EventManager.poll_interval``), and requests that act on a task (cancel,
  callbacks, input) go to its owner (:mod:`.inbox`) and its answer comes back.
* A worker may connect to any replica: each publishes its workers (:mod:`.directory`), and a
  call whose handler no worker of the task's owner serves goes to the least loaded replica
  whose worker does (:mod:`.routing`); ``ListWorkers``/``ListHandlers`` show the whole cluster.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aworld_client import Failure, Payload

from aworld_server.dispatch import WorkerDispatcher
from aworld_server.dispatch.remote_handlers import RemoteHandlers
from aworld_server.redis_client import connect
from aworld_server.replicas.directory import Directory
from aworld_server.replicas.inbox import Inbox, Moved
from aworld_server.replicas.leases import Leases
from aworld_server.replicas.owners import RedisOwners
from aworld_server.replicas.routed_handlers import RoutedHandlers
from aworld_server.replicas.routing import Router

if TYPE_CHECKING:
    from aworld_server.events import EventManager
    from aworld_server.runtime.executor import TaskExecutor
    from aworld_server.storage import RedisEventStore

__all__ = ["Directory", "Replicas", "RoutedHandlers", "Router", "replica_id_for"]

log = logging.getLogger(__name__)

# How often a stream of a task that runs on another replica looks for new events.
POLL_INTERVAL = 0.05


def replica_id_for(data_dir: Path) -> str:
    """This replica's id, kept in its data dir: a replica restarted on the same data dir takes
    its own leases back at once instead of waiting for them to expire."""
    path = data_dir / "replica-id"
    if path.exists():
        found = path.read_text().strip()
        if re.fullmatch(r"[A-Za-z0-9_.-]+", found):
            return found
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh = uuid.uuid4().hex[:12]
    path.write_text(fresh + "\n")
    return fresh


class Replicas:
    """This replica's part in the cluster: its leases and its inbox, attached to a runtime."""

    def __init__(
        self, url: str, *, prefix: str, replica_id: str, lease_ttl: float, store: RedisEventStore
    ) -> None:
        self.replica_id = replica_id
        self.client = connect(url)
        self.store = store
        self.leases = Leases(
            self.client, prefix=prefix, replica_id=replica_id, ttl=lease_ttl, held=store.fences
        )
        self.inbox = Inbox(self.client, prefix=prefix, replica_id=replica_id)
        # Who owns handler names and worker ids: the same on every replica.
        self.owners = RedisOwners(self.client, prefix=prefix)
        # How long a request waits for the owner of its task, across owner changes.
        self.route_timeout = max(10.0, 4 * lease_ttl)
        self.lease_ttl = lease_ttl
        self._executor: TaskExecutor | None = None
        self.directory: Directory | None = None
        self.router: Router | None = None

    def route(
        self, dispatcher: WorkerDispatcher, *, schedule_to_start: timedelta
    ) -> RoutedHandlers:
        """The runtime's remote handlers: ``dispatcher``'s workers, published to the other
        replicas, else theirs (before the runtime is built)."""
        self.directory = Directory(
            self.client,
            prefix=self.leases.prefix,
            replica_id=self.replica_id,
            dispatcher=dispatcher,
            ttl=self.lease_ttl,
        )
        self.router = Router(
            self.client,
            prefix=self.leases.prefix,
            replica_id=self.replica_id,
            dispatcher=dispatcher,
            directory=self.directory,
            leases=self.leases,
        )
        return RoutedHandlers(
            RemoteHandlers(dispatcher), self.router, schedule_to_start=schedule_to_start
        )

    def attach(self, executor: TaskExecutor, events: EventManager) -> None:
        """Run the executor's tasks under leases (before it resumes or accepts anything)."""
        self._executor = executor
        executor.replicas = self
        self.leases.keep = executor.here
        self.leases.on_lost = executor.drop
        self.store.on_fenced = self.leases.lost
        events.poll_interval = POLL_INTERVAL

    # -- what the executor asks (``runtime.executor.Replicated``) ------------------------------
    def holds(self, task_id: str) -> bool:
        return self.leases.holds(task_id)

    async def acquire(self, task_id: str) -> bool:
        return await self.leases.acquire(task_id)

    async def owner(self, task_id: str) -> str | None:
        return await self.leases.owner(task_id)

    async def takeable_live(self) -> list[str]:
        return await self.leases.takeable_live()

    def start(self) -> None:
        self.leases.start()
        self.inbox.start(self._handle)
        if self.directory is not None and self.router is not None:
            self.directory.start()
            self.router.start()

    async def stop(self) -> None:
        """Stop answering and renewing, and release every lease (after the runs stopped);
        calls served for other replicas fail there as lost."""
        if self.router is not None:
            await self.router.stop()
        if self.directory is not None:
            await self.directory.stop()
        await self.inbox.stop()
        await self.leases.stop()
        await self.client.aclose()

    async def ask(self, owner: str, op: str, task_id: str, args: dict[str, Any]) -> Any:
        """The owner's answer, or None when it did not answer in two lease TTLs or no longer
        owns the task (the caller looks for the owner again)."""
        try:
            return await self.inbox.ask(owner, op, task_id, args, timeout=2 * self.leases.ttl)
        except (Moved, TimeoutError):
            return None

    async def _handle(self, op: str, task_id: str, args: dict[str, Any]) -> Any:
        executor = self._executor
        assert executor is not None
        if not self.leases.holds(task_id):
            raise Moved(task_id)
        if op == "cancel":
            return int(await executor.cancel_here(task_id, str(args["reason"])))
        if op == "complete_callback":
            result = Payload.from_bytes(args["result"]) if args["result"] is not None else None
            failure = Failure.from_bytes(args["failure"]) if args["failure"] is not None else None
            status = await executor.complete_callback_here(
                task_id, str(args["callback_id"]), result, failure
            )
            return int(status)
        raise ValueError(f"unknown request {op!r}")
