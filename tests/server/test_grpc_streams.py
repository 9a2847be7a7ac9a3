"""Event streams over gRPC: a stream cut mid-task and resumed from the last seq yields every
event exactly once, whether the client resumes by hand or by itself after a network cut."""

from __future__ import annotations

import asyncio

from aworld_client import AsyncClient, Event, TaskStatus, ToolCallStarted
from aworld_server.server import RunningServer
from server_harness import WAIT, Gates, TcpProxy, tool_task


async def _stored(server: RunningServer, task_id: str) -> list[Event]:
    await server.runtime.events.flush(task_id)
    return list(await server.runtime.store.read(task_id))


def _key(events: list[Event]) -> list[tuple[int, str]]:
    return [(e.seq, type(e.body).__name__) for e in events]


async def test_stream_cut_mid_task_resumes_from_the_last_seq_exactly_once(
    server: RunningServer, gates: Gates
) -> None:
    first = AsyncClient(server.address)
    task_id = await first.submit(tool_task("gate", {"key": "cut-1"}))
    seen: list[Event] = []
    stream = first.events(task_id)
    async with asyncio.timeout(WAIT):
        async for event in stream:
            seen.append(event)
            if isinstance(event.body, ToolCallStarted):
                break
    await gates.entered("cut-1")
    # Cut for real: the stream call is abandoned and the channel closed under it.
    await stream.aclose()
    await first.close()

    gates.open("cut-1")  # the task goes on (and ends) while nobody is watching
    async with asyncio.timeout(WAIT):
        response = await server.runtime.wait(task_id)
    assert response.status == TaskStatus.SUCCEEDED

    async with AsyncClient(server.address) as second:
        async with asyncio.timeout(WAIT):
            resumed = [e async for e in second.events(task_id, after_seq=seen[-1].seq)]

    assert resumed and resumed[0].seq == seen[-1].seq + 1 and resumed[-1].is_terminal
    assert _key(seen + resumed) == _key(await _stored(server, task_id))


async def test_stream_resumed_while_the_task_still_runs_joins_the_live_tail(
    server: RunningServer, gates: Gates
) -> None:
    async with AsyncClient(server.address) as first:
        task_id = await first.submit(tool_task("gate", {"key": "cut-2"}))
        await gates.entered("cut-2")
        stream = first.events(task_id)
        seen = [await anext(stream) for _ in range(3)]
        await stream.aclose()

    async with AsyncClient(server.address) as second:
        resumed: list[Event] = []
        stream = second.events(task_id, after_seq=seen[-1].seq)
        async with asyncio.timeout(WAIT):
            # Catch up on what is stored, then release the task and follow it live.
            while len(seen) + len(resumed) < len(await _stored(server, task_id)):
                resumed.append(await anext(stream))
            gates.open("cut-2")
            resumed += [e async for e in stream]

    assert resumed[-1].is_terminal
    assert _key(seen + resumed) == _key(await _stored(server, task_id))


async def test_client_resumes_by_itself_after_the_connection_is_cut(
    server: RunningServer, gates: Gates
) -> None:
    host, _, port = server.address.rpartition(":")
    proxy = await TcpProxy(host, int(port)).start()
    try:
        async with AsyncClient(proxy.target) as client:
            received: list[Event] = []
            stream = client.run(tool_task("gate", {"key": "cut-3"}))
            async with asyncio.timeout(WAIT):
                async for event in stream:
                    received.append(event)
                    if isinstance(event.body, ToolCallStarted):
                        await gates.entered("cut-3")
                        assert proxy.cut() == 1  # the network drops mid-stream
                        gates.open("cut-3")
        task_id = received[0].task_id
    finally:
        await proxy.close()

    assert proxy.connections >= 2, "the client did not reconnect"
    assert received[-1].is_terminal
    assert _key(received) == _key(await _stored(server, task_id))
