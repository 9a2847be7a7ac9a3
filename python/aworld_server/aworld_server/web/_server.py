"""The HTTP side of a server: ``/metrics``, the JSON API and the web console on one port.

aiohttp's web server, because it runs on the asyncio loop the gRPC server already uses (no
second server loop or thread, unlike uvicorn), streams responses for server-sent events, is
small and well kept, and the project already pins it. It binds where the gRPC port binds:
loopback unless credentials are configured, in which case every route but ``/healthz`` needs a
token (``/metrics`` the ``read`` scope).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from aworld_server.web._access import HttpAccess
from aworld_server.web._api import add_api_routes
from aworld_server.web._console import add_console_routes
from aworld_server.web._metrics import CONTENT_TYPE
from aworld_server.web._sources import Sources

__all__ = ["HttpServer", "start_http"]


@dataclass(frozen=True)
class HttpServer:
    """A listening HTTP side; :meth:`stop` closes it (open event streams end)."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


def build_app(sources: Sources, access: HttpAccess) -> web.Application:
    app = web.Application()

    async def metrics(request: web.Request) -> web.StreamResponse:
        access.require(request, "read")
        body = sources.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "SERVING" if sources.accepting() else "NOT_SERVING"})

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    add_api_routes(app, sources, access)
    add_console_routes(app, sources, access)
    return app


async def start_http(sources: Sources, access: HttpAccess, host: str, port: int) -> HttpServer:
    """Listen on ``host:port`` (0 picks a free port) and serve until stopped."""
    runner = web.AppRunner(build_app(sources, access), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=False)
    await site.start()
    bound: int = runner.addresses[0][1]  # the port picked when port is 0
    return HttpServer(runner, host, bound)
