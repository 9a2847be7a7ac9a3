"""Who owns a handler name and a worker id.

The first principal to declare a handler name owns it, in the namespace it declared it from;
another principal declaring the same name is refused (PERMISSION_DENIED), so nobody can take
half of a tool's calls, and their inputs, by declaring it too. The owner's later workers must
declare the same input and output schema, or a new ``version`` (which then becomes the one
everyone sees). A worker id belongs to the principal that first connected with it; another
principal reusing it is refused instead of disconnecting the first.

Handler names are unique server-wide (the dispatcher routes by name): a name owned in one
namespace is invisible — NOT_FOUND — from every other. Ownership is kept in memory: after a
restart the first declaration claims the name again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from aworld_client import Failure, HandlerKind, HandlerSpec, Task
from aworld_client.worker_service import Hello

from aworld_server.api.principals import Caller
from aworld_server.dispatch import WorkerDispatcher
from aworld_server.dispatch.remote_handlers import RemoteHandlers
from aworld_server.errors import FailedPrecondition, PermissionDenied
from aworld_server.namespaces import DEFAULT_NAMESPACE, namespace_of
from aworld_server.retry import HandlerFailed

__all__ = ["HandlerOwners", "OwnedRemoteHandlers"]


@dataclass(slots=True)
class _Owner:
    namespace: str
    principal: str
    version: str
    schema: str


def _schema(spec: HandlerSpec) -> str:
    return hashlib.sha256(f"{spec.input_schema}\x1f{spec.output_schema}".encode()).hexdigest()


class HandlerOwners:
    """Owners of handler names and worker ids (see the module docstring)."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, HandlerKind], _Owner] = {}
        self._workers: dict[str, tuple[str, str]] = {}

    def admit(self, caller: Caller, hello: Hello) -> None:
        """Refuse a Hello that declares another principal's name or worker id, or changes a
        schema without a new version; otherwise record what it claims."""
        who = (caller.namespace, caller.principal.name)
        if hello.worker_id and self._workers.get(hello.worker_id, who) != who:
            raise PermissionDenied(f"worker_id {hello.worker_id!r} belongs to another principal")
        for spec in hello.handlers:
            owner = self._handlers.get((spec.name, spec.kind))
            if owner is None:
                continue
            if (owner.namespace, owner.principal) != who:
                raise PermissionDenied(f"handler name {spec.name!r} is owned by another principal")
            if owner.version == spec.version and owner.schema != _schema(spec):
                raise FailedPrecondition(
                    f"handler {spec.name!r} version {spec.version!r} is served with another "
                    "schema; declare the same schema or a new version"
                )
        for spec in hello.handlers:
            self._handlers[(spec.name, spec.kind)] = _Owner(*who, spec.version, _schema(spec))

    def bind_worker(self, caller: Caller, worker_id: str) -> None:
        self._workers.setdefault(worker_id, (caller.namespace, caller.principal.name))

    def visible(self, name: str, kind: HandlerKind, namespace: str) -> bool:
        """Whether a handler name may be used from ``namespace`` (unowned names: yes)."""
        owner = self._handlers.get((name, kind))
        return owner is None or owner.namespace == namespace

    def worker_visible(self, worker_id: str, namespace: str) -> bool:
        return self._workers.get(worker_id, (DEFAULT_NAMESPACE, ""))[0] == namespace


class OwnedRemoteHandlers(RemoteHandlers):
    """Remote handlers as a task sees them: only those of the task's own namespace."""

    def __init__(self, dispatcher: WorkerDispatcher, owners: HandlerOwners) -> None:
        super().__init__(dispatcher)
        self.owners = owners

    async def invoke(
        self,
        name: str,
        kind: HandlerKind,
        arguments: Any,
        *,
        task: Task | None,
        **options: Any,
    ) -> Any:
        namespace = namespace_of(task.headers) if task else DEFAULT_NAMESPACE
        if not self.owners.visible(name, kind, namespace):
            raise HandlerFailed(
                Failure(
                    type="HandlerNotFound",
                    non_retryable=True,
                    message=f"no handler named {name!r} is served in namespace {namespace!r}",
                )
            )
        # Everything else (call id, attempt, hook point, ...) as RemoteHandlers takes it.
        return await super().invoke(name, kind, arguments, task=task, **options)
