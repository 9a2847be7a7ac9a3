"""Namespace names shared by every layer: the default, and the reserved task headers in which
the server records, at submit, the namespace (when not ``default``) and the principal (when
authentication is on) a task belongs to.

Clients cannot set these headers: the server drops any ``aworld-`` header a task arrives with
and writes its own, so the stored task says who really submitted it.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DEFAULT_NAMESPACE",
    "JOB_HEADER",
    "NAMESPACE_HEADER",
    "PRINCIPAL_HEADER",
    "RESERVED_PREFIX",
    "namespace_of",
]

DEFAULT_NAMESPACE = "default"
RESERVED_PREFIX = "aworld-"
# Also the gRPC metadata key in which a request names its namespace.
NAMESPACE_HEADER = "aworld-namespace"
PRINCIPAL_HEADER = "aworld-principal"
# gRPC metadata in which an engine job names itself (its id is its capability for its task).
JOB_HEADER = "aworld-job"


def namespace_of(headers: Mapping[str, str]) -> str:
    """The namespace recorded in a stored task's headers (tasks from before: ``default``)."""
    return headers.get(NAMESPACE_HEADER) or DEFAULT_NAMESPACE
