"""``HandlerCall``: one attempt of a call to a tool or hook by name, wherever it runs.

The runner builds it, the runtime's gateway decides where it runs (in-process or remote), and
a remote-handlers adapter (the dispatcher's, or an engine worker's) sends it — all reading the
same value instead of passing a dozen keyword arguments down three layers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aworld_client import HandlerKind, Task

from aworld_server.dispatch._types import OnStart
from aworld_server.namespaces import DEFAULT_NAMESPACE, namespace_of

__all__ = ["HandlerCall"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerCall:
    """One attempt of a call. ``task``: the task it is an attempt of (a cancel of the task
    cancels it); ``scope`` (default: ``task``): the task whose namespace and named handlers
    resolve ``name`` (hooks have a scope but are not the task's attempts). ``on_start`` is
    awaited just before the handler runs (remote: once a worker is chosen).
    ``require_idempotent``: an earlier attempt's outcome is unknown, so a non-idempotent handler
    fails with OutcomeUnknown instead of running. ``headers`` default to the task's."""

    name: str
    kind: HandlerKind
    arguments: Any
    call_id: str
    attempt: int = 1
    task: Task | None = None
    scope: Task | None = None
    hook_point: str = ""
    on_start: OnStart | None = None
    require_idempotent: bool = False
    namespace: str = ""
    headers: Mapping[str, str] | None = None
    timeout: timedelta | None = None
    idempotency_key: str = ""

    @property
    def owner(self) -> Task | None:
        """The task that names the handler: ``scope``, else ``task``."""
        return self.scope or self.task

    @property
    def in_namespace(self) -> str:
        """Whose handlers serve it: ``namespace``, else the owner task's, else the default."""
        if self.namespace:
            return self.namespace
        owner = self.owner
        return namespace_of(owner.headers) if owner is not None else DEFAULT_NAMESPACE

    @property
    def key(self) -> str:
        """The idempotency key: the same for every execution of this logical call."""
        if self.idempotency_key:
            return self.idempotency_key
        return f"{self.task.id}/{self.call_id}" if self.task is not None else self.call_id
