"""One live session with one MCP server, started again after it is lost.

The MCP SDK's ``Client`` is an anyio context manager: it must be entered and left in the same
task, and a transport failure (an HTTP server gone mid-call) cancels that task's scope. So each
session has an *owner* task that enters the client, lists the tools, and waits until told to
stop; calls are made from the callers' own tasks and raced against the session being lost, so
no caller ever waits on a dead server.

"Lost" is learned from the transport itself: the read stream ending (a stdio server's stdout
closed — the process exited) or the owner's client failing (HTTP). A session found lost before
a call is replaced first (the subprocess started again), so that call never touched the dead
one; a call in flight when it is lost fails with ``ConnectionLost``.

This module imports the MCP SDK (slow to import); ``aworld_server.mcp.source`` imports it only
when a server is first connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
from collections.abc import AsyncIterator, Callable
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client import Transport
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client  # the SDK's client, its timeouts
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import CONNECTION_CLOSED, CallToolResult, Implementation, Tool

from aworld_server.config import McpServer
from aworld_server.mcp.errors import McpServerUnavailable

__all__ = ["ConnectionLost", "McpConnection"]

log = logging.getLogger(__name__)

# How long a cancelled call may take to tell the server (notifications/cancelled) before the
# caller moves on; the SDK bounds the write itself too.
_CANCEL_GRACE = 2.0
# tools/list pages read at most (a server whose cursor never ends cannot hang a start).
_MAX_TOOL_PAGES = 100
# How long a call that lost its HTTP connection waits for the session to say why (it tells a
# refused connection, where nothing was sent, from one broken mid-request).
_WHY_LOST = 1.0


class ConnectionLost(Exception):
    """The session ended while a call was in flight; the call may have run."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class McpConnection:
    """A server's current session; replaced (the process started again) once it is lost.

    ``on_session`` is called with the tools each new session lists, so the tool registry
    follows a server whose tools changed across a restart."""

    def __init__(self, server: McpServer) -> None:
        self.server = server
        self.starts = 0  # sessions opened so far (1 + restarts)
        self.on_session: Callable[[list[Tool]], None] | None = None
        self._session: _Session | None = None
        self._lock = asyncio.Lock()  # one start at a time; callers queue behind it
        self._closed = False

    async def tools(self) -> list[Tool]:
        """The tools of a live session, starting the server if needed."""
        return (await self._live()).tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call ``tool`` on a live session. Raises McpServerUnavailable (could not start; nothing
        was sent), ConnectionLost (lost mid-call) or the SDK's MCPError (a JSON-RPC error)."""
        session = await self._live()
        client = session.client
        assert client is not None
        # Own tasks so the call can be raced against the session ending; created here, they
        # carry this task's context, so the SDK's span is a child of the runtime's tool span.
        attempt = asyncio.ensure_future(client.call_tool(tool, arguments))
        lost = asyncio.ensure_future(session.lost.wait())
        try:
            await asyncio.wait({attempt, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not attempt.done():
                # Cancelled (the task, a timeout) or lost: the SDK sends notifications/cancelled
                # when the caller goes, so the server stops the work too.
                attempt.cancel()
                await asyncio.wait({attempt}, timeout=_CANCEL_GRACE)
            attempt.add_done_callback(_retrieve)
        error: BaseException | None = None
        if attempt.done() and not attempt.cancelled():
            error = attempt.exception()
            if error is None:
                return attempt.result()
            if not (isinstance(error, MCPError) and error.code == CONNECTION_CLOSED):
                raise error
            session.mark_lost("the connection closed")
        if await session.refused():
            # The server was gone before this call: the request never left, nothing ran.
            raise McpServerUnavailable(self.server.name, f"{self.server.target}: {session.reason}")
        raise ConnectionLost(session.reason) from error

    async def close(self) -> None:
        """Stop the server (a stdio process: stdin closed, then terminated, then killed)."""
        async with self._lock:
            self._closed = True
            session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _live(self) -> _Session:
        async with self._lock:
            if self._closed:
                raise McpServerUnavailable(
                    self.server.name, "the runtime is shutting down", non_retryable=True
                )
            current = self._session
            if current is not None and not current.lost.is_set():
                return current
            if current is not None:
                self._session = None
                log.warning(
                    "MCP server %r was lost (%s); starting it again",
                    self.server.name,
                    current.reason,
                )
                await current.close()
            session = await _Session.open(self.server)
            self._session = session
            self.starts += 1
            if self.on_session is not None:
                self.on_session(session.tools)
            return session


class _Session:
    """One connected client, owned by its own task."""

    def __init__(self, server: McpServer) -> None:
        self.server = server
        self.client: Client | None = None
        self.tools: list[Tool] = []
        self.lost = asyncio.Event()
        self.reason = ""
        self.error: BaseException | None = None  # what ended the session, if it failed
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, server: McpServer) -> _Session:
        """Start the server, initialise the session and list the tools, within
        ``startup_timeout``; raises McpServerUnavailable."""
        session = cls(server)
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        ready.add_done_callback(_retrieve)
        # A fresh context: the session outlives the call that happened to start it, so it must
        # not carry that call's span or task id.
        session._task = loop.create_task(
            session._own(ready), name=f"mcp:{server.name}", context=contextvars.Context()
        )
        try:
            async with asyncio.timeout(server.startup_timeout):
                await asyncio.shield(ready)
        except TimeoutError:
            await asyncio.shield(session.close())
            raise McpServerUnavailable(
                server.name,
                f"{server.target} did not complete the MCP handshake and list its tools within "
                f"startup_timeout ({server.startup_timeout:g}s)",
            ) from None
        except BaseException:
            await asyncio.shield(session.close())
            raise
        return session

    def mark_lost(self, reason: str) -> None:
        if not self.lost.is_set():
            self.reason = reason
            self.lost.set()

    async def refused(self) -> bool:
        """True when the session ended because its HTTP server refused the connection (or
        never accepted it): a request sent on it never reached the server. A stdio session's
        loss is known before a call (its stdout closes), so a loss during one is real."""
        if self.server.transport == "stdio" or self._task is None:
            return False
        await asyncio.wait({self._task}, timeout=_WHY_LOST)  # it ends once the transport fails
        return _refused(self.error)

    async def _own(self, ready: asyncio.Future[None]) -> None:
        try:
            transport = _watched(_transport(self.server), self.mark_lost)
            async with Client(transport, client_info=_client_info(), cache=None) as client:
                self.tools = await _list_tools(client)
                self.client = client
                ready.set_result(None)
                await self._stop.wait()
        except asyncio.CancelledError:
            ready.cancel()
            raise
        except McpServerUnavailable as error:
            _fail(ready, error)
        except Exception as error:
            self.error = error
            reason = _describe(error)
            if ready.done():
                log.warning("MCP server %r: connection ended: %s", self.server.name, reason)
            _fail(ready, McpServerUnavailable(self.server.name, f"{self.server.target}: {reason}"))
            # Says more than the "connection closed" a call in flight may have noted first.
            self.reason = reason
            self.lost.set()
        finally:
            self.client = None
            self.mark_lost("the session was closed")

    async def close(self) -> None:
        self._stop.set()
        task = self._task
        if task is None:
            return
        if self.client is None and not task.done():
            task.cancel()  # still starting: nothing to shut down gracefully
        # Shielded: a cancelled caller must not cut the SDK's shutdown of the process short.
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                raise  # the caller itself was cancelled; the shutdown goes on without it
        except Exception:  # the owner records its own errors
            pass


def _fail(ready: asyncio.Future[None], error: BaseException) -> None:
    if not ready.done():
        ready.set_exception(error)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a failure nobody waits for any more as seen (the loop would log it)."""
    if not future.cancelled():
        future.exception()


def _transport(server: McpServer) -> Transport:
    if server.command:
        missing = [name for name in server.env_from if name not in os.environ]
        if missing:
            raise McpServerUnavailable(
                server.name,
                f"env_from names variables this server's environment does not set: {missing}",
                non_retryable=True,
            )
        env = {**server.env, **{name: os.environ[name] for name in server.env_from}}
        params = StdioServerParameters(
            command=server.command, args=list(server.args), env=env or None, cwd=server.cwd or None
        )
        return stdio_client(params)
    return _http(server)


@contextlib.asynccontextmanager
async def _http(server: McpServer) -> AsyncIterator[Any]:
    # The SDK leaves a client it is given open; this one is ours to close.
    async with (
        create_mcp_http_client(headers=dict(server.headers) or None) as http,
        streamable_http_client(server.url, http_client=http) as streams,
    ):
        yield streams


@contextlib.asynccontextmanager
async def _watched(
    transport: Transport, lost: Callable[[str], None]
) -> AsyncIterator[tuple[Any, Any]]:
    async with transport as (read, write):
        yield _WatchedRead(read, lost), write


class _WatchedRead:
    """The transport's read stream, reporting its end: for stdio, the server process exited
    (or closed its stdout), which the SDK tells pending calls but not the idle session."""

    def __init__(self, inner: Any, lost: Callable[[str], None]) -> None:
        self._inner = inner
        self._lost = lost

    @property
    def last_context(self) -> contextvars.Context | None:
        # The SDK reads the sender's context from stream wrappers that carry it.
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        try:
            item: SessionMessage | Exception = await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._lost("the server closed the connection (its process exited?)")
            raise
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _WatchedRead:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _WatchedRead:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def _list_tools(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(_MAX_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _client_info() -> Implementation:
    try:
        ours = version("aworld-server")
    except PackageNotFoundError:  # running from a source tree
        ours = "0"
    return Implementation(name="aworld-runtime", version=ours)


def _refused(error: BaseException | None) -> bool:
    """Whether ``error`` (or one in its groups) is a failure to connect."""
    if error is None:
        return False
    if isinstance(error, BaseExceptionGroup):
        return any(_refused(e) for e in error.exceptions)
    return isinstance(error, httpx2.ConnectError | httpx2.ConnectTimeout)


def _describe(error: BaseException) -> str:
    """The root cause in one line: the first leaf of exception groups, with its type."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, FileNotFoundError):
        return "no such executable (file not found)"
    if isinstance(error, MCPError) and error.code == CONNECTION_CLOSED:
        return "the server closed the connection during the handshake (did it exit?)"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
