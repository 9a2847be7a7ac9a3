"""``WorkerRegistry``: the live workers, which handlers they serve, and who has capacity.

Handlers live in namespaces: a worker serves its handlers in the namespace it connected in,
and lookups name the namespace (two namespaces may each have their own ``search``)."""

from __future__ import annotations

import asyncio
import itertools

from aworld_client import HandlerInfo, HandlerKind, HandlerSpec, WorkerInfo

from aworld_server.dispatch._session import WorkerSession
from aworld_server.errors import NotFound
from aworld_server.namespaces import DEFAULT_NAMESPACE

__all__ = ["WorkerRegistry"]


class WorkerRegistry:
    """Live workers by id. Waiters block on :meth:`changed`, which fires whenever a worker
    joins or leaves or a slot frees, so nothing polls."""

    def __init__(self) -> None:
        self._sessions: dict[str, WorkerSession] = {}
        self._changed = asyncio.Event()
        self._assignments = itertools.count(1)

    def get(self, worker_id: str) -> WorkerSession | None:
        return self._sessions.get(worker_id)

    def add(self, session: WorkerSession) -> None:
        self._sessions[session.worker_id] = session
        self.notify()

    def remove(self, session: WorkerSession) -> None:
        """Forget ``session`` if it is still the registered one for its worker id."""
        if self._sessions.get(session.worker_id) is session:
            del self._sessions[session.worker_id]
            self.notify()

    def sessions(self) -> list[WorkerSession]:
        """Every live worker, of every namespace."""
        return list(self._sessions.values())

    def serving(
        self, name: str, kind: HandlerKind | None = None, namespace: str = DEFAULT_NAMESPACE
    ) -> list[WorkerSession]:
        return [
            s for s in self._sessions.values() if s.namespace == namespace and s.serves(name, kind)
        ]

    def spec(
        self, name: str, kind: HandlerKind, namespace: str = DEFAULT_NAMESPACE
    ) -> HandlerSpec | None:
        """The declaration of the most recently connected worker serving ``name``."""
        sessions = self.serving(name, kind, namespace)
        if not sessions:
            return None
        return max(sessions, key=lambda s: s.connected_at).specs[(name, kind)]

    def try_acquire(
        self, name: str, kind: HandlerKind, key: tuple[str, int], namespace: str = DEFAULT_NAMESPACE
    ) -> WorkerSession | None:
        """Take a slot on the least-loaded worker serving ``name`` (ties: least recently
        used), or return None when all are busy. Raises NotFound when none serves it."""
        sessions = self.serving(name, kind, namespace)
        if not sessions:
            raise NotFound(f"no connected worker serves {kind.name.lower()} {name!r}")
        free = [s for s in sessions if s.has_capacity]
        if not free:
            return None
        chosen = min(free, key=lambda s: (s.load, s.last_assigned))
        chosen.calls.add(key)
        chosen.last_assigned = next(self._assignments)
        return chosen

    def release(self, session: WorkerSession, key: tuple[str, int]) -> None:
        if key in session.calls:
            session.calls.discard(key)
            self.notify()

    def notify(self) -> None:
        """Wake everyone waiting in :meth:`changed`."""
        # Replacing the event (rather than set/clear) wakes exactly the current waiters and
        # lets later waiters block on a fresh one.
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        """Wait until the next :meth:`notify`."""
        await self._changed.wait()

    def handlers(self, namespace: str = DEFAULT_NAMESPACE) -> list[HandlerInfo]:
        counts: dict[tuple[str, HandlerKind], int] = {}
        for session in self._sessions.values():
            if session.namespace == namespace:
                for key in session.specs:
                    counts[key] = counts.get(key, 0) + 1
        return [
            HandlerInfo(spec=self.spec(name, kind, namespace), local=False, worker_count=count)
            for (name, kind), count in sorted(counts.items())
        ]

    def workers(
        self, handler_name: str = "", namespace: str = DEFAULT_NAMESPACE
    ) -> list[WorkerInfo]:
        sessions = (
            self.serving(handler_name, None, namespace)
            if handler_name
            else [s for s in self._sessions.values() if s.namespace == namespace]
        )
        return [s.info() for s in sorted(sessions, key=lambda s: s.worker_id)]
