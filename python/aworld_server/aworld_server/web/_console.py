"""The web console (placeholder until the pages land)."""

from __future__ import annotations

from aiohttp import web

from aworld_server.web._access import HttpAccess
from aworld_server.web._sources import Sources

__all__ = ["add_console_routes"]


def add_console_routes(app: web.Application, sources: Sources, access: HttpAccess) -> None:
    del app, sources, access
