"""Who may use the HTTP side: the same principals, tokens, scopes and namespaces as gRPC.

:class:`HttpAccess` answers one question — may this request use this scope, and in which
namespace? — from the ``Authorization: Bearer`` header or, for the browser console, the
``aworld_token`` cookie set by its login form, through the server's own
:class:`~aworld_server.api.principals.PrincipalResolver`, so a token means the same on both
ports. The namespace is the ``aworld-namespace`` header (or ``?namespace=``), ``default`` when
absent, and must be one the principal may use, as over gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from aworld_server.api.principals import LOCAL, Principal, PrincipalResolver
from aworld_server.errors import Unauthenticated
from aworld_server.namespaces import DEFAULT_NAMESPACE, NAMESPACE_HEADER

__all__ = ["CALLER", "COOKIE", "HttpAccess", "HttpCaller"]

COOKIE = "aworld_token"


@dataclass(frozen=True, slots=True)
class HttpCaller:
    """An authenticated caller and the namespace its request works in."""

    principal: Principal
    namespace: str = DEFAULT_NAMESPACE


# Where a request keeps the caller it was authorised as (a typed aiohttp request key).
CALLER: web.RequestKey[HttpCaller] = web.RequestKey("caller", HttpCaller)


class HttpAccess:
    """Authorizes HTTP requests with the gRPC port's resolver (not enabled: auth off)."""

    def __init__(self, resolver: PrincipalResolver) -> None:
        self._resolver = resolver

    @property
    def enabled(self) -> bool:
        return self._resolver.enabled

    def caller(self, request: web.Request) -> HttpCaller | None:
        """The request's caller, or None without valid credentials."""
        namespace = (
            request.headers.get(NAMESPACE_HEADER)
            or request.query.get("namespace")
            or DEFAULT_NAMESPACE
        )
        if not self._resolver.enabled:
            return HttpCaller(LOCAL, namespace)
        header = request.headers.get("Authorization", "")
        token = header.partition(" ")[2] if header.lower().startswith("bearer ") else ""
        principal = self.principal_of(token or request.cookies.get(COOKIE, ""))
        return None if principal is None else HttpCaller(principal, namespace)

    def principal_of(self, token: str) -> Principal | None:
        if not token:
            return None
        try:
            return self._resolver.resolve([("authorization", f"Bearer {token}")], [])
        except Unauthenticated:
            return None

    def require(self, request: web.Request, scope: str) -> HttpCaller:
        """The caller, or 401 (no valid token) / 403 (lacks ``scope`` or the namespace)."""
        caller = self.caller(request)
        if caller is None:
            raise web.HTTPUnauthorized(
                text='{"code": "UNAUTHENTICATED", "message": "missing or invalid bearer token"}',
                content_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not caller.principal.has(scope) or not caller.principal.may_use(caller.namespace):
            raise web.HTTPForbidden(
                text=f'{{"code": "PERMISSION_DENIED", "message": "not allowed: {scope!r} in '
                f'namespace {caller.namespace!r}"}}',
                content_type="application/json",
            )
        return caller
