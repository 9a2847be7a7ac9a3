"""Event streams: replay from any seq, then live, with no gaps or duplicates."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aworld_client import Event, Task, TaskStatusChanged
from aworld_client.handlers import tool
from aworld_server import Runtime
from core_helpers import add_chain_script


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
    gate = asyncio.Event()

    @tool(name="add")
    async def gated_add(a: int, b: int) -> int:
        await gate.wait()
        return a + b

    runtime.registry.add_tool(gated_add)
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
