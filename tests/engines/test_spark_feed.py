"""The Spark engine's job feed over a real loopback connection, without Spark: the engine's
``JobFeed`` on one side, a partition's ``follow_feed`` on the other (both as the engine and a
Spark Python worker run them)."""

from __future__ import annotations

import asyncio

import pytest
from aworld_engine_spark._feed import HELLO, JobFeed, Link, follow_feed, frame
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
