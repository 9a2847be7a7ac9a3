"""``Sessions``: a session groups the tasks of one conversation and carries the session-level
state they share, plus hooks registered for every task of the session."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from aworld_client import Payload, Session, Task

from aworld_server.context import Context
from aworld_server.storage import EventStore

__all__ = ["Sessions"]

_NO_HOOKS: Mapping[str, list[str]] = {}


class Sessions:
    """Sessions in the store, with the latest of each kept in memory."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._cache: dict[str, Session] = {}
        # Hooks for every task of a session: {session id: {hook point: [hook names]}}.
        self.session_hooks: dict[str, dict[str, list[str]]] = {}

    def hooks(self, session_id: str) -> Mapping[str, list[str]]:
        return self.session_hooks.get(session_id, _NO_HOOKS)

    def cached(self, session_id: str) -> Session | None:
        """The session as this process last wrote or read it, without a store read."""
        return self._cache.get(session_id)

    async def load(self, session_id: str) -> Session | None:
        return self._cache.get(session_id) or await self._store.get_session(session_id)

    async def add_task(self, task: Task, *, new: bool = False) -> None:
        """Add the task to its session; ``new``: the session id was just generated."""
        session = self._cache.get(task.session_id)
        if session is None and not new:
            session = await self._store.get_session(task.session_id)
        now = datetime.now(UTC)
        if session is None:
            session = Session(id=task.session_id, user_id=task.user_id, created_at=now)
        session.updated_at = now
        session.task_ids.append(task.id)
        self._cache[session.id] = session
        await self._store.put_session(session)

    async def save(self, task: Task, context: Context) -> None:
        """Store the session-level state a task leaves behind."""
        if not context.session:
            return
        session = await self.load(task.session_id) or Session(
            id=task.session_id, user_id=task.user_id
        )
        session.state = Payload.of(context.session)
        session.updated_at = datetime.now(UTC)
        self._cache[session.id] = session
        await self._store.put_session(session)
