"""Scenario 6 of issue #10: a remote handler that is not connected (yet).

* Right after a restart no worker is connected: tasks resumed from before the SIGKILL and
  tasks submitted now wait for the worker (schedule-to-start) instead of failing, and succeed
  once it connects (END-STATE CHECK against the fault-free run).
* A tool nobody ever declared fails at once with ``ToolNotFound``; a known tool nobody serves
  fails with ``ScheduleToStartTimeout`` after the task's ``schedule_to_start_timeout``.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta

from aworld_client import AgentSpec, Payload, Swarm, Task, TaskConfig
from aworld_client.event import ToolCallFinished
from chaos_harness import (
    FAST_RETRY,
    WAIT,
    Chaos,
    ChaosParams,
    Follower,
    KillRecord,
    Recorder,
    Reference,
    assert_eventually,
    chain_task,
    chaos_client,
    check_end_state,
    in_flight_at,
    make_chain_tasks,
    read_log,
    scripted,
    submit_retrying,
    wait_terminal,
)


async def test_calls_wait_for_a_worker_that_reconnects_after_a_restart(
    chaos: Chaos, reference: Reference
) -> None:
    rng = random.Random(606)
    before, _ = make_chain_tasks(
        ChaosParams(tasks=5, calls=4, seed=6061, delay_ms=(150, 300), prefix="s6-before")
    )
    after, _ = make_chain_tasks(
        ChaosParams(tasks=5, calls=2, seed=6062, delay_ms=(10, 50), prefix="s6-after")
    )
    expected = await reference.answers({**before, **after})
    server = chaos.new_server()
    await server.start()
    worker = await chaos.add_worker(server, "first")
    first = Recorder(chaos.record("first"))

    async with chaos_client(server.address) as client:
        accepted = {rid: await client.submit(t, request_id=rid) for rid, t in before.items()}
        followers = [Follower(client, task_id) for task_id in accepted.values()]
        await assert_eventually(lambda: first.count("done") >= 3, timeout=WAIT)
        # The worker and the server die; the server comes back first.
        await worker.kill()
        await server.kill()
        killed = KillRecord(time.time(), in_flight_at(time.time(), [first], followers))
        await server.start()
        # (The client's channel may still be backing off from the dead server: retry UNAVAILABLE.)
        accepted |= {rid: await submit_retrying(client, t, rid) for rid, t in after.items()}
        # No worker for a while (the fault's length): nothing may fail meanwhile.
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        statuses = {(await client.get(t)).response.status for t in accepted.values()}
        assert not any(s.is_terminal for s in statuses), statuses
        await chaos.add_worker(server, "second")

        await check_end_state(
            client,
            server,
            accepted=accepted,
            expected=expected,
            recorders=[first, Recorder(chaos.record("second"))],
            kills=[killed],
            followers=followers,
        )


def _one_call_task(name: str, tool: str, **fields: object) -> Task:
    script = [
        {"tool_calls": [{"name": tool, "arguments": {"x": 1}}]},
        {"content": "got {last_tool_output}"},
    ]
    agent = AgentSpec(name="caller", tool_names=["step"], model=scripted(script))
    return Task(
        name=name,
        input=Payload.from_text("call"),
        swarm=Swarm(agents=[agent]),
        retry_policy=FAST_RETRY,
        **fields,  # type: ignore[arg-type]
    )


async def test_unknown_tools_fail_at_once_and_unserved_ones_after_schedule_to_start(
    chaos: Chaos,
) -> None:
    # A server no worker ever connected to; calls would wait 30 s by default here.
    server = chaos.new_server("--schedule-to-start-timeout", "30")
    await server.start()
    async with chaos_client(server.address) as client:
        began = time.monotonic()
        ghost = await client.submit(_one_call_task("s6-ghost", "ghost"), request_id="s6-ghost")
        unserved = await client.submit(
            chain_task(
                "s6-unserved",
                1,
                calls=1,
                conf=TaskConfig(schedule_to_start_timeout=timedelta(seconds=1)),
            ),
            request_id="s6-unserved",
        )
        done = await wait_terminal(client, [ghost])
        ghost_seconds = time.monotonic() - began
        done |= await wait_terminal(client, [unserved])
        unserved_seconds = time.monotonic() - began

        failures = {}
        for task_id in (ghost, unserved):
            finished = [
                e.body
                for e in await read_log(client, task_id)
                if isinstance(e.body, ToolCallFinished) and not e.body.will_retry
            ]
            failures[task_id] = [f.failure.type if f.failure else None for f in finished]

    assert failures[ghost] == ["ToolNotFound"], failures
    assert ghost_seconds < 10, ghost_seconds  # at once: not after the 30 s schedule-to-start
    assert failures[unserved] == ["ScheduleToStartTimeout"], failures
    assert 1 <= unserved_seconds < 20, unserved_seconds
    assert done[ghost].status.is_terminal and done[unserved].status.is_terminal
    assert not server.tracebacks(), server.tracebacks()[0]
