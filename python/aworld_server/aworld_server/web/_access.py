"""Who may use the HTTP side: the same bearer tokens and scopes as gRPC, through one seam.

:class:`HttpAccess` answers one question — may this request use this scope? — from the
``Authorization: Bearer`` header or, for the browser console, the ``aworld_token`` cookie set
by its login form. It reads the same token table as ``BearerTokenInterceptor``, so a token
means the same on both ports; when principals and namespaces replace bare tokens, only this
module changes (a :class:`Caller` then also carries the namespaces it may see).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

__all__ = ["COOKIE", "Caller", "HttpAccess"]

COOKIE = "aworld_token"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller and what it may do."""

    scopes: frozenset[str]


class HttpAccess:
    """Authorizes HTTP requests against the gRPC token table (empty: auth off)."""

    def __init__(self, tokens: Mapping[str, Sequence[str]]) -> None:
        self._tokens = {token: frozenset(scopes) for token, scopes in tokens.items()}

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def caller(self, request: web.Request) -> Caller | None:
        """The request's caller, or None without a valid token (every scope when auth is off)."""
        if not self._tokens:
            return Caller(frozenset({"submit", "read", "register"}))
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            token = request.cookies.get(COOKIE, "")
        return self.caller_of(token)

    def caller_of(self, token: str) -> Caller | None:
        # Constant-time comparison, as on the gRPC port.
        for known, scopes in self._tokens.items():
            if token and hmac.compare_digest(known.encode(), token.encode()):
                return Caller(scopes)
        return None

    def require(self, request: web.Request, scope: str) -> Caller:
        """The caller, or 401 (no valid token) / 403 (the token lacks ``scope``)."""
        caller = self.caller(request)
        if caller is None:
            raise web.HTTPUnauthorized(
                text='{"code": "UNAUTHENTICATED", "message": "missing or invalid bearer token"}',
                content_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope not in caller.scopes:
            raise web.HTTPForbidden(
                text=f'{{"code": "PERMISSION_DENIED", "message": "the token lacks the '
                f'{scope!r} scope"}}',
                content_type="application/json",
            )
        return caller
