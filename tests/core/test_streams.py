"""Event streams: replay from any seq, then live, with no gaps or duplicates."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from aworld_client import Event, Task, TaskStatusChanged, ToolCallStarted
from aworld_client.handlers import tool
from aworld_server import Runtime
from aworld_server.events import EventManager, MemoryEventBus
from aworld_server.storage import EventStore
from core_helpers import add_chain_script


def _gated_add(runtime: Runtime) -> asyncio.Event:
    """Replace the runtime's ``add`` tool with one that waits until the returned event is set."""
    gate = asyncio.Event()

    @tool(name="add")
    async def gated_add(a: int, b: int) -> int:
        await gate.wait()
        return a + b

    runtime.registry.add_tool(gated_add)
    return gate


async def test_replay_from_a_seq_returns_exactly_the_later_events(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    response = await runtime.run(make_task(add_chain_script(4)))
    everything = [e async for e in runtime.stream(response.id, follow=False)]
    for k in (0, 1, 7, len(everything) - 1):
        later = [e async for e in runtime.stream(response.id, after_seq=k, follow=False)]
        assert [e.seq for e in later] == [e.seq for e in everything if e.seq > k]


async def test_live_stream_resumed_from_last_seq_sees_every_event_once(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    gate = _gated_add(runtime)
    submitted = await runtime.submit(make_task(add_chain_script(4)))

    first: list[Event] = []
    async for event in runtime.stream(submitted.task_id):
        first.append(event)
        if len(first) == 5:
            break  # the client disconnects mid-task
    gate.set()
    rest = [e async for e in runtime.stream(submitted.task_id, after_seq=first[-1].seq)]

    seqs = [e.seq for e in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    assert isinstance(rest[-1].body, TaskStatusChanged) and rest[-1].is_terminal
    stored = [e async for e in runtime.stream(submitted.task_id, follow=False)]
    assert [e.seq for e in stored] == seqs


async def test_streams_of_many_concurrent_readers_all_end_with_the_terminal_event(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    submitted = await runtime.submit(make_task(add_chain_script(6)))

    async def read() -> list[int]:
        return [e.seq async for e in runtime.stream(submitted.task_id)]

    results = await asyncio.gather(*(read() for _ in range(10)))
    assert all(r == results[0] for r in results)
    assert results[0] == list(range(1, len(results[0]) + 1))


async def test_a_stream_of_a_task_running_elsewhere_ends_with_its_terminal_event(
    runtime: Runtime, make_task: Callable[..., Task]
) -> None:
    """A replica's stream of a task that another process runs: when the task ends between
    the stream's read of the log and its look at the index, the stream still reads the end."""
    gate = _gated_add(runtime)
    submitted = await runtime.submit(make_task(add_chain_script(1)))
    seen: list[Event] = []
    async for event in runtime.stream(submitted.task_id):
        seen.append(event)
        if isinstance(event.body, ToolCallStarted):
            break  # the task waits in its tool

    class EndsBeforeTheIndexIsRead:
        """The real store, with the task let finish just before the reader's index lookup."""

        def __getattr__(self, name: str) -> Any:
            return getattr(runtime.store, name)

        async def get_task(self, task_id: str) -> Any:
            gate.set()
            await runtime.reader.follow_to_end(task_id)
            return await runtime.store.get_task(task_id)

    elsewhere = EventManager(cast(EventStore, EndsBeforeTheIndexIsRead()), MemoryEventBus())
    elsewhere.poll_interval = 0.05
    rest = [e async for e in elsewhere.stream(submitted.task_id, after_seq=seen[-1].seq)]

    assert rest and rest[-1].is_terminal
    everything = [e async for e in runtime.stream(submitted.task_id, follow=False)]
    assert [e.seq for e in seen + rest] == [e.seq for e in everything]
