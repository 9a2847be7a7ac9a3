"""Replicas on one real Redis (issue #13): real server processes on free ports, killed, paused
and resumed by pid. A task runs on the replica that holds its lease; when that replica dies
another takes the task over from the log within about the lease TTL and the task ends with the
answer of a fault-free run; any replica serves any client; a paused owner that lost its lease
writes nothing after it wakes."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from aworld_client import AsyncClient, InputRequested, TaskStatus
from process_harness import assert_eventually
from redis_harness import RedisServer
from replica_harness import (
    WAIT,
    Cluster,
    approve_task,
    chain_answer,
    chain_task,
    final,
    log_problems,
    now,
    read_log,
)


async def asked(client: AsyncClient, task_id: str) -> str:
    """The callback id of the input the task asks for, once it asks."""
    async with asyncio.timeout(WAIT):
        async for event in client.events(task_id):
            if isinstance(event.body, InputRequested):
                return event.body.callback_id
    raise AssertionError(f"task {task_id} never asked for input")


async def test_sigkill_of_an_owner_moves_its_tasks_to_the_other_replicas(cluster: Cluster) -> None:
    replicas = await cluster.start(3)
    clients = [AsyncClient(r.address) for r in replicas]
    record = cluster.record
    try:
        names = [f"chain-{i}" for i in range(9)]
        ids: dict[str, str] = {}
        for i, name in enumerate(names):  # spread over the replicas
            ids[name] = await clients[i % 3].submit(chain_task(name, seed=i), request_id=name)
        # Every task has finished its first step and waits in its second, on its submitter.
        await assert_eventually(
            lambda: all(record.entries(n, 2, "start") for n in names), timeout=WAIT
        )
        for i, name in enumerate(names):
            assert cluster.owner_of(ids[name]) == cluster.replica_id(replicas[i % 3])
        # And one task of the victim parked, waiting for input.
        parked = await clients[0].submit(approve_task())
        callback_id = await asked(clients[0], parked)
        victim, victim_pid = replicas[0], replicas[0].pid
        moved = names[0::3]

        killed_at = now()
        await victim.kill()

        def taken_over() -> bool:
            return all(
                any(pid != victim_pid for pid, _ in record.entries(n, 2, "start")) for n in moved
            )

        await assert_eventually(taken_over, timeout=WAIT)
        delays = [
            min(at for pid, at in record.entries(n, 2, "start") if pid != victim_pid) - killed_at
            for n in moved
        ]
        assert max(delays) <= 2 * cluster.lease_ttl, delays
        survivors = {cluster.replica_id(r) for r in replicas[1:]}
        assert {cluster.owner_of(ids[n]) for n in moved} <= survivors

        # Its input, given to another replica, reaches whichever took the task over.
        assert await clients[2].provide_input(parked, callback_id, "yes") == TaskStatus.RUNNING
        answered = await final(clients[1], parked)
        assert answered.answer is not None and answered.answer.value() == "got yes"
        assert log_problems(await read_log(clients[1], parked)) == []

        record.open_gate()
        reader = clients[1]  # any replica serves any task
        for i, name in enumerate(names):
            response = await final(reader, ids[name])
            assert response.status == TaskStatus.SUCCEEDED, (name, response)
            assert response.answer is not None
            assert response.answer.value() == chain_answer(i), name
            # Finished steps were not run again; the interrupted one finished once.
            assert len(record.entries(name, 1, "done")) == 1, name
            assert len(record.entries(name, 2, "done")) == 1, name
            assert len(record.entries(name, 3, "done")) == 1, name
            assert log_problems(await read_log(reader, ids[name])) == [], name
        # Nothing duplicated: each request id still names its one task, on every replica.
        for client in clients[1:]:
            for i, name in enumerate(names):
                again = await client.submit(chain_task(name, seed=i), request_id=name)
                assert again == ids[name]
    finally:
        for client in clients:
            await client.close()


async def test_submit_on_one_replica_stream_on_another_answer_and_cancel_on_a_third(
    cluster: Cluster,
) -> None:
    a, b, c = await cluster.start(3)
    on_a, on_b, on_c = AsyncClient(a.address), AsyncClient(b.address), AsyncClient(c.address)
    try:
        # Input: asked on A, streamed live on B, answered on C.
        task_id = await on_a.submit(approve_task())
        streamed = []
        asked = asyncio.get_running_loop().create_future()

        async def follow() -> None:
            async for event in on_b.events(task_id):
                streamed.append(event)
                if isinstance(event.body, InputRequested) and not asked.done():
                    asked.set_result(event.body.callback_id)

        following = asyncio.create_task(follow())
        callback_id = await asyncio.wait_for(asked, WAIT)
        assert cluster.owner_of(task_id) == cluster.replica_id(a)
        assert await on_c.provide_input(task_id, callback_id, "yes") == TaskStatus.RUNNING
        await asyncio.wait_for(following, WAIT)
        response = streamed[-1].body.response  # type: ignore[union-attr]
        assert response.status == TaskStatus.SUCCEEDED
        assert response.answer.value() == "got yes"
        stored = await read_log(on_a, task_id)
        assert [e.seq for e in streamed] == [e.seq for e in stored]
        assert log_problems(stored) == []

        # Cancel: running on A, cancelled from C, seen from B.
        blocked = await on_a.submit(chain_task("blocked", seed=5))
        await assert_eventually(
            lambda: bool(cluster.record.entries("blocked", 2, "start")), timeout=WAIT
        )
        assert await on_c.cancel(blocked, reason="stop") == TaskStatus.CANCELLED
        assert (await on_b.get(blocked)).response.status == TaskStatus.CANCELLED
        assert cluster.record.entries("blocked", 2, "done") == []

        # The same request id on two replicas at once: one task.
        first, second = await asyncio.gather(
            on_a.submit(chain_task("twice", seed=1), request_id="twice"),
            on_b.submit(chain_task("twice", seed=1), request_id="twice"),
        )
        assert first == second
        await on_c.cancel(first)
    finally:
        for client in (on_a, on_b, on_c):
            await client.close()


async def test_a_paused_owner_is_fenced_out_after_another_replica_took_its_task(
    cluster: Cluster,
) -> None:
    a, b = await cluster.start(2)
    on_a, on_b = AsyncClient(a.address), AsyncClient(b.address)
    record = cluster.record
    try:
        task_id = await on_a.submit(chain_task("paused", seed=3))
        await assert_eventually(lambda: bool(record.entries("paused", 2, "start")), timeout=WAIT)
        a.signal(signal.SIGSTOP)
        try:
            await assert_eventually(
                lambda: len(record.entries("paused", 2, "start")) == 2, timeout=WAIT
            )
            assert cluster.owner_of(task_id) == cluster.replica_id(b)
            record.open_gate()
            response = await final(on_b, task_id)
            assert response.answer is not None and response.answer.value() == chain_answer(3)
            before = await read_log(on_b, task_id)
        finally:
            a.signal(signal.SIGCONT)
        # A wakes up with its run still in the step B re-ran: it finds the lease gone and
        # stops that run, and nothing it does reaches the log.
        await assert_eventually(
            lambda: f"lost the lease of task {task_id}" in a.text(), timeout=WAIT
        )
        after = await read_log(on_b, task_id)
        assert [e.to_bytes() for e in after] == [e.to_bytes() for e in before]
        assert log_problems(after) == []
        assert (await on_a.get(task_id)).response.status == TaskStatus.SUCCEEDED
    finally:
        await on_a.close()
        await on_b.close()


async def test_a_replica_cut_off_from_redis_for_a_lease_stops_its_runs_and_resumes_them(
    tmp_path: Path,
) -> None:
    redis_server = RedisServer(tmp_path / "redis").start()  # its own: the test pauses it
    cluster = Cluster(tmp_path / "cluster", redis_server)
    try:
        (replica,) = await cluster.start(1)
        async with AsyncClient(replica.address) as client:
            task_id = await client.submit(chain_task("cut", seed=4))
            record = cluster.record
            await assert_eventually(lambda: bool(record.entries("cut", 2, "start")), timeout=WAIT)
            redis_server.pause()
            try:
                await assert_eventually(
                    lambda: "could not renew task leases for a whole TTL" in replica.text(),
                    timeout=WAIT,
                )
            finally:
                redis_server.resume()
            # Back: the sweeper finds the task running nowhere and resumes it from its log.
            await assert_eventually(
                lambda: len(record.entries("cut", 2, "start")) == 2, timeout=WAIT
            )
            record.open_gate()
            response = await final(client, task_id)
            assert response.answer is not None and response.answer.value() == chain_answer(4)
            assert [len(record.entries("cut", n, "done")) for n in (1, 2, 3)] == [1, 1, 1]
            assert log_problems(await read_log(client, task_id)) == []
    finally:
        await cluster.close()
        redis_server.stop()


async def test_a_replica_that_stops_gracefully_hands_its_tasks_over_at_once(
    cluster: Cluster,
) -> None:
    cluster.lease_ttl = 20.0  # a takeover well before this shows the leases were let go
    a, b = await cluster.start(2)
    record = cluster.record
    async with AsyncClient(a.address) as on_a, AsyncClient(b.address) as on_b:
        ids = {n: await on_b.submit(chain_task(n, seed=i)) for i, n in enumerate(["g0", "g1"])}
        await assert_eventually(
            lambda: all(record.entries(n, 2, "start") for n in ids), timeout=WAIT
        )
        stopped_at = now()
        b.signal(signal.SIGTERM)
        await assert_eventually(
            lambda: all(len(record.entries(n, 2, "start")) >= 2 for n in ids),
            timeout=WAIT,
            message=f"not taken over:\n{a.text()}\n{b.text()}",
        )
        assert max(record.entries(n, 2, "start")[1][1] for n in ids) - stopped_at < 10.0
        assert {cluster.owner_of(t) for t in ids.values()} == {cluster.replica_id(a)}
        assert b.process is not None
        try:
            assert await asyncio.wait_for(b.process.wait(), WAIT) == 0, b.text()
        except TimeoutError:
            raise AssertionError(f"the stopped replica did not exit:\n{b.text()}") from None
        record.open_gate()
        for i, name in enumerate(ids):
            response = await final(on_a, ids[name])
            assert response.answer is not None and response.answer.value() == chain_answer(i)
            assert log_problems(await read_log(on_a, ids[name])) == []
