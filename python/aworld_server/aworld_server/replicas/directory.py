"""The cluster's workers: each replica publishes the workers connected to it, and reads what the
others published — to route a call to a replica whose worker serves its handler
(:mod:`.routing`), and to list every worker and handler of the cluster.

Keys (``{p}`` is the store's prefix):

* ``{p}replica:{id}:workers``: MessagePack of this replica's process instance and its workers
  (namespace, ``WorkerInfo`` and ``HandlerSpec`` bytes), expiring after the lease TTL unless
  published again — a dead replica's workers vanish by themselves within a TTL;
* ``{p}replicas``: the set of replica ids that published, to find the keys; an id whose key
  expired is removed by the next reader.

A replica publishes every TTL/3, and soon after one of its workers joins, leaves or takes or
frees a slot (at most every ``_MIN_GAP_S``: the load it publishes is a hint for the choice of
a replica, not an accounting). It reads the others' at the same pace into :attr:`view`, which
answers the synchronous questions (a handler's declaration); the routing reads afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack
import redis.asyncio as aioredis
from aworld_client import HandlerInfo, HandlerKind, HandlerSpec, WorkerInfo
from redis.exceptions import RedisError

from aworld_server.dispatch import WorkerDispatcher
from aworld_server.redis_client import stop_loop

__all__ = ["Directory", "Published", "PublishedWorker"]

log = logging.getLogger(__name__)

# At most this often a change of the workers is published (seconds).
_MIN_GAP_S: Final = 0.05


@dataclass(frozen=True, slots=True)
class PublishedWorker:
    namespace: str
    info: WorkerInfo
    specs: tuple[HandlerSpec, ...]

    def serves(self, name: str, kind: HandlerKind, namespace: str) -> bool:
        return self.namespace == namespace and any(
            s.name == name and s.kind == kind for s in self.specs
        )


@dataclass(frozen=True, slots=True)
class Published:
    """What one replica published: its process instance and its workers."""

    replica_id: str
    instance: str
    workers: tuple[PublishedWorker, ...] = field(default=())

    def load(self, name: str, kind: HandlerKind, namespace: str) -> tuple[int, int] | None:
        """(calls in flight, slots) of its workers serving the handler; None when none does."""
        serving = [w for w in self.workers if w.serves(name, kind, namespace)]
        if not serving:
            return None
        in_flight = sum(w.info.in_flight for w in serving)
        return in_flight, max(sum(w.info.max_concurrency for w in serving), 1)


class Directory:
    """This replica's publication and its view of the others' (see the module docstring)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        replica_id: str,
        dispatcher: WorkerDispatcher,
        ttl: float,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.replica_id = replica_id
        self.dispatcher = dispatcher
        self.ttl = ttl
        # This process: a replica restarted under the same id is another instance, whose
        # routed calls are not those of the one before.
        self.instance = uuid.uuid4().hex
        self.view: dict[str, Published] = {}  # the other replicas, as last read
        self._read_at = float("-inf")  # when (time.monotonic())
        # Every declaration read from another replica, kept after its worker left: a call to
        # it waits for a worker rather than failing as unknown (as the dispatcher's own).
        self._declared: dict[tuple[str, str, HandlerKind], HandlerSpec] = {}
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    def _key(self, replica_id: str) -> str:
        return f"{self.prefix}replica:{replica_id}:workers"

    @property
    def _index(self) -> str:
        return f"{self.prefix}replicas"

    # -- publishing ---------------------------------------------------------------------------
    def mine(self) -> Published:
        workers = tuple(
            PublishedWorker(s.namespace, s.info(), tuple(s.specs.values()))
            for s in self.dispatcher.connected()
        )
        return Published(self.replica_id, self.instance, workers)

    async def publish(self) -> None:
        body = {
            "instance": self.instance,
            "workers": [
                {
                    "ns": w.namespace,
                    "info": w.info.to_bytes(),
                    "specs": [s.to_bytes() for s in w.specs],
                }
                for w in self.mine().workers
            ],
        }
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(self._key(self.replica_id), msgpack.packb(body), px=int(self.ttl * 1000))
            pipe.sadd(self._index, self.replica_id)
            await pipe.execute()

    # -- reading ------------------------------------------------------------------------------
    async def read(self, max_age: float = 0.0) -> dict[str, Published]:
        """The other replicas' publications, read now — or the last read, when it is at most
        ``max_age`` seconds old (also kept in :attr:`view`)."""
        if max_age and time.monotonic() - self._read_at <= max_age:
            return self.view
        read_at = time.monotonic()
        ids = sorted(_text(i) for i in await self.client.smembers(self._index))
        others = [i for i in ids if i != self.replica_id]
        values = await self.client.mget([self._key(i) for i in others]) if others else []
        view: dict[str, Published] = {}
        gone = []
        for replica_id, raw in zip(others, values, strict=True):
            if raw is None:
                gone.append(replica_id)
                continue
            try:
                published = _parse(replica_id, raw)
            except Exception:  # one bad publication must not hide the others
                log.exception("ignored the malformed workers of replica %s", replica_id)
                continue
            view[replica_id] = published
            for worker in published.workers:
                for spec in worker.specs:
                    self._declared[(worker.namespace, spec.name, spec.kind)] = spec
        if gone:  # expired: their replicas stopped publishing (a live one adds itself again)
            await self.client.srem(self._index, *gone)
        self.view = view
        self._read_at = read_at
        return view

    def declared(self, name: str, kind: HandlerKind, namespace: str) -> HandlerSpec | None:
        """The latest declaration of a handler by a worker of another replica, as last read."""
        return self._declared.get((namespace, name, kind))

    def live(self, replica_id: str, instance: str = "") -> bool:
        """Whether the replica (that process instance, if given) published within a TTL, as
        last read."""
        published = self.view.get(replica_id)
        return published is not None and (not instance or published.instance == instance)

    # -- the whole cluster (ListWorkers, ListHandlers) ----------------------------------------
    async def workers(self, handler_name: str, namespace: str) -> list[WorkerInfo]:
        """Workers of every replica in ``namespace`` (serving ``handler_name`` if given), each
        with its replica's id."""
        try:
            others = list((await self.read()).values())
        except RedisError:
            log.warning("could not read the other replicas' workers", exc_info=True)
            others = []
        out = []
        for published in [self.mine(), *others]:
            for worker in published.workers:
                if worker.namespace != namespace:
                    continue
                if handler_name and handler_name not in worker.info.handler_names:
                    continue
                info = WorkerInfo.from_bytes(worker.info.to_bytes())  # a copy to complete
                info.replica_id = published.replica_id
                out.append(info)
        return sorted(out, key=lambda w: (w.replica_id, w.worker_id))

    async def handlers(self, namespace: str) -> list[HandlerInfo]:
        """Handlers served by the workers of every replica, one entry per (name, kind), with
        the count of workers serving it in the whole cluster and their replicas."""
        try:
            others = list((await self.read()).values())
        except RedisError:
            log.warning("could not read the other replicas' handlers", exc_info=True)
            others = []
        counts: dict[tuple[str, HandlerKind], int] = {}
        replicas: dict[tuple[str, HandlerKind], set[str]] = {}
        specs: dict[tuple[str, HandlerKind], HandlerSpec] = {}
        for published in [self.mine(), *others]:
            for worker in published.workers:
                if worker.namespace != namespace:
                    continue
                for spec in worker.specs:
                    key = (spec.name, spec.kind)
                    counts[key] = counts.get(key, 0) + 1
                    replicas.setdefault(key, set()).add(published.replica_id)
                    specs.setdefault(key, spec)
        return [
            HandlerInfo(
                spec=specs[key],
                local=False,
                worker_count=count,
                replica_ids=sorted(replicas[key]),
            )
            for key, count in sorted(counts.items())
        ]

    # -- the loop -----------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.create_task(self._every_beat(), name="replica:directory")

    async def stop(self) -> None:
        """Stop publishing and withdraw this replica's workers (they disconnect with it)."""
        self._stopping = True
        if self._loop is not None:
            await stop_loop(self._loop)
            self._loop = None
        with contextlib.suppress(RedisError, OSError):
            await self.client.delete(self._key(self.replica_id))

    async def _every_beat(self) -> None:
        beat = self.ttl / 3
        while not self._stopping:
            changed = asyncio.ensure_future(self.dispatcher.changed())
            started = time.monotonic()
            try:
                await self.publish()
                await self.read()
            except (RedisError, OSError):
                log.warning("publishing this replica's workers failed; trying again", exc_info=True)
            # The next publication: after a beat, or soon after the workers changed.
            await asyncio.wait([changed], timeout=beat)
            changed.cancel()
            await asyncio.sleep(max(_MIN_GAP_S - (time.monotonic() - started), 0))


def _parse(replica_id: str, raw: bytes | str) -> Published:
    body: Any = msgpack.unpackb(raw, raw=False)
    workers = tuple(
        PublishedWorker(
            str(w["ns"]),
            WorkerInfo.from_bytes(w["info"]),
            tuple(HandlerSpec.from_bytes(s) for s in w["specs"]),
        )
        for w in body["workers"]
    )
    return Published(replica_id, str(body["instance"]), workers)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
