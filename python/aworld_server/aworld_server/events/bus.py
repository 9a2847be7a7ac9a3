"""The event bus: per-task message queues ordered by (priority, arrival), FIFO within a priority.

The bus is a small protocol so the in-memory implementation here and the Redis Streams one can
stand behind the same seam. Queues are bounded: ``publish`` waits while a task's queue is full
(back-pressure), so a fast producer slows down instead of losing messages.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from aworld_client import Message, MessageCategory

from aworld_server.errors import FailedPrecondition

__all__ = ["EventBus", "MemoryEventBus", "Subscription"]


class EventBus(Protocol):
    """Delivers a task's messages to its runner and to subscribers."""

    kind: ClassVar[str]  # "memory", "redis": what RunConfig.event_bus names

    async def publish(self, message: Message) -> None:
        """Queue a message for ``message.task_id``; waits while that queue is full."""

    async def consume(self, task_id: str) -> Message:
        """Take the task's next message: lowest priority first, FIFO among equals."""

    def subscribe(
        self,
        task_id: str,
        categories: Collection[MessageCategory] = (),
        topics: Collection[str] = (),
    ) -> Subscription:
        """Observe copies of the task's published messages (empty filters match all)."""

    def pending(self, task_id: str) -> int:
        """Messages queued for the task and not consumed yet."""

    async def close_task(self, task_id: str) -> None:
        """Drop the task's queue and end its subscriptions."""


@dataclass(eq=False)
class Subscription:
    """Copies of a task's messages that match the filters, until the task's queue is closed."""

    categories: frozenset[MessageCategory]
    topics: frozenset[str]
    _queue: asyncio.Queue[Message | None] = field(default_factory=asyncio.Queue)

    def matches(self, message: Message) -> bool:
        return (not self.categories or message.category in self.categories) and (
            not self.topics or message.topic in self.topics
        )

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while (message := await self._queue.get()) is not None:
            yield message


@dataclass(eq=False, slots=True)
class _TaskQueue:
    capacity: int
    heap: list[tuple[int, int, Message]] = field(default_factory=list)
    # Waiters are created only while someone waits: an idle queue costs no asyncio objects.
    getters: list[asyncio.Future[None]] = field(default_factory=list)
    putters: list[asyncio.Future[None]] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)

    @staticmethod
    async def wait(waiters: list[asyncio.Future[None]]) -> None:
        waiter = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in waiters:
                waiters.remove(waiter)

    @staticmethod
    def wake(waiters: list[asyncio.Future[None]]) -> None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        waiters.clear()


class MemoryEventBus:
    """In-process bus. ``capacity`` bounds each task's queue (default 10,000 messages)."""

    kind: ClassVar[str] = "memory"

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._queues: dict[str, _TaskQueue] = {}
        # One global arrival counter keeps equal priorities FIFO across the heap.
        self._arrival = itertools.count()

    def _queue(self, task_id: str) -> _TaskQueue:
        queue = self._queues.get(task_id)
        if queue is None:
            queue = self._queues[task_id] = _TaskQueue(self._capacity)
        return queue

    async def publish(self, message: Message) -> None:
        if not message.task_id:
            raise ValueError("message.task_id is required")
        queue = self._queue(message.task_id)
        while len(queue.heap) >= queue.capacity:
            await queue.wait(queue.putters)
            if self._queues.get(message.task_id) is not queue:
                raise FailedPrecondition(f"task {message.task_id} ended while publishing")
        heapq.heappush(queue.heap, (message.priority, next(self._arrival), message))
        queue.wake(queue.getters)
        for subscription in queue.subscriptions:
            if subscription.matches(message):
                subscription._queue.put_nowait(message)

    async def consume(self, task_id: str) -> Message:
        queue = self._queue(task_id)
        while not queue.heap:
            await queue.wait(queue.getters)
        _, _, message = heapq.heappop(queue.heap)
        queue.wake(queue.putters)
        return message

    def subscribe(
        self,
        task_id: str,
        categories: Collection[MessageCategory] = (),
        topics: Collection[str] = (),
    ) -> Subscription:
        subscription = Subscription(frozenset(categories), frozenset(topics))
        self._queue(task_id).subscriptions.append(subscription)
        return subscription

    def pending(self, task_id: str) -> int:
        queue = self._queues.get(task_id)
        return len(queue.heap) if queue else 0

    async def close_task(self, task_id: str) -> None:
        queue = self._queues.pop(task_id, None)
        if queue is None:
            return
        for subscription in queue.subscriptions:
            subscription._queue.put_nowait(None)
        queue.wake(queue.putters)  # blocked publishers wake up and see the queue is gone
        queue.wake(queue.getters)
