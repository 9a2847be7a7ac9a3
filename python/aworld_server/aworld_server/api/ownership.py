"""Who owns a handler name and a worker id.

Handler names live in namespaces. The first principal to declare a name in a namespace owns
it there; another principal declaring the same name in that namespace is refused
(PERMISSION_DENIED), so nobody can take half of a tool's calls, and their inputs, by declaring
it too. Another namespace may have its own handler of the same name: the dispatcher routes a
task's calls to the workers of the task's namespace only. The owner's later workers must
declare the same input and output schema, or a new ``version`` (which then becomes the one
everyone sees). A worker id belongs to the principal that first connected with it; another
principal reusing it is refused instead of disconnecting the first.

Ownership survives restarts when the server has a data directory (``owners.json``, 0600,
replaced atomically): otherwise, after a restart, whoever declared first would claim the name.
Replicas share it (:class:`SharedOwners`, on their Redis): a name or worker id claimed on one
replica is refused to another principal on every other, and of two principals claiming a new
name at once on two replicas exactly one gets it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from aworld_client import HandlerKind, HandlerSpec
from aworld_client.worker_service import Hello

from aworld_server.api.principals import Caller
from aworld_server.errors import FailedPrecondition, PermissionDenied

__all__ = ["HandlerKey", "HandlerOwners", "Owner", "SharedOwners"]

HandlerKey = tuple[str, str, HandlerKind]  # (namespace, name, kind)


@dataclass(slots=True)
class Owner:
    principal: str
    version: str
    schema: str


class SharedOwners(Protocol):
    """Ownership records every replica reads and writes (their Redis). ``claim_*`` record the
    claim unless another principal holds the key, atomically, and return who holds it now."""

    async def handlers(self, keys: list[HandlerKey]) -> dict[HandlerKey, Owner]: ...

    async def claim_handler(self, key: HandlerKey, owner: Owner) -> Owner: ...

    async def worker(self, worker_id: str) -> tuple[str, str] | None: ...

    async def claim_worker(self, worker_id: str, who: tuple[str, str]) -> tuple[str, str]: ...


def _schema(spec: HandlerSpec) -> str:
    return hashlib.sha256(f"{spec.input_schema}\x1f{spec.output_schema}".encode()).hexdigest()


class HandlerOwners:
    """Owners of handler names (per namespace) and worker ids; see the module docstring."""

    def __init__(self, path: Path | None = None, shared: SharedOwners | None = None) -> None:
        self._path = path
        self._shared = shared
        self._handlers: dict[tuple[str, str, HandlerKind], Owner] = {}
        self._workers: dict[str, tuple[str, str]] = {}
        self._assigned: set[str] = set()  # ids the server gave out: never written
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            for entry in saved.get("handlers", []):
                key = (entry["namespace"], entry["name"], HandlerKind(entry["kind"]))
                self._handlers[key] = Owner(entry["principal"], entry["version"], entry["schema"])
            self._workers = {w: (ns, p) for w, (ns, p) in saved.get("workers", {}).items()}

    async def admit(self, caller: Caller, hello: Hello) -> None:
        """Refuse a Hello that declares a name owned by another principal in the caller's
        namespace, or another principal's worker id, or a schema changed without a new
        version; otherwise record what it claims."""
        who = (caller.namespace, caller.principal.name)
        keys = [(caller.namespace, spec.name, spec.kind) for spec in hello.handlers]
        if self._shared is not None:  # what the other replicas recorded counts first
            self._handlers.update(await self._shared.handlers(keys))
            if hello.worker_id and (holder := await self._shared.worker(hello.worker_id)):
                self._workers[hello.worker_id] = holder
        if hello.worker_id and self._workers.get(hello.worker_id, who) != who:
            raise PermissionDenied(f"worker_id {hello.worker_id!r} belongs to another principal")
        for key, spec in zip(keys, hello.handlers, strict=True):
            owner = self._handlers.get(key)
            if owner is None:
                continue
            if owner.principal != caller.principal.name:
                raise PermissionDenied(f"handler name {spec.name!r} is owned by another principal")
            if owner.version == spec.version and owner.schema != _schema(spec):
                raise FailedPrecondition(
                    f"handler {spec.name!r} version {spec.version!r} is served with another "
                    "schema; declare the same schema or a new version"
                )
        changed = False
        for key, spec in zip(keys, hello.handlers, strict=True):
            owner = Owner(caller.principal.name, spec.version, _schema(spec))
            if self._handlers.get(key) == owner:
                continue
            if self._shared is not None:
                held = await self._shared.claim_handler(key, owner)
                if held.principal != owner.principal:  # another replica's claim came first
                    self._handlers[key] = held
                    raise PermissionDenied(
                        f"handler name {spec.name!r} is owned by another principal"
                    )
            self._handlers[key] = owner
            changed = True
        if changed:
            self._save()

    async def bind_worker(self, caller: Caller, worker_id: str, *, chosen: bool = True) -> None:
        """``worker_id`` is the caller's from now on. An id the worker ``chosen`` itself is
        saved (it may be claimed again after a restart, or on another replica); one the server
        assigned is random and only reused by its worker, so it is kept in memory — nothing is
        written per anonymous connection."""
        who = (caller.namespace, caller.principal.name)
        if worker_id in self._workers:
            if self._workers[worker_id] != who:
                raise PermissionDenied(f"worker_id {worker_id!r} belongs to another principal")
            return
        if chosen and self._shared is not None:
            held = await self._shared.claim_worker(worker_id, who)
            if held != who:  # claimed on another replica between admit and now
                self._workers[worker_id] = held
                raise PermissionDenied(f"worker_id {worker_id!r} belongs to another principal")
        self._workers[worker_id] = who
        if chosen:
            self._save()
        else:
            self._assigned.add(worker_id)

    def _save(self) -> None:
        if self._path is None:
            return
        saved = {
            "handlers": [
                {"namespace": ns, "name": name, "kind": int(kind), **asdict(owner)}
                for (ns, name, kind), owner in sorted(self._handlers.items())
            ],
            "workers": {w: o for w, o in self._workers.items() if w not in self._assigned},
        }
        partial = self._path.with_suffix(".tmp")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(saved, out)
        partial.replace(self._path)  # atomic: a crash leaves the old file or the new one
