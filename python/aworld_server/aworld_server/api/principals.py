"""Who is calling: credentials to principals (Temporal's ClaimMapper half of auth).

A bearer token or an mTLS certificate subject maps to a :class:`Principal` — a name, the
namespaces it may use and its scopes — configured in the server's TOML (``[principals.*]``);
legacy ``auth_tokens`` become principals in namespace ``default``. Engine jobs carry an
engine credential (:meth:`PrincipalResolver.mint_job_token`) that reaches only the tasks
handed to engine jobs: one token per namespace, so an engine worker keeps one connection per
namespace rather than one per task; its granted tasks are added as jobs are handed over and
removed as they end.

What a principal may do with a request is decided in ``api.authz``; this module only says who
it is. The caller of the running RPC is in a context variable (:func:`current_caller`), bound
by ``api.auth`` before the servicer runs.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from aworld_server.config import PrincipalConfig
from aworld_server.errors import Unauthenticated
from aworld_server.namespaces import DEFAULT_NAMESPACE, NAMESPACE_HEADER

__all__ = [
    "DEFAULT_NAMESPACE",
    "LOCAL",
    "NAMESPACE_HEADER",
    "SCOPES",
    "Caller",
    "Principal",
    "PrincipalResolver",
    "bind_caller",
    "current_caller",
]

SCOPES = ("submit", "read", "cancel", "register", "engine", "admin")
_LEGACY_SCOPES = {"submit": ("submit", "cancel"), "read": ("read",), "register": ("register",)}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated identity. ``task_ids`` set: an engine credential, limited to the tasks
    in it, each only for a caller that names the task's current job (``aworld-job``
    metadata): a live map of task id to job id, filled as jobs are handed over."""

    name: str
    namespaces: frozenset[str]
    scopes: frozenset[str]
    task_ids: Mapping[str, str] | None = None

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def may_use(self, namespace: str) -> bool:
        return namespace in self.namespaces or "*" in self.namespaces

    def may_touch_task(self, task_id: str, job_id: str = "") -> bool:
        if self.task_ids is None:
            return True
        granted = self.task_ids.get(task_id)
        return granted is not None and bool(job_id) and secrets.compare_digest(granted, job_id)


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of the running RPC and the namespace its request names.
    ``authenticated`` is False when the server has authentication off."""

    principal: Principal
    namespace: str = DEFAULT_NAMESPACE
    authenticated: bool = False
    job_id: str = ""  # an engine job's id (``aworld-job`` metadata); empty for everyone else


# With authentication off every caller is this one: every scope, namespace ``default`` only.
LOCAL = Principal("", frozenset({DEFAULT_NAMESPACE}), frozenset(SCOPES))
_LOCAL_CALLER = Caller(LOCAL)
_current: ContextVar[Caller | None] = ContextVar("aworld_caller", default=None)


def current_caller() -> Caller:
    """The caller of the RPC being served (the local caller outside an RPC)."""
    return _current.get() or _LOCAL_CALLER


def bind_caller(caller: Caller) -> None:
    """Make ``caller`` the current caller for the rest of this asyncio task."""
    _current.set(caller)


def _digest(token: str) -> bytes:
    # Tokens are kept and looked up by digest: a dict lookup on a hash of the secret does not
    # leak the secret's prefix through timing, and tokens never sit in memory in clear.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class PrincipalResolver:
    """Maps credentials to principals. ``enabled`` is False when nothing is configured."""

    def __init__(
        self,
        principals: Mapping[str, PrincipalConfig],
        legacy_tokens: Mapping[str, Sequence[str]] = {},
    ) -> None:
        self._tokens: dict[bytes, Principal] = {}
        self._subjects: dict[str, Principal] = {}
        # namespace -> (token, task id -> its current job id)
        self._job_tokens: dict[str, tuple[str, dict[str, str]]] = {}
        self.enabled = bool(principals or legacy_tokens)
        for name, spec in principals.items():
            unknown = set(spec.scopes) - set(SCOPES)
            if unknown:
                raise ValueError(
                    f"principal {name!r}: unknown scopes {sorted(unknown)}; known: {list(SCOPES)}"
                )
            principal = Principal(name, frozenset(spec.namespaces), frozenset(spec.scopes))
            for token in spec.tokens:
                self._add_token(token, principal)
            for subject in spec.certificate_subjects:
                self._subjects[subject] = principal
        for i, (token, scopes) in enumerate(legacy_tokens.items()):
            unknown = set(scopes) - set(SCOPES)
            if unknown:
                raise ValueError(f"unknown scopes {sorted(unknown)}; known: {list(SCOPES)}")
            granted = {g for s in scopes for g in _LEGACY_SCOPES.get(s, (s,))}
            self._add_token(
                token,
                Principal(f"token-{i + 1}", frozenset({DEFAULT_NAMESPACE}), frozenset(granted)),
            )

    def _add_token(self, token: str, principal: Principal) -> None:
        if not token:
            raise ValueError(f"principal {principal.name!r} has an empty token")
        if _digest(token) in self._tokens:
            raise ValueError(f"principal {principal.name!r} reuses another principal's token")
        self._tokens[_digest(token)] = principal

    def mint_job_token(self, task_id: str, namespace: str, job_id: str) -> str:
        """The engine credential for job ``job_id`` of ``task_id``: scopes engine and read,
        shared by the engine jobs of ``namespace``, and reaching a task only for a caller that
        names its current job — a secret handed to that job alone."""
        if namespace not in self._job_tokens:
            token, granted = secrets.token_urlsafe(32), dict[str, str]()
            self._tokens[_digest(token)] = Principal(
                f"engine:{namespace}",
                frozenset({namespace}),
                frozenset({"engine", "read"}),
                task_ids=granted,
            )
            self._job_tokens[namespace] = (token, granted)
        token, granted = self._job_tokens[namespace]
        granted[task_id] = job_id
        return token

    def revoke_job(self, task_id: str) -> None:
        """The job of ``task_id`` ended: engine credentials no longer reach that task."""
        for _, granted in self._job_tokens.values():
            granted.pop(task_id, None)

    def resolve(self, metadata: Sequence[tuple[str, object]], subjects: Sequence[str]) -> Principal:
        """The principal of a call; Unauthenticated when it has no valid credentials.

        Several ``authorization`` headers are refused outright: a proxy and the server could
        otherwise each read a different one."""
        values = [v for k, v in metadata if k == "authorization"]
        if len(values) > 1:
            raise Unauthenticated("more than one authorization header")
        if values:
            value = values[0]
            scheme, _, token = value.partition(" ") if isinstance(value, str) else ("", "", "")
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("malformed authorization header; expected 'Bearer <token>'")
            principal = self._tokens.get(_digest(token))
            if principal is None:
                raise Unauthenticated("invalid bearer token")
            return principal
        for subject in subjects:
            if subject in self._subjects:
                return self._subjects[subject]
        raise Unauthenticated("missing bearer token or known client certificate")
