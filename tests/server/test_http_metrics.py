"""Prometheus metrics on the HTTP port: scraped before, during and after a real run whose
remote tool's worker is killed mid-call, so counters, histograms and gauges must all move."""

from __future__ import annotations

import asyncio

from aworld_client import AsyncClient, HandlerKind, TaskStatus
from aworld_server.server import RunningServer
from http_harness import scrape, value
from server_harness import WAIT, SpawnWorker, StartServer, assert_eventually, first_to_print
from server_harness import tool_task as one_tool_task


async def test_metrics_move_with_a_run_whose_worker_is_lost(
    start: StartServer, spawn_worker: SpawnWorker
) -> None:
    server: RunningServer = await start(http_port=0)
    assert server.http is not None
    url = server.http.url
    workers = [await spawn_worker(target=server.address) for _ in range(2)]
    async with asyncio.timeout(WAIT):
        await server.dispatcher.wait_for_handler("block", HandlerKind.TOOL, workers=2)
    before = await scrape(url)
    assert value(before, "aworld_handler_workers", handler="block", kind="tool") == 2

    async with AsyncClient(server.address) as client:
        task_id = await client.submit(one_tool_task("block", {"key": "m-1"}))
        first = await first_to_print(workers, r"^started m-1 1 ")
        during = await scrape(url)
        assert value(during, "aworld_tasks", status="running") == 1
        assert value(during, "aworld_handler_calls_in_flight", handler="block") == 1

        await first.kill()  # the call is reassigned to the other worker
        (other,) = [w for w in workers if w is not first]
        await other.expect(r"^started m-1 2 ")
        other.command("release m-1")
        async with asyncio.timeout(WAIT):
            last = [event async for event in client.events(task_id)][-1]
        assert getattr(last.body, "status", None) == TaskStatus.SUCCEEDED, last

    after = await scrape(url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("aworld_tasks_submitted_total") == 1
    assert moved("aworld_tasks_finished_total", status="succeeded") == 1
    assert moved("aworld_task_duration_seconds_count") == 1
    assert moved("aworld_task_duration_seconds_sum") > 0
    assert moved("aworld_agent_step_duration_seconds_count") == 2  # the call, then the answer
    assert moved("aworld_tool_call_duration_seconds_count", tool="block") == 2  # two attempts
    assert moved("aworld_retries_total", kind="tool") == 1
    assert moved("aworld_reassignments_total") == 1
    assert moved("aworld_store_commit_duration_seconds_count") > 0
    assert value(after, "aworld_tasks", status="running") == 0
    assert value(after, "aworld_handler_calls_in_flight", handler="block") == 0
    assert value(after, "aworld_bus_queue_depth") == 0

    async def one_worker_left() -> bool:
        now = await scrape(url)
        return value(now, "aworld_handler_workers", handler="block", kind="tool") == 1

    await assert_eventually(one_worker_left, message="the killed worker stayed counted")


async def test_metrics_off_without_the_http_port(server: RunningServer) -> None:
    assert server.http is None and server.metrics is None
