"""``WorkerRegistry``: the live workers, which handlers they serve, and who has capacity."""

from __future__ import annotations

import asyncio
import itertools

from aworld_client import HandlerInfo, HandlerKind, HandlerSpec, WorkerInfo

from aworld_server.dispatch._session import WorkerSession
from aworld_server.errors import NotFound

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

    def serving(self, name: str, kind: HandlerKind | None = None) -> list[WorkerSession]:
        return [s for s in self._sessions.values() if s.serves(name, kind)]

    def spec(self, name: str, kind: HandlerKind) -> HandlerSpec | None:
        """The declaration of the most recently connected worker serving ``name``."""
        sessions = self.serving(name, kind)
        if not sessions:
            return None
        return max(sessions, key=lambda s: s.connected_at).specs[(name, kind)]

    def try_acquire(
        self, name: str, kind: HandlerKind, key: tuple[str, int]
    ) -> WorkerSession | None:
        """Take a slot on the least-loaded worker serving ``name`` (ties: least recently
        used), or return None when all are busy. Raises NotFound when none serves it."""
        sessions = self.serving(name, kind)
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

    def handlers(self) -> list[HandlerInfo]:
        counts: dict[tuple[str, HandlerKind], int] = {}
        for session in self._sessions.values():
            for key in session.specs:
                counts[key] = counts.get(key, 0) + 1
        return [
            HandlerInfo(spec=self.spec(name, kind), local=False, worker_count=count)
            for (name, kind), count in sorted(counts.items())
        ]

    def workers(self, handler_name: str = "") -> list[WorkerInfo]:
        sessions = self.serving(handler_name) if handler_name else self._sessions.values()
        return [s.info() for s in sorted(sessions, key=lambda s: s.worker_id)]
