"""Task leases and fencing on a real redis-server (two replicas' stores and leases in one
process): one owner at a time, a lease that expires is taken by the other with a larger token,
and from then on the store refuses the old owner's writes to that task — only to that task:
its other tasks in the same write are stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aworld_client import Event, Message, MessageEmitted, Payload, Task, TaskSubmitted
from aworld_server.errors import FailedPrecondition
from aworld_server.replicas.leases import Leases
from aworld_server.storage import PartialWrite, RedisEventStore
from process_harness import assert_eventually
from redis_harness import RedisServer, unique_prefix

TTL = 0.3


def submitted(task_id: str) -> Event:
    return Event(task_id=task_id, seq=1, body=TaskSubmitted(task=Task(id=task_id, name="n")))


def message(task_id: str, seq: int) -> Event:
    msg = Message(id=f"{task_id}/{seq}", payload=Payload(text=str(seq)))
    return Event(task_id=task_id, seq=seq, body=MessageEmitted(message=msg))


class Replica:
    def __init__(self, name: str, store: RedisEventStore, prefix: str) -> None:
        self.store = store
        self.leases = Leases(
            store.client, prefix=prefix, replica_id=name, ttl=TTL, held=store.fences
        )
        store.on_fenced = self.leases.lost
        self.lost: list[str] = []
        self.leases.on_lost = self.lost.append


@pytest.fixture
async def pair(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[tuple[Replica, Replica]]:
    prefix = unique_prefix("leases")
    stores = [
        RedisEventStore.from_url(
            redis_server.url, epoch_file=tmp_path / f"{name}.json", prefix=prefix
        )
        for name in ("a", "b")
    ]
    for store in stores:
        await store.open()
    try:
        yield Replica("a", stores[0], prefix), Replica("b", stores[1], prefix)
    finally:
        for store in stores:
            await store.close()


async def test_one_owner_at_a_time_and_a_stale_owner_is_fenced_out(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    assert await a.leases.acquire("t1")
    assert not await b.leases.acquire("t1")  # held: no second owner
    assert await b.leases.owner("t1") == "a"
    await a.store.append([submitted("t1"), message("t1", 2)])
    assert await b.leases.takeable_live() == []  # B's sweeps leave it to A
    assert await a.leases.takeable_live() == ["t1"]  # A's own (e.g. after a restart)

    # A stops renewing (paused): the lease expires and B takes it, with a larger token.
    await assert_eventually(lambda: b.leases.acquire("t1"), timeout=10)
    assert int(b.store.fences["t1"]) > int(a.store.fences["t1"])
    await b.store.append([message("t1", 3)])

    # A wakes up and writes on: refused, and A learns it lost the lease.
    with pytest.raises(FailedPrecondition, match="AWORLD_FENCED"):
        await a.store.append([message("t1", 4)])
    assert a.lost == ["t1"] and "t1" not in a.store.fences
    # Without a token (forgotten) it is refused too.
    with pytest.raises(FailedPrecondition, match="AWORLD_FENCED"):
        await a.store.append([message("t1", 4)])
    assert [e.seq for e in await b.store.read("t1")] == [1, 2, 3]
    await b.store.append([message("t1", 4)])


async def test_a_fenced_task_fails_alone_in_a_write_of_several_tasks(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    assert await a.leases.acquire("old") and await a.leases.acquire("mine")
    await a.store.append([submitted("old"), submitted("mine")])
    # B takes "old" over while A, paused, still believes it holds it.
    await b.store.client.delete(f"{b.leases.prefix}lease:old")
    assert await b.leases.acquire("old")

    with pytest.raises(PartialWrite) as caught:
        await a.store.append([message("old", 2), message("mine", 2)])
    assert set(caught.value.failed) == {"old"}
    assert [e.seq for e in await a.store.read("mine")] == [1, 2]
    assert [e.seq for e in await a.store.read("old")] == [1]


async def test_renewing_keeps_leases_and_reports_the_ones_taken_over(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    assert await a.leases.acquire("kept") and await a.leases.acquire("taken")
    await b.store.client.delete(f"{b.leases.prefix}lease:taken")  # its lease vanished
    assert await b.leases.acquire("taken")
    deadline = time.monotonic() + 3 * TTL
    while time.monotonic() < deadline:  # renewing over several TTLs keeps "kept"
        await a.leases.renew()
        assert not await b.leases.acquire("kept")
        await asyncio.sleep(TTL / 3)  # the renewal period
    assert a.lost == ["taken"]
    assert set(a.store.fences) == {"kept"}

    a.leases.keep = lambda task_id: False  # the task left this replica: released at once
    await a.leases.renew()
    assert await b.leases.owner("kept") is None
    assert await b.leases.acquire("kept")


async def test_a_lease_that_expired_while_nobody_took_it_is_renewed_not_lost(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    assert await a.leases.acquire("slow")
    await a.store.client.delete(f"{a.leases.prefix}lease:slow")  # expired: A was paused
    await a.leases.renew()
    assert a.lost == [] and a.leases.holds("slow")
    assert await b.leases.owner("slow") == "a"
    await a.store.append([submitted("slow")])  # its token is still the latest
