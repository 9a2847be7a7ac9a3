"""What a caller may do (Temporal's Authorizer half of auth): the scope each RPC needs, the
namespace a request names, and whether a task or session is visible to the caller.

Scopes, least privilege first: ``read`` (get, list, stream), ``submit`` (start tasks, answer
inputs and callbacks, invoke handlers), ``cancel``, ``register`` (serve handlers as a worker),
``engine`` (EngineService, for engine workers; their per-job credential reaches one task),
``admin`` (all of them). A method this table does not know needs ``admin``: new RPCs fail
closed until someone decides their scope.

Anything outside the caller's namespace is NOT_FOUND, exactly as if it did not exist, so a
caller cannot probe other tenants' ids.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aworld_client import Session

from aworld_server.api.principals import (
    DEFAULT_NAMESPACE,
    NAMESPACE_HEADER,
    Caller,
    Principal,
    current_caller,
)
from aworld_server.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from aworld_server.namespaces import JOB_HEADER
from aworld_server.runtime.reader import TaskReader
from aworld_server.storage import TaskRecord

__all__ = ["PUBLIC_PREFIXES", "caller_of", "required_scope", "visible_session", "visible_task"]

PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_SCOPES = {
    "RuntimeService": {
        "SubmitTask": "submit",
        "RunTask": "submit",
        "ProvideInput": "submit",
        "CompleteCallback": "submit",
        "InvokeHandler": "submit",
        "CancelTask": "cancel",
        "GetTask": "read",
        "ListTasks": "read",
        "StreamEvents": "read",
        "GetTaskState": "read",
        "GetTrajectory": "read",
        "ListHandlers": "read",
        "ListWorkers": "read",
        "GetSession": "read",
        "ListSessions": "read",
    },
    "WorkerService": {"Connect": "register"},
    "EngineService": {
        "OpenTask": "engine",
        "AppendEvents": "engine",
        "AppendEventStream": "engine",
        "CallHandler": "engine",
        "SaveSessionState": "engine",
    },
}
_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


def required_scope(method: str) -> str | None:
    """The scope a full method name (``/pkg.Service/Method``) needs; None for public ones."""
    if method.startswith(PUBLIC_PREFIXES):
        return None
    service, _, name = method.rpartition("/")
    return _SCOPES.get(service.rpartition(".")[2], {}).get(name, "admin")


def caller_of(
    principal: Principal, metadata: Sequence[tuple[str, object]], *, authenticated: bool
) -> Caller:
    """The caller a request speaks for: the principal and the namespace named in metadata."""
    names = [v for k, v in metadata if k == NAMESPACE_HEADER]
    namespace = names[0] if len(names) == 1 and isinstance(names[0], str) else ""
    if len(names) > 1 or (names and not _NAMESPACE.match(namespace)):
        raise InvalidArgument(
            "invalid namespace",
            [FieldViolation(NAMESPACE_HEADER, "one lowercase name of at most 64 characters")],
        )
    if not namespace:
        # A principal with exactly one namespace need not name it (engine jobs never do).
        only = next(iter(principal.namespaces)) if len(principal.namespaces) == 1 else "*"
        namespace = DEFAULT_NAMESPACE if only == "*" else only
    if not principal.may_use(namespace):
        raise PermissionDenied(f"namespace {namespace!r} is not one of this caller's")
    jobs = [v for k, v in metadata if k == JOB_HEADER]
    job_id = jobs[0] if len(jobs) == 1 and isinstance(jobs[0], str) else ""
    return Caller(principal, namespace, authenticated, job_id)


async def visible_task(reader: TaskReader, task_id: str, job_id: str | None = None) -> TaskRecord:
    """The task's record if the current caller may see it; NotFound otherwise. ``job_id``:
    the job an engine credential names for this task (default: the one in its metadata;
    a stream of many tasks' appends names it per append instead)."""
    caller = current_caller()
    record = await reader.record(task_id)
    if (
        record is None
        or record.namespace != caller.namespace
        or not caller.principal.may_touch_task(task_id, caller.job_id if job_id is None else job_id)
    ):
        raise NotFound(f"task {task_id}")
    return record


async def visible_session(reader: TaskReader, session_id: str) -> Session:
    """The session if it belongs to the caller's namespace (that of its first task)."""
    session = await reader.session(session_id)
    if session is None or not await session_in_namespace(reader, session):
        raise NotFound(f"session {session_id}")
    return session


async def session_in_namespace(reader: TaskReader, session: Session) -> bool:
    """True when the session's first task is in the current caller's namespace."""
    caller = current_caller()
    if not session.task_ids:
        return caller.namespace == DEFAULT_NAMESPACE
    record = await reader.record(session.task_ids[0])
    return record is not None and record.namespace == caller.namespace
