"""The Spark engine's job feed over a real loopback connection, without Spark: the engine's
``JobFeed`` on one side, a partition's ``follow_feed`` on the other (both as the engine and a
Spark Python worker run them)."""

from __future__ import annotations

import asyncio
import json

import pytest
from aworld_engine_spark._feed import HELLO, JobFeed, Link, follow_feed, frame
from aworld_server.engine_worker import EngineHost
from aworld_server.engines import decode_result
from engine_harness import WAIT
from process_harness import assert_eventually

pytestmark = pytest.mark.timeout(60)


class _Engine:
    """The engine's side of the feed: one known session, its link and the results it got."""

    def __init__(self) -> None:
        self.links: dict[str, Link] = {}
        self.results: asyncio.Queue[bytes] = asyncio.Queue()
        self.feed = JobFeed("127.0.0.1", self.attach, self.on_result)

    def attach(self, group: str, link: Link) -> bool:
        if group != "session-1" or group in self.links:
            return False
        self.links[group] = link
        return True

    def on_result(self, group: str, body: bytes) -> None:
        self.results.put_nowait(body)


class _Jobs:
    """A partition's host: a job ``b"slow"`` holds until released or cancelled."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.cancelled: list[str] = []
        self.stopped = asyncio.Event()  # a held job was stopped without ending

    async def run(self, payload: bytes) -> bytes:
        if payload == b"slow":
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.stopped.set()
                raise
        return b"done " + payload

    async def cancel(self, task_id: str) -> None:
        self.cancelled.append(task_id)
        self.release.set()


async def test_each_result_comes_back_as_its_job_ends_and_end_stops_the_partition() -> None:
    engine, jobs = _Engine(), _Jobs()
    await engine.feed.start()
    try:
        partition = asyncio.create_task(
            follow_feed(engine.feed.address, engine.feed.secret, "session-1", jobs.run, jobs.cancel)
        )
        await assert_eventually(lambda: "session-1" in engine.links, timeout=WAIT)
        async with asyncio.timeout(WAIT):
            link = engine.links["session-1"]
            link.send_job(b"slow")
            link.send_job(b"quick")
            # The quick job's result arrives while its batch-mate still runs.
            assert await engine.results.get() == b"done quick"
            assert not partition.done()
            link.send_cancel("task-slow")  # reaches the partition's host
            assert await engine.results.get() == b"done slow"
            assert jobs.cancelled == ["task-slow"]
            link.send_end()
            await partition  # ends without error
            await link.closed.wait()
    finally:
        await engine.feed.close()


async def test_a_lost_feed_stops_the_partitions_jobs_and_fails_it() -> None:
    engine, jobs = _Engine(), _Jobs()
    await engine.feed.start()
    partition = asyncio.create_task(
        follow_feed(engine.feed.address, engine.feed.secret, "session-1", jobs.run, jobs.cancel)
    )
    await assert_eventually(lambda: "session-1" in engine.links, timeout=WAIT)
    async with asyncio.timeout(WAIT):
        engine.links["session-1"].send_job(b"slow")
        await engine.feed.close()  # the engine's side is gone
        with pytest.raises(ConnectionError):
            await partition
        await jobs.stopped.wait()  # the held job was stopped (nothing recorded), not ended
    assert engine.results.empty()


@pytest.mark.parametrize(
    "hello",
    [b"wrong-secret session-1", None, "unknown"],
    ids=["bad secret", "not a hello", "unknown session"],
)
async def test_a_connection_without_a_valid_hello_gets_nothing(hello: bytes | str | None) -> None:
    engine = _Engine()
    await engine.feed.start()
    try:
        host, _, port = engine.feed.address.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        if hello is None:
            writer.write(frame(b"R", b"a result before any hello"))
        elif isinstance(hello, str):
            writer.write(frame(HELLO, f"{engine.feed.secret} {hello}".encode()))
        else:
            writer.write(frame(HELLO, hello))
        await writer.drain()
        async with asyncio.timeout(WAIT):
            assert await reader.read() == b""  # closed by the engine, nothing sent
        writer.close()
        assert not engine.links and engine.results.empty()
    finally:
        await engine.feed.close()


def _address(feed: JobFeed) -> tuple[str, int]:
    host, _, port = feed.address.rpartition(":")
    return host, int(port)


async def test_a_hello_of_any_bytes_is_refused_quietly_and_the_feed_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    engine, jobs = _Engine(), _Jobs()
    await engine.feed.start()
    try:
        for hello in ["été session-1".encode(), b"\xff\xfe\x00 session-1"]:  # not ASCII
            reader, writer = await asyncio.open_connection(*_address(engine.feed))
            writer.write(frame(HELLO, hello))
            await writer.drain()
            async with asyncio.timeout(WAIT):
                assert await reader.read() == b""  # closed by the engine, nothing sent
            writer.close()
        # A partition with the right secret is still served.
        partition = asyncio.create_task(
            follow_feed(engine.feed.address, engine.feed.secret, "session-1", jobs.run, jobs.cancel)
        )
        await assert_eventually(lambda: "session-1" in engine.links, timeout=WAIT)
        async with asyncio.timeout(WAIT):
            engine.links["session-1"].send_job(b"quick")
            assert await engine.results.get() == b"done quick"
            engine.links["session-1"].send_end()
            await partition
    finally:
        await engine.feed.close()
        loop.set_exception_handler(None)
    assert unhandled == []  # no exception escaped the feed's connection handler
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].exc_info is None  # once, without a traceback


async def test_a_job_that_raises_before_the_runner_gets_a_failure_and_the_session_goes_on() -> None:
    """The real EngineHost: a job it cannot decode raises out of ``run`` (before its own try)."""
    engine, jobs, host = _Engine(), _Jobs(), EngineHost("spark")

    async def run(payload: bytes) -> bytes:
        return await (host.run(payload) if payload.startswith(b"{") else jobs.run(payload))

    await engine.feed.start()
    try:
        partition = asyncio.create_task(
            follow_feed(engine.feed.address, engine.feed.secret, "session-1", run, jobs.cancel)
        )
        await assert_eventually(lambda: "session-1" in engine.links, timeout=WAIT)
        link = engine.links["session-1"]
        async with asyncio.timeout(WAIT):
            link.send_job(json.dumps({"v": 99, "task_id": "task-7", "job_id": "job-7"}).encode())
            result = decode_result(await engine.results.get())
            assert (result.task_id, result.job_id, result.response) == ("task-7", "job-7", None)
            assert result.failure is not None
            assert result.failure.type == "ValueError"
            assert "unsupported job version 99" in result.failure.message
            assert result.failure.source == "engine:spark"
            link.send_job(b"quick")  # the same session runs the next job
            assert await engine.results.get() == b"done quick"
            link.send_end()
            await partition
    finally:
        await engine.feed.close()


async def test_a_job_naming_no_task_fails_the_session_so_its_jobs_count_as_lost() -> None:
    engine, jobs = _Engine(), _Jobs()

    async def run(payload: bytes) -> bytes:
        if payload == b"garbage":
            raise ValueError("not a job")
        return await jobs.run(payload)

    await engine.feed.start()
    try:
        partition = asyncio.create_task(
            follow_feed(engine.feed.address, engine.feed.secret, "session-1", run, jobs.cancel)
        )
        await assert_eventually(lambda: "session-1" in engine.links, timeout=WAIT)
        async with asyncio.timeout(WAIT):
            engine.links["session-1"].send_job(b"slow")
            engine.links["session-1"].send_job(b"garbage")
            with pytest.raises(ValueError, match="naming no task"):
                await partition  # its Spark job fails: the engine runs its jobs again per policy
            await jobs.stopped.wait()
        assert engine.results.empty()
    finally:
        await engine.feed.close()


async def test_a_feed_off_loopback_is_refused_unless_allowed_and_then_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = _Engine()
    with pytest.raises(ValueError, match="plaintext TCP"):
        JobFeed("0.0.0.0", engine.attach, engine.on_result)
    feed = JobFeed("0.0.0.0", engine.attach, engine.on_result, allow_plaintext=True)
    await feed.start()
    try:
        warnings = [
            r for r in caplog.records if r.levelname == "WARNING" and "plaintext" in r.getMessage()
        ]
        assert len(warnings) == 1 and feed.address in warnings[0].getMessage()
    finally:
        await feed.close()
    with caplog.at_level("WARNING"):
        caplog.clear()
        loopback = JobFeed("127.0.0.1", engine.attach, engine.on_result)
        await loopback.start()
        await loopback.close()
    assert not [r for r in caplog.records if "plaintext" in r.getMessage()]
