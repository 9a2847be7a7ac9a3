"""What the runtime guarantees when callers and processes fail (DESIGN §10), checked in
process: impatient submitters lose nothing and hurt nobody, a stored task always runs (picked up
by a resubmit or the sweeper after a SIGKILL), and streams replay from the store."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path
from typing import Any

import pytest
from aworld_client import Event, InputRequested, Payload, TaskStatus
from aworld_server import Runtime
from aworld_server.config import ServerConfig
from aworld_server.storage import TaskQuery
from core_helpers import add_chain_script
from durable_tools import durable_runtime, executions
from process_harness import WAIT, assert_eventually
from test_durability import _killed_mid_call, _requested, _runtime, _task


async def _all_tasks(runtime: Runtime) -> list[Any]:
    records, token = [], ""
    while True:
        page = await runtime.store.list_tasks(TaskQuery(page_size=500, page_token=token))
        records.extend(page.items)
        if not (token := page.next_page_token):
            return records


async def test_impatient_submitters_lose_nothing_and_stop_nobody(
    runtime: Runtime, make_task: Any
) -> None:
    """Hundreds of submits whose callers give up after 0-2 ms, among normal tasks: every task
    that was stored runs to the right answer, and one request id is one task."""
    normal = [await runtime.submit(make_task(add_chain_script(4))) for _ in range(5)]
    rng = random.Random(7)

    async def impatient(i: int) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                runtime.submit(make_task(add_chain_script(3)), request_id=f"r{i}"),
                timeout=rng.uniform(0, 0.002),
            )

    await asyncio.gather(*(impatient(i) for i in range(300)))
    async with asyncio.timeout(WAIT):
        for submitted in normal:
            response = await runtime.wait(submitted.task_id)
            assert (response.status, response.answer.value()) == (TaskStatus.SUCCEEDED, "total=3")
        stored = [
            r for r in await _all_tasks(runtime) if r.task_id not in {s.task_id for s in normal}
        ]
        for record in stored:
            response = await runtime.wait(record.task_id)
            assert (response.status, response.answer.value()) == (TaskStatus.SUCCEEDED, "total=2")
    # Retrying every request id gives back the stored task, never a second one.
    by_request = {}
    for i in range(300):
        again = await runtime.submit(make_task(add_chain_script(3)), request_id=f"r{i}")
        by_request[f"r{i}"] = again.task_id
    assert (
        len(await _all_tasks(runtime))
        == len(normal) + 300
        == len(normal) + len(set(by_request.values()))
    )


async def test_resubmit_runs_a_stored_task_that_runs_nowhere(tmp_path: Path) -> None:
    ledger = await _killed_mid_call(tmp_path, idempotent=True)
    runtime = durable_runtime(tmp_path, ledger, idempotent=True)
    await runtime.start(resume=False, sweep_interval=0)  # nothing picks it up by itself
    try:
        again = await runtime.submit(Any, request_id="durable")  # type: ignore[arg-type]
        assert not again.created
        response = await asyncio.wait_for(runtime.wait(again.task_id), WAIT)
        assert (response.status, response.answer.value()) == (TaskStatus.SUCCEEDED, "sum 5")
    finally:
        await runtime.close()
    assert executions(ledger) == ["note", "add", "add"]


async def test_the_sweeper_picks_up_a_stored_task_that_runs_nowhere(tmp_path: Path) -> None:
    ledger = await _killed_mid_call(tmp_path, idempotent=True)
    runtime = durable_runtime(tmp_path, ledger, idempotent=True)
    await runtime.start(resume=False, sweep_interval=0.05)
    try:
        record = await runtime.store.find_task_by_request_id("durable")
        assert record is not None
        response = await asyncio.wait_for(runtime.wait(record.task_id), WAIT)
        assert (response.status, response.answer.value()) == (TaskStatus.SUCCEEDED, "sum 5")
    finally:
        await runtime.close()


async def test_cancelling_a_stored_task_that_runs_nowhere_cancels_it(tmp_path: Path) -> None:
    ledger = await _killed_mid_call(tmp_path, idempotent=True)
    gate = asyncio.Event()  # the resumed ``add`` waits here, so the cancel finds it running
    runtime = durable_runtime(tmp_path, ledger, idempotent=True, before=gate.wait)
    await runtime.start(resume=False, sweep_interval=0)
    try:
        record = await runtime.store.find_task_by_request_id("durable")
        assert record is not None
        status = await asyncio.wait_for(runtime.cancel(record.task_id, "changed my mind"), WAIT)
        assert status == TaskStatus.CANCELLED
        assert (await runtime.get_task(record.task_id)).response.status == TaskStatus.CANCELLED
    finally:
        await runtime.close()


async def test_replay_of_a_parked_task_after_a_restart_comes_from_the_store(
    tmp_path: Path,
) -> None:
    async with _runtime(tmp_path) as first:
        submitted = await first.submit(_task())
        await _requested(first, submitted.task_id)
        await assert_eventually(lambda: first.live_tasks == 0, message="never parked")
    async with _runtime(tmp_path) as second:  # the task is parked: nothing of it in memory
        stored = await second.store.read(submitted.task_id)
        assert len(stored) > 10
        replayed: list[Event] = [e async for e in second.stream(submitted.task_id, follow=False)]
        assert (
            [e.seq for e in replayed] == [e.seq for e in stored] == list(range(1, len(stored) + 1))
        )
        from_middle = [e async for e in second.stream(submitted.task_id, 3, follow=False)]
        assert [e.seq for e in from_middle] == list(range(4, len(stored) + 1))


async def test_a_stream_opened_past_the_end_closes_when_the_task_ends(tmp_path: Path) -> None:
    async with _runtime(tmp_path) as runtime:
        submitted = await runtime.submit(_task())
        requested: InputRequested = await _requested(runtime, submitted.task_id)
        beyond = asyncio.ensure_future(_drain(runtime.stream(submitted.task_id, 10_000)))
        await runtime.complete_callback(submitted.task_id, requested.callback_id, Payload.of(1))
        assert await asyncio.wait_for(beyond, WAIT) == []  # closed, with nothing past its end
        await assert_eventually(lambda: runtime.live_tasks == 0)


async def _drain(stream: Any) -> list[Event]:
    return [e async for e in stream]


@pytest.mark.parametrize("text", ["1", "1.5", "PT1.5S"])
def test_durations_in_the_environment_may_be_plain_seconds(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWORLD_HEARTBEAT_INTERVAL", text)
    monkeypatch.setenv("AWORLD_SCHEDULE_TO_START_TIMEOUT", text)
    config = ServerConfig.load()
    seconds = 1.5 if "." in text else 1.0
    assert config.heartbeat_interval.total_seconds() == seconds
    assert config.schedule_to_start_timeout.total_seconds() == seconds
