"""The A2A endpoint: every exposed swarm's agent card and JSON-RPC route, on a port of its own.

Routes, per swarm ``<name>`` of ``[a2a.agents.<name>]``:

- ``GET  /a2a/<name>/.well-known/agent-card.json`` — the card (public, like any A2A card; with
  authentication on it declares the bearer scheme). A client resolves it from the agent URL
  ``<base>/a2a/<name>``.
- ``POST /a2a/<name>`` — JSON-RPC: A2A 1.0 (``SendMessage``, ``SendStreamingMessage``,
  ``GetTask``, ``CancelTask``, ``SubscribeToTask``) and the 0.3 names (``message/send``,
  ``message/stream``, ``tasks/get``, ``tasks/cancel``, ``tasks/resubscribe``).

Why a port of its own rather than the aiohttp side (``web/``): the ``a2a-sdk`` server is ASGI
(Starlette routes), which aiohttp cannot host without a hand-written bridge. Hypercorn serves it
on the server's own asyncio loop through its embedding API (``serve`` with a shutdown trigger):
no second loop, no thread, and no signal handler of its own to fight ``aworld serve``'s.

Every JSON-RPC request passes :class:`_Gate` first, with the gRPC port's principals: no or a bad
token is HTTP 401, a method outside the caller's scopes (``submit`` for messages, ``read`` for
get and resubscribe, ``cancel``; anything else ``admin``) or a namespace it may not use is 403,
and a body over ``max_message_bytes`` is 413 — all before the SDK parses anything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from a2a.server.context import ServerCallContext
from a2a.server.routes import (
    DefaultServerCallContextBuilder,
    create_agent_card_routes,
    create_jsonrpc_routes,
)
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from aworld_client import Payload
from aworld_client import Task as OurTask
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aworld_server.a2a._handler import (
    CALLER_KEY,
    OUTPUT_MODES,
    ExposedSwarm,
    SwarmRequestHandler,
)
from aworld_server.api.authz import caller_of
from aworld_server.api.limits import check_task
from aworld_server.api.principals import LOCAL, Caller, PrincipalResolver
from aworld_server.config import A2AConfig, ExposedAgent, Limits
from aworld_server.errors import AWorldError, InvalidArgument, PermissionDenied, Unauthenticated

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

    from aworld_server.runtime import Runtime

__all__ = ["A2AServer", "build_swarms", "start_a2a"]

log = logging.getLogger(__name__)
# Hypercorn's own records: its errors, not its "Running on" line (the server logs the URLs).
_SERVER_LOG = logging.getLogger("aworld_server.a2a.http")
_SERVER_LOG.setLevel(logging.WARNING)

PREFIX = "/a2a"
# The scope each JSON-RPC method needs (A2A 1.0 and 0.3 names). Unknown methods need admin:
# a method added to the SDK is closed until someone decides its scope.
_SCOPES = {
    "SendMessage": "submit",
    "SendStreamingMessage": "submit",
    "message/send": "submit",
    "message/stream": "submit",
    "GetTask": "read",
    "SubscribeToTask": "read",
    "tasks/get": "read",
    "tasks/resubscribe": "read",
    "CancelTask": "cancel",
    "tasks/cancel": "cancel",
}
_DEFAULT_SKILL_TAGS = ["aworld", "swarm"]


@dataclass
class A2AServer:
    """A listening A2A endpoint; :meth:`stop` closes it (open streams end)."""

    host: str
    port: int
    base_url: str
    swarms: Mapping[str, ExposedSwarm]
    _stop: asyncio.Event
    _serving: asyncio.Task[None]

    def agent_url(self, name: str) -> str:
        """The URL a client resolves the card of swarm ``name`` from."""
        return f"{self.base_url}{PREFIX}/{name}"

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.shield(self._serving)


def _template(name: str, agent: ExposedAgent, runtime: Runtime, limits: Limits) -> OurTask:
    """The swarm's task template, checked now so a bad one stops the server from starting."""
    data: Any = agent.task
    if agent.task_file is not None:
        data = _read_task_file(agent.task_file)
    where = f"a2a.agents.{name}"
    if not isinstance(data, dict):
        raise ValueError(f"{where}: the task template must be an object (a Task)")
    for key in ("id", "input", "session_id", "sessionId"):
        if key in data:
            raise ValueError(f"{where}: the template sets {key!r}, which each request supplies")
    try:
        template = OurTask.from_dict(data)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    probe = OurTask.from_proto(template.to_proto())
    probe.input = Payload.from_text("probe")  # each request brings the real one
    try:
        check_task(probe, limits)
        runtime.executor.validate(probe)
    except InvalidArgument as error:
        raise ValueError(f"{where}: {error}") from None
    return template


def _read_task_file(path: Path) -> Any:
    from aworld_client._taskdata import parse_yaml

    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        return parse_yaml(text)
    return json.loads(text)


def _card(name: str, agent: ExposedAgent, url: str, secured: bool) -> AgentCard:
    skills = [
        AgentSkill(
            id=s.id,
            name=s.name,
            description=s.description or s.name,
            tags=s.tags or _DEFAULT_SKILL_TAGS,
            examples=s.examples,
        )
        for s in agent.skills
    ] or [
        AgentSkill(
            id=name,
            name=name,
            description=agent.description or f"The {name} swarm",
            tags=_DEFAULT_SKILL_TAGS,
        )
    ]
    card = AgentCard(
        name=name,
        description=agent.description or f"The {name} swarm on AWorld Runtime",
        version=agent.version,
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0"),
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="0.3"),
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=["text/plain", "application/json"],
        default_output_modes=list(OUTPUT_MODES),
        skills=skills,
    )
    if secured:
        card.security_schemes["bearer"].CopyFrom(
            SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="bearer",
                    description="The server's tokens, as on its gRPC port",
                )
            )
        )
        card.security_requirements.append(SecurityRequirement(schemes={"bearer": StringList()}))
    return card


