"""The job feed: the connection between the Spark engine and each running partition.

A Spark job here is one long-running partition (a *session*) on a warm Python worker, not one
batch: the partition connects back to the engine (a TCP port on the driver's host, port 0), says
hello with the feed's secret and its job group, and from then on the engine sends it jobs as
they are queued and cancels of single tasks, and the partition sends back each job's result the
moment that job ends. A partition ends when the engine tells it to (it has nothing left to run)
or when the connection is gone.

Frames: one kind byte, a 4-byte big-endian length, the body. Engine to partition: ``J`` a job
(``wire.encode_job`` bytes), ``C`` cancel (a task id), ``E`` end. Partition to engine: ``H``
hello (``SECRET GROUP``, ASCII), ``R`` a result (``wire.encode_result`` bytes). The secret keeps
other local processes out; a hello is read with a small size limit and compared as bytes, so a
hello of any bytes is refused without an error (the first refusal of a feed is logged).

The feed is plaintext TCP: jobs carry the task's engine credential (``TaskJob.token``) and the
hello the feed's secret. It binds loopback for local masters; on any other address it must be
allowed explicitly (the engine's ``allow_plaintext_feed``) and warns once, since anyone on that
network can read both.

A job the partition's host fails to run (it raised instead of returning a result: an unreadable
job, a tracing exporter that cannot start...) is answered with a failure result for that job,
so its task ends FAILED with the error and the session goes on with its other jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import struct
from collections.abc import Awaitable, Callable

from aworld_client import Failure
from aworld_server.engines import JobResult, encode_result

__all__ = [
    "JOB",
    "CANCEL",
    "END",
    "HELLO",
    "RESULT",
    "JobFeed",
    "Link",
    "read_frame",
    "frame",
    "is_loopback",
]

log = logging.getLogger("aworld_engine_spark")

JOB, CANCEL, END, HELLO, RESULT = b"J", b"C", b"E", b"H", b"R"
_HEADER = struct.Struct(">cI")
_MAX_HELLO = 1024
_MAX_FRAME = 1 << 30  # a job carries a whole task; anything near this is a broken peer


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def frame(kind: bytes, body: bytes = b"") -> bytes:
    return _HEADER.pack(kind, len(body)) + body


async def read_frame(reader: asyncio.StreamReader, limit: int = _MAX_FRAME) -> tuple[bytes, bytes]:
    """The next frame; ``IncompleteReadError`` at the end of the stream."""
    kind, size = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if size > limit:
        raise ValueError(f"job feed frame of {size} bytes (limit {limit})")
    return kind, await reader.readexactly(size)


class Link:
    """The engine's end of one partition's connection.

    Writes are not awaited: they are small next to what the engine already holds in memory,
    and the engine's bookkeeping stays synchronous (no job is in two states across an await).
    """

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.closed = asyncio.Event()  # set once the partition's side is fully read

    def send_job(self, payload: bytes) -> None:
        self._writer.write(frame(JOB, payload))

    def send_cancel(self, task_id: str) -> None:
        self._writer.write(frame(CANCEL, task_id.encode()))

    def send_end(self) -> None:
        self._writer.write(frame(END))

    def abort(self) -> None:
        self._writer.close()


class JobFeed:
    """Engine side: accepts partitions' connections and hands them to the engine.

    ``attach(group, link)`` is called on a valid hello and says whether the group is one of the
    engine's running sessions; ``on_result(group, body)`` is called for each result frame, in
    order, before ``link.closed`` is set."""

    def __init__(
        self,
        host: str,
        attach: Callable[[str, Link], bool],
        on_result: Callable[[str, bytes], None],
        *,
        allow_plaintext: bool = False,
    ) -> None:
        if not is_loopback(host) and not allow_plaintext:
            raise ValueError(
                f"the Spark job feed would listen on {host}, not loopback: it is plaintext TCP "
                "and carries each task's engine credential; set allow_plaintext_feed only on a "
                "trusted network"
            )
        self.host = host
        self.secret = secrets.token_hex(16)
        self._secret = self.secret.encode("ascii")
        self.address = ""
        self._refused_logged = False
        self._attach = attach
        self._on_result = on_result
        self._server: asyncio.Server | None = None
        self._links: set[Link] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        port = self._server.sockets[0].getsockname()[1]
        self.address = f"{self.host}:{port}"
        if not is_loopback(self.host):
            log.warning(
                "the Spark job feed listens on %s in plaintext: task engine credentials and the "
                "feed's secret cross the network unencrypted; run it on a trusted network only",
                self.address,
            )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for link in set(self._links):
                link.abort()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = Link(writer)
        try:
            try:
                kind, body = await read_frame(reader, _MAX_HELLO)
            except (asyncio.IncompleteReadError, ValueError, ConnectionError):
                return
            group = self._hello_group(kind, body)
            if group is None:
                self._refused()
                return
            if not self._attach(group, link):
                return
            self._links.add(link)
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while True:
                    kind, body = await read_frame(reader)
                    if kind == RESULT:
                        self._on_result(group, body)
        finally:
            self._links.discard(link)
            link.closed.set()
            writer.close()

    def _hello_group(self, kind: bytes, body: bytes) -> str | None:
        """The group a valid hello names; None for anything else (any bytes at all)."""
        secret, _, group = body.partition(b" ")
        # Bytes, not str: compare_digest raises on non-ASCII str, which any local peer can send.
        if kind != HELLO or not hmac.compare_digest(secret, self._secret):
            return None
        try:
            return group.decode("ascii")
        except UnicodeDecodeError:
            return None

    def _refused(self) -> None:
        # Once per feed: a peer that keeps knocking must not fill the log.
        if not self._refused_logged:
            self._refused_logged = True
            log.warning("the Spark job feed refused a connection without a valid hello")


async def follow_feed(
    address: str,
    secret: str,
    group: str,
    run: Callable[[bytes], Awaitable[bytes]],
    cancel: Callable[[str], Awaitable[None]],
) -> None:
    """Partition side: run each job the engine sends (concurrently) and send its result back as
    soon as it ends, until the engine says ``E``. A connection lost before that raises
    ``ConnectionError`` after cancelling the jobs still running (the engine counts them lost
    and runs them again per their retry policy, as for a killed worker)."""
    host, _, port = address.rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    running: set[asyncio.Task[None]] = set()
    unreadable: list[Exception] = []  # a job that failed and names no task to report it for

    async def one(payload: bytes) -> None:
        try:
            result = await run(payload)
        except Exception as error:  # run's own try did not cover it: answer for the job here
            failed = _failure_result(payload, error)
            if failed is None:
                # No task to report for: end the session so the engine counts its jobs lost.
                unreadable.append(error)
                writer.close()
                return
            result = failed
        writer.write(frame(RESULT, result))
        with contextlib.suppress(ConnectionError):  # the reading loop reports a lost feed
            await writer.drain()

    try:
        writer.write(frame(HELLO, f"{secret} {group}".encode("ascii")))
        await writer.drain()
        while True:
            try:
                kind, body = await read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                if unreadable:
                    raise ValueError("the Spark engine sent a job naming no task") from unreadable[
                        0
                    ]
                raise ConnectionError("the Spark engine's job feed closed") from error
            if kind == JOB:
                task = asyncio.create_task(one(body))
                running.add(task)
                task.add_done_callback(running.discard)
            elif kind == CANCEL:
                await cancel(body.decode())
            elif kind == END:
                break
        # The engine ends a session only when all its jobs reported; wait for stragglers anyway.
        await asyncio.gather(*running)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _failure_result(payload: bytes, error: Exception) -> bytes | None:
    """The failure result of a job that raised, as EngineHost reports its own runs' errors; None
    when the payload does not even name its task."""
    try:
        doc = json.loads(payload)
        task_id, job_id = str(doc["task_id"]), str(doc.get("job_id", ""))
    except Exception:
        return None
    log.warning("task %s: its Spark job failed outside the runner: %r", task_id, error)
    failure = Failure.from_exception(error, source="engine:spark")
    return encode_result(JobResult(task_id, job_id=job_id, failure=failure))
