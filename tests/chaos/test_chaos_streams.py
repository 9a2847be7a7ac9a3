"""Scenario 5 of issue #10: event streams cut by a server SIGKILL and resumed after the
restart.

* A task waiting on a callback (INPUT_REQUIRED: the remote tool ``approve`` answered Pending)
  has stored events; after SIGKILL + restart a replay-only StreamEvents from seq 0 returns all
  of them, the same as before the kill.
* A stream opened with ``after_seq`` beyond the end of that live task closes when it ends.
* Clients reading live streams of running tasks, cut by the kill, resume from their last seq:
  0 gaps, 0 duplicates, and what they read is exactly the stored log.

Ends with the END-STATE CHECK against the fault-free run.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from aworld_client import AgentSpec, AsyncClient, Payload, Swarm, Task, TaskStatus
from aworld_client.event import InputRequested
from chaos_harness import (
    FAST_RETRY,
    WAIT,
    Chaos,
    ChaosParams,
    Follower,
    KillRecord,
    Recorder,
    Reference,
    answer_of,
    assert_eventually,
    chaos_client,
    check_end_state,
    in_flight_at,
    make_chain_tasks,
    read_log,
    scripted,
    wait_terminal,
)


def approve_task(name: str) -> Task:
    script = [
        {"tool_calls": [{"name": "approve", "arguments": {"amount": 7}}]},
        {"content": "approved={last_tool_output}"},
    ]
    agent = AgentSpec(name="asker", tool_names=["approve"], model=scripted(script))
    return Task(
        name=name,
        input=Payload.from_text("ask"),
        swarm=Swarm(agents=[agent]),
        retry_policy=FAST_RETRY,
    )


async def _asked(client: AsyncClient, task_id: str) -> None:
    async def waiting() -> bool:
        return (await client.get(task_id)).response.status == TaskStatus.INPUT_REQUIRED

    await assert_eventually(waiting, timeout=WAIT, message=f"{task_id} never asked")


async def _reference_approval(reference: Reference) -> Any:
    async with chaos_client(reference.server.address) as client:
        task_id = await client.submit(approve_task("ref-approve"), request_id="ref-s5-approve")
        await _asked(client, task_id)
        await client.complete_callback(task_id, f"cb-{task_id}", "yes")
        response = (await wait_terminal(client, [task_id]))[task_id]
    assert response.status == TaskStatus.SUCCEEDED, response
    return answer_of(response)


def _same(a: list[Any], b: list[Any]) -> bool:
    return [e.to_proto() for e in a] == [e.to_proto() for e in b]


async def test_streams_replay_from_the_store_and_resume_across_a_kill(
    chaos: Chaos, reference: Reference
) -> None:
    rng = random.Random(505)
    chains, _ = make_chain_tasks(
        ChaosParams(tasks=6, calls=5, seed=5051, delay_ms=(150, 300), prefix="s5")
    )
    expected = await reference.answers(chains)
    expected["s5-approve"] = await _reference_approval(reference)
    server = chaos.new_server()
    await server.start()
    await chaos.add_worker(server)
    recorder = Recorder(chaos.record())

    async with chaos_client(server.address) as client:
        waiting_id = await client.submit(approve_task("s5-approve"), request_id="s5-approve")
        await _asked(client, waiting_id)
        accepted = {"s5-approve": waiting_id}
        accepted |= {rid: await client.submit(t, request_id=rid) for rid, t in chains.items()}
        followers = [Follower(client, task_id) for task_id in accepted.values()]
        stored_before = await read_log(client, waiting_id)
        assert any(isinstance(e.body, InputRequested) for e in stored_before), stored_before

        # Kill while the chains run (their streams are live) and the other task waits.
        await assert_eventually(lambda: recorder.count("done") >= 8, timeout=WAIT)
        await asyncio.sleep(rng.uniform(0, 0.2))  # the fault's random point
        await server.kill()
        killed = KillRecord(time.time(), in_flight_at(time.time(), [recorder], followers))
        await server.start()

        # Replay only, from seq 0: every stored event, the same as before the kill.
        stored_after = await read_log(client, waiting_id)
        assert _same(stored_after[: len(stored_before)], stored_before), (
            stored_before,
            stored_after,
        )
        assert (await client.get(waiting_id)).response.status == TaskStatus.INPUT_REQUIRED

        # A stream from beyond the end of the live task: nothing to send until the task ends,
        # and then it closes.
        beyond = stored_after[-1].seq + 50
        past_the_end = asyncio.create_task(_collect(client, waiting_id, beyond))
        await client.complete_callback(waiting_id, f"cb-{waiting_id}", "yes")
        async with asyncio.timeout(WAIT):
            extra = await past_the_end
        assert all(e.seq > beyond for e in extra), extra

        await check_end_state(
            client,
            server,
            accepted=accepted,
            expected=expected,
            recorders=[recorder],
            kills=[killed],
            followers=followers,
        )
        # Streams were live across the kill (events read before and after it) ...
        spanning = [f for f in followers if f.arrivals[0] < killed.at < f.arrivals[-1]]
        assert len(spanning) >= 2, [(f.arrivals[0], f.arrivals[-1]) for f in followers]
        # ... and every one, resumed from its last seq, read exactly the stored log.
        for follower in followers:
            await follower.task
            assert _same(follower.events, await read_log(client, follower.task_id)), (
                follower.task_id
            )


async def _collect(client: AsyncClient, task_id: str, after_seq: int) -> list[Any]:
    return [e async for e in client.events(task_id, after_seq=after_seq)]
