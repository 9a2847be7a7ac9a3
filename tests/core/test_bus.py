"""The EventBus contract — ordering, back-pressure, subscriptions, clean-up — run against the
in-memory bus and the Redis Streams bus (on a real redis-server). What only the Redis bus
promises (dead consumers' entries taken over, dead letters) is in test_redis_bus.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from aworld_client import Message, MessageCategory
from aworld_server.errors import FailedPrecondition
from aworld_server.events import EventBus, MemoryEventBus
from aworld_server.events.redis_bus import RedisEventBus
from process_harness import assert_eventually
from redis_harness import RedisServer, unique_prefix

MakeBus = Callable[..., EventBus]


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[MakeBus]:
    """Buses of the parametrised kind (``capacity`` as given); Redis ones closed afterwards."""
    made: list[RedisEventBus] = []

    def make(capacity: int = 10_000) -> EventBus:
        if request.param == "memory":
            return MemoryEventBus(capacity)
        server: RedisServer = request.getfixturevalue("redis_server")
        client = aioredis.Redis.from_url(server.url)
        bus = RedisEventBus(client, prefix=unique_prefix("bus"), capacity=capacity)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.aclose()


def _msg(n: int, priority: int = 0, task: str = "t", topic: str = "") -> Message:
    return Message(
        id=str(n), task_id=task, priority=priority, topic=topic, category=MessageCategory.AGENT
    )


async def test_equal_priorities_are_fifo_and_lower_priority_goes_first(make_bus: MakeBus) -> None:
    bus = make_bus()
    for n in range(50):
        await bus.publish(_msg(n, priority=1))
    await bus.publish(_msg(100, priority=0))
    await bus.publish(_msg(101, priority=5))

    order = [int((await bus.consume("t")).id) for _ in range(52)]

    assert order == [100, *range(50), 101]


async def test_full_queue_applies_back_pressure_and_loses_nothing(make_bus: MakeBus) -> None:
    bus = make_bus(capacity=4)
    produced = 0

    async def producer() -> None:
        nonlocal produced
        for n in range(40):
            await bus.publish(_msg(n))
            produced += 1

    task = asyncio.create_task(producer())
    await asyncio.wait_for(_until(lambda: bus.pending("t") == 4), 5)
    # The producer is blocked at the bound: it has produced exactly capacity messages.
    assert produced == 4 and not task.done()

    received = [int((await bus.consume("t")).id) for _ in range(40)]
    await task
    assert received == list(range(40))
    assert bus.pending("t") == 0


async def _until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0)  # yield to the producer; bounded by wait_for's timeout


async def test_queues_are_per_task(make_bus: MakeBus) -> None:
    bus = make_bus()
    await bus.publish(_msg(1, task="a"))
    await bus.publish(_msg(2, task="b"))
    assert (await bus.consume("b")).id == "2"
    assert (await bus.consume("a")).id == "1"


async def test_subscriptions_filter_by_category_and_topic_and_end_with_the_task(
    make_bus: MakeBus,
) -> None:
    bus = make_bus()
    by_topic = bus.subscribe("t", topics={"__finished"})
    by_category = bus.subscribe("t", categories={MessageCategory.TOOL})
    await bus.publish(_msg(1, topic="__finished"))
    await bus.publish(Message(id="2", task_id="t", category=MessageCategory.TOOL))
    await bus.publish(_msg(3))
    await bus.close_task("t")

    assert [m.id async for m in by_topic] == ["1"]
    assert [m.id async for m in by_category] == ["2"]
    assert bus.pending("t") == 0


async def test_publisher_blocked_on_a_closed_task_gets_an_error(make_bus: MakeBus) -> None:
    bus = make_bus(capacity=1)
    await bus.publish(_msg(1))
    blocked = asyncio.create_task(bus.publish(_msg(2)))
    # The publisher is blocked once it waits for room (each bus keeps its waiters).
    held = bus._held if isinstance(bus, RedisEventBus) else bus._queues
    await assert_eventually(lambda: bool(held["t"].putters))
    await bus.close_task("t")
    with pytest.raises(FailedPrecondition):
        await blocked