def build_swarms(
    config: A2AConfig, runtime: Runtime, limits: Limits, base_url: str, *, secured: bool
) -> dict[str, ExposedSwarm]:
    """The exposed swarms of ``config``, each with its checked template and its card."""
    return {
        name: ExposedSwarm(
            name,
            _template(name, agent, runtime, limits),
            _card(name, agent, f"{base_url}{PREFIX}/{name}", secured),
        )
        for name, agent in config.agents.items()
    }


class _CallerContext(DefaultServerCallContextBuilder):
    """Hands the caller :class:`_Gate` authenticated to the request handler."""

    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        context.state[CALLER_KEY] = request.scope[CALLER_KEY]
        return context


class _Gate:
    """Authenticate, authorize and bound every JSON-RPC request (see the module docstring)."""

    def __init__(self, app: ASGIApp, resolver: PrincipalResolver, max_body: int) -> None:
        self._app = app
        self._resolver = resolver
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)  # cards (GET) are public; others 404/405
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            await _refuse(send, 413, "PAYLOAD_TOO_LARGE", f"over {self._max_body} bytes")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self._max_body:
                await _refuse(send, 413, "PAYLOAD_TOO_LARGE", f"over {self._max_body} bytes")
                return
            if not message.get("more_body", False):
                break
        try:
            scope[CALLER_KEY] = self._caller(headers, _method(bytes(body)))
        except Unauthenticated as error:
            log.warning("refused A2A request from %s: %s", _peer(scope), error)
            await _refuse(send, 401, "UNAUTHENTICATED", str(error), {"www-authenticate": "Bearer"})
            return
        except PermissionDenied as error:
            log.warning("refused A2A request from %s: %s", _peer(scope), error)
            await _refuse(send, 403, "PERMISSION_DENIED", str(error))
            return
        except AWorldError as error:  # a malformed namespace header
            await _refuse(send, 400, "INVALID_ARGUMENT", str(error))
            return
        await self._app(scope, _replay(bytes(body), receive), send)

    def _caller(self, headers: Headers, method: str | None) -> Caller:
        metadata = [(k.lower(), v) for k, v in headers.items()]
        if not self._resolver.enabled:
            return caller_of(LOCAL, metadata, authenticated=False)
        principal = self._resolver.resolve(metadata, [])
        # A body that is not JSON-RPC names no method: the SDK answers it with an error and
        # runs nothing, so authentication is all it needs.
        scope = _SCOPES.get(method, "admin") if method is not None else None
        if scope is not None and not principal.has(scope):
            raise PermissionDenied(f"this caller lacks the {scope!r} scope for {method}")
        return caller_of(principal, metadata, authenticated=True)


def _method(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    method = data.get("method") if isinstance(data, dict) else None
    return method if isinstance(method, str) else ""


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then waits as the original."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(
    send: Send, status: int, code: str, message: str, headers: Mapping[str, str] = {}
) -> None:
    response = JSONResponse({"code": code, "message": message}, status, headers=dict(headers))
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "?"


def build_app(
    swarms: Mapping[str, ExposedSwarm],
    runtime: Runtime,
    resolver: PrincipalResolver,
    *,
    limits: Limits,
    max_live_tasks: int,
    max_body: int,
    accepting: Callable[[], bool] = lambda: True,
) -> ASGIApp:
    routes = []
    for name, swarm in swarms.items():
        handler = SwarmRequestHandler(
            runtime, swarm, limits=limits, max_live_tasks=max_live_tasks, accepting=accepting
        )
        base = f"{PREFIX}/{name}"
        routes += create_agent_card_routes(
            swarm.card, card_url=f"{base}{AGENT_CARD_WELL_KNOWN_PATH}"
        )
        for path in (base, f"{base}/"):
            routes += create_jsonrpc_routes(
                handler,
                rpc_url=path,
                context_builder=_CallerContext(),
                enable_v0_3_compat=True,
            )
    return _Gate(Starlette(routes=routes), resolver, max_body)


async def start_a2a(
    config: A2AConfig,
    runtime: Runtime,
    resolver: PrincipalResolver,
    *,
    host: str,
    limits: Limits,
    max_live_tasks: int,
    max_body: int,
    accepting: Callable[[], bool] = lambda: True,
) -> A2AServer:
    """Check the exposed swarms, then listen on ``host:config.port`` (0 picks a free port)."""
    assert config.port is not None
    sock = _bind(host, config.port)  # bound here, so the port is known before serving
    port: int = sock.getsockname()[1]
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base_url = config.public_url.rstrip("/") or f"http://{local}:{port}"
    try:
        swarms = build_swarms(config, runtime, limits, base_url, secured=resolver.enabled)
        app = build_app(
            swarms,
            runtime,
            resolver,
            limits=limits,
            max_live_tasks=max_live_tasks,
            max_body=max_body,
            accepting=accepting,
        )
    except BaseException:
        sock.close()
        raise
    settings = HypercornConfig()
    settings.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the socket from here on
    settings.accesslog = None
    settings.errorlog = _SERVER_LOG
    settings.graceful_timeout = 1.0  # then open streams are cut, as the HTTP side's are
    stop = asyncio.Event()
    # Starlette's and Hypercorn's type hints spell the same ASGI callable differently.
    asgi = cast("ASGIFramework", app)
    serving = asyncio.create_task(serve(asgi, settings, shutdown_trigger=stop.wait))
    return A2AServer(host, port, base_url, swarms, stop, serving)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections queue from now; the server accepts them once it runs
    except BaseException:
        sock.close()
        raise
    return sock
