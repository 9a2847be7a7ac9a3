"""The in-memory event bus: ordering, back-pressure, subscriptions, clean-up."""

from __future__ import annotations

import asyncio

import pytest
from aworld_client import Message, MessageCategory
from aworld_server.errors import FailedPrecondition
from aworld_server.events import MemoryEventBus


def _msg(n: int, priority: int = 0, task: str = "t", topic: str = "") -> Message:
    return Message(
        id=str(n), task_id=task, priority=priority, topic=topic, category=MessageCategory.AGENT
    )


async def test_equal_priorities_are_fifo_and_lower_priority_goes_first() -> None:
    bus = MemoryEventBus()
    for n in range(50):
        await bus.publish(_msg(n, priority=1))
    await bus.publish(_msg(100, priority=0))
    await bus.publish(_msg(101, priority=5))

    order = [int((await bus.consume("t")).id) for _ in range(52)]

    assert order == [100, *range(50), 101]


async def test_full_queue_applies_back_pressure_and_loses_nothing() -> None:
    bus = MemoryEventBus(capacity=4)
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


async def test_queues_are_per_task() -> None:
    bus = MemoryEventBus()
    await bus.publish(_msg(1, task="a"))
    await bus.publish(_msg(2, task="b"))
    assert (await bus.consume("b")).id == "2"
    assert (await bus.consume("a")).id == "1"


async def test_subscriptions_filter_by_category_and_topic_and_end_with_the_task() -> None:
    bus = MemoryEventBus()
    by_topic = bus.subscribe("t", topics={"__finished"})
    by_category = bus.subscribe("t", categories={MessageCategory.TOOL})
    await bus.publish(_msg(1, topic="__finished"))
    await bus.publish(Message(id="2", task_id="t", category=MessageCategory.TOOL))
    await bus.publish(_msg(3))
    await bus.close_task("t")

    assert [m.id async for m in by_topic] == ["1"]
    assert [m.id async for m in by_category] == ["2"]
    assert bus.pending("t") == 0


async def test_publisher_blocked_on_a_closed_task_gets_an_error() -> None:
    bus = MemoryEventBus(capacity=1)
    await bus.publish(_msg(1))
    blocked = asyncio.create_task(bus.publish(_msg(2)))
    await asyncio.sleep(0)
    await bus.close_task("t")
    with pytest.raises(FailedPrecondition):
        await blocked
