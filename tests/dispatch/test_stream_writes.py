"""Writes on a worker's stream come from the callers' own steps (``StreamWriter``): callers
cancelled while their calls are still being written must not cut a write short, lose the
other calls' messages or end the stream."""

from __future__ import annotations

import asyncio
from typing import Any

from aworld_client import HandlerKind, Payload, RetryPolicy
from aworld_server.dispatch import AttemptStarted, DispatchEvent
from dispatch_harness import WAIT, Server, assert_eventually, run_call

TOOL = HandlerKind.TOOL
ONCE = RetryPolicy(maximum_attempts=1)
# A Call this large spans many HTTP/2 flow-control windows: its write stays in flight until
# the worker has read most of it, so the callers below are cancelled mid-write.
LARGE = "x" * 2_000_000


async def test_callers_cancelled_mid_write_leave_the_stream_serving_the_others(
    server: Server, spawn_worker: Any, events: list[DispatchEvent]
) -> None:
    await spawn_worker("--max-concurrency", "64")
    dispatcher = server.dispatcher
    async with asyncio.timeout(WAIT):
        await dispatcher.wait_for_handler("echo", TOOL)
    [session] = dispatcher.connected()

    def call(text: str) -> asyncio.Task[Any]:
        payload = Payload.of({"text": text})
        return asyncio.create_task(run_call(dispatcher, "echo", TOOL, payload, retry_policy=ONCE))

    large = [call(LARGE) for _ in range(8)]
    small = {i: call(f"small {i}") for i in range(16)}
    await assert_eventually(
        lambda: sum(isinstance(e, AttemptStarted) for e in events) == 24,
        message="every Call was handed to the stream",
    )
    assert session.writing  # megabytes are still on their way
    for task in large:
        task.cancel()

    async with asyncio.timeout(WAIT):
        answers = {i: await task for i, task in small.items()}
        cancelled = await asyncio.gather(*large, return_exceptions=True)
    assert {i: a.value()["text"] for i, a in answers.items()} == {i: f"small {i}" for i in small}
    assert all(isinstance(c, asyncio.CancelledError) for c in cancelled)

    # The same stream (no reconnect) still takes calls, large and small.
    async with asyncio.timeout(WAIT):
        again = await run_call(dispatcher, "echo", TOOL, Payload.of({"text": LARGE}))
    assert isinstance(again, Payload) and again.value()["text"] == LARGE
    assert dispatcher.connected() == [session] and not session.closed
