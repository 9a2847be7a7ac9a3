"""What only the Redis store promises, on real redis-servers: a Redis that lost its data is
refused loudly (at the next write, read or health check, and at the next open), one that kept
it (AOF) is used again; concurrent appends share script runs (group commit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aworld_client import Event, Message, MessageEmitted, Payload, Task, TaskStatus, TaskSubmitted
from aworld_server.errors import FailedPrecondition
from aworld_server.storage import RedisDataLost, RedisEventStore
from redis_harness import RedisServer, unique_prefix


def submitted(task_id: str) -> Event:
    return Event(task_id=task_id, seq=1, body=TaskSubmitted(task=Task(id=task_id, name="n")))


def message(task_id: str, seq: int) -> Event:
    msg = Message(id=f"{task_id}/{seq}", payload=Payload(text=str(seq)))
    return Event(task_id=task_id, seq=seq, body=MessageEmitted(message=msg))


@pytest.fixture
def redis_without_persistence(tmp_path: Path) -> RedisServer:
    server = RedisServer(tmp_path / "redis").start()
    yield server  # type: ignore[misc]
    server.stop()


async def test_a_redis_that_lost_its_data_is_refused_never_read_as_empty(
    redis_without_persistence: RedisServer, tmp_path: Path
) -> None:
    epoch_file = tmp_path / "data" / "redis-epoch.json"
    store = RedisEventStore.from_url(redis_without_persistence.url, epoch_file=epoch_file)
    await store.open()
    try:
        await store.append([submitted("t1"), message("t1", 2)])
        assert "appendonly no" in store.persistence

        redis_without_persistence.restart()  # no AOF, no RDB: it comes back empty

        with pytest.raises(RedisDataLost, match="lost its data"):
            await store.append([message("t1", 3)])
        with pytest.raises(RedisDataLost):  # reads too: no "task not found" from an empty Redis
            await store.get_task("t1")
        with pytest.raises(RedisDataLost):
            await store.check()
    finally:
        await store.close()

    # A restarted server remembers the epoch in its data dir and refuses to start on it.
    again = RedisEventStore.from_url(redis_without_persistence.url, epoch_file=epoch_file)
    with pytest.raises(RedisDataLost, match=str(epoch_file)):
        await again.open()
    await again.client.aclose()

    # An operator who accepts the loss deletes the file; the store starts over.
    epoch_file.unlink()
    fresh = RedisEventStore.from_url(redis_without_persistence.url, epoch_file=epoch_file)
    await fresh.open()
    try:
        assert await fresh.get_task("t1") is None
        await fresh.append([submitted("t1")])
    finally:
        await fresh.close()


async def test_a_redis_with_an_aof_keeps_everything_across_a_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    epoch_file = tmp_path / "redis-epoch.json"
    try:
        store = RedisEventStore.from_url(server.url, epoch_file=epoch_file)
        await store.open()
        try:
            assert store.persistence == "appendonly yes, appendfsync always"
            await store.append([submitted("t1"), message("t1", 2)], sync=True)
            server.restart()  # SIGKILL: only the AOF brings the data back
            await store.append([message("t1", 3)])  # the client reconnects
        finally:
            await store.close()

        reopened = RedisEventStore.from_url(server.url, epoch_file=epoch_file)
        await reopened.open()
        try:
            assert [e.seq for e in await reopened.read("t1")] == [1, 2, 3]
            record = await reopened.get_task("t1")
            assert record is not None and (record.status, record.last_seq) == (
                TaskStatus.PENDING,
                3,
            )
        finally:
            await reopened.close()
    finally:
        server.stop()


async def test_concurrent_appends_share_script_runs(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    store = RedisEventStore.from_url(
        redis_server.url, epoch_file=tmp_path / "epoch.json", prefix=unique_prefix("group")
    )
    await store.open()
    try:
        await store.append([submitted(f"t{i}") for i in range(0, 200, 10)])
        before = store.stats.commits, store.stats.events
        # Every tenth call repeats an existing event: those fail alone, inside shared runs.
        results = await asyncio.gather(
            *(
                store.append([message(f"t{i - i % 10}", 1 if i % 10 == 0 else i % 10 + 1)])
                for i in range(200)
            ),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, FailedPrecondition)]
        assert len(failed) == 20 and all(r is None or r in failed for r in results)
        commits, events = store.stats.commits - before[0], store.stats.events - before[1]
        assert events == 180 and commits < 20
        assert await store.last_seq("t0") == 10
    finally:
        await store.close()
