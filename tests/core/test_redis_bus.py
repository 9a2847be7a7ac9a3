"""What only the Redis bus promises, on a real redis-server with real consumer processes:
a consumer killed while holding entries loses none of them (another takes them over after
``claim_idle``, not before), and an entry that keeps killing its consumers is dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aworld_client import Message, MessageCategory
from aworld_server.events.redis_bus import RedisEventBus
from process_harness import WorkerProcess, assert_eventually
from redis_harness import RedisServer, unique_prefix

CONSUMER = Path(__file__).with_name("redis_bus_consumer.py")
IDLE = timedelta(milliseconds=600)


def _msg(n: int, task: str = "t") -> Message:
    return Message(id=str(n), task_id=task, category=MessageCategory.AGENT)


@pytest.fixture
async def bus(redis_server: RedisServer) -> AsyncIterator[RedisEventBus]:
    bus = RedisEventBus(
        aioredis.Redis.from_url(redis_server.url),
        prefix=unique_prefix("redis-bus"),
        claim_idle=IDLE,
        max_deliveries=2,
    )
    yield bus
    await bus.aclose()


async def _consumer(redis_server: RedisServer, bus: RedisEventBus, count: int) -> WorkerProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CONSUMER),
        redis_server.url,
        bus.prefix,
        "t",
        str(count),
        str(int(IDLE.total_seconds() * 1000)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return WorkerProcess(process)


async def test_entries_held_by_a_killed_consumer_are_taken_over_and_none_is_lost(
    redis_server: RedisServer, bus: RedisEventBus
) -> None:
    for n in range(10):
        await bus.publish(_msg(n))
    other = await _consumer(redis_server, bus, 3)
    try:
        await other.expect("^holding$")
        assert [m.group(1) for m in other.matches(r"^took (\d+)$")] == ["0", "1", "2"]
        # Alive, it keeps what it holds: well past claim_idle nothing comes our way.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bus.consume("t"), 3 * IDLE.total_seconds())
    finally:
        await other.kill()  # SIGKILL, holding "2" in hand and 3..9 read ahead

    received = [(await asyncio.wait_for(bus.consume("t"), 10)).id for _ in range(8)]

    # The message it was handling when it died is delivered again (at least once); those it
    # had finished (0, 1) are not; nothing is lost and the order is kept.
    assert received == [str(n) for n in range(2, 10)]
    assert await bus.dead_letters() == []


async def test_an_entry_that_keeps_killing_its_consumers_is_dead_lettered(
    redis_server: RedisServer, bus: RedisEventBus
) -> None:
    await bus.publish(_msg(1))  # the poison message
    for delivery in range(2):  # max_deliveries = 2: two consumers die handling it
        other = await _consumer(redis_server, bus, 1)
        try:
            await other.expect("^took 1$", timeout=15)
        finally:
            await other.kill()
        del delivery

    # Taking it over once more would be its third delivery: it goes to the dead letters
    # instead, and the consumer goes on with the next message.
    consuming = asyncio.create_task(bus.consume("t"))
    await assert_eventually(lambda: _dead_letters(bus, 1), timeout=10)
    await bus.publish(_msg(2))
    assert (await asyncio.wait_for(consuming, 10)).id == "2"
    (dead,) = await bus.dead_letters()
    assert (dead.task_id, dead.message.id, dead.deliveries) == ("t", "1", 3)


async def _dead_letters(bus: RedisEventBus, count: int) -> bool:
    return len(await bus.dead_letters()) == count


async def test_closing_is_not_held_up_by_a_refresh_that_swallows_its_cancellation(
    bus: RedisEventBus,
) -> None:
    """redis-py can swallow a cancellation that lands inside a command; the refresh of held
    entries is one. Closing the bus then still returns, and the refresh loop ends (a test's
    teardown once hung here for 300 s)."""
    await bus.publish(_msg(1))
    assert (await bus.consume("t")).id == "1"  # held: the refresh loop runs
    refreshing = asyncio.Event()

    async def swallowing(*args: object, **kwargs: object) -> list[bytes]:
        refreshing.set()
        with contextlib.suppress(asyncio.CancelledError):  # as redis-py can
            await asyncio.Event().wait()
        return []

    bus._keep_alive = swallowing  # type: ignore[assignment]
    await asyncio.wait_for(refreshing.wait(), 10)
    keeper = bus._keeper
    async with asyncio.timeout(10):
        await bus.aclose()
    assert keeper is not None
    await assert_eventually(keeper.done, timeout=10)
