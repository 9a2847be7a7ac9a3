"""Scenario 4 of issue #10: workers that die or freeze mid-call.

* SIGKILL a worker while it runs calls: another worker (and a restarted one, same worker id)
  finishes them; the idempotent tool ran again at most once per call in flight at the kill.
* SIGSTOP a worker past the heartbeat timeout, then SIGCONT: its calls run again elsewhere and
  its late results are fenced (the accepted result of every call is its last attempt's).

Both end with the END-STATE CHECK against the fault-free run (``chaos_harness``).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time

from chaos_harness import (
    WAIT,
    Chaos,
    ChaosParams,
    Follower,
    KillRecord,
    Recorder,
    Reference,
    assert_eventually,
    chaos_client,
    check_end_state,
    in_flight_at,
    make_chain_tasks,
)


async def test_a_worker_killed_mid_call_has_its_calls_finished_by_another(
    chaos: Chaos, reference: Reference
) -> None:
    rng = random.Random(404)
    tasks, _ = make_chain_tasks(
        ChaosParams(tasks=12, calls=3, seed=4041, delay_ms=(300, 600), prefix="s4k")
    )
    expected = await reference.answers(tasks)
    server = chaos.new_server()
    await server.start()
    doomed = await chaos.add_worker(server, "a", "--worker-id", "worker-a")
    await chaos.add_worker(server, "b", "--worker-id", "worker-b")
    record_a = Recorder(chaos.record("a"))

    async with chaos_client(server.address) as client:
        accepted = {rid: await client.submit(t, request_id=rid) for rid, t in tasks.items()}
        followers = [Follower(client, task_id) for task_id in accepted.values()]
        await assert_eventually(
            lambda: len(record_a.in_flight()) >= 2, timeout=WAIT, message="worker a got no calls"
        )
        await asyncio.sleep(rng.uniform(0, 0.1))  # the fault's random point
        await doomed.kill()
        cut = record_a.in_flight()  # started, never done: no result can have reached the server
        killed = KillRecord(time.time(), in_flight_at(time.time(), [record_a], followers))
        # A restarted worker a joins worker b.
        await chaos.add_worker(server, "a2", "--worker-id", "worker-a")
        others = [Recorder(chaos.record("b")), Recorder(chaos.record("a2"))]

        await check_end_state(
            client,
            server,
            accepted=accepted,
            expected=expected,
            recorders=[record_a, *others],
            kills=[killed],
            followers=followers,
        )
        # Every call cut by the kill ran to its end on another worker.
        finished_elsewhere = {e.call for r in others for e in r.refresh() if e.kind == "done"}
        assert cut and cut <= finished_elsewhere, cut - finished_elsewhere


async def test_a_frozen_worker_is_replaced_and_its_late_results_are_fenced(
    chaos: Chaos, reference: Reference
) -> None:
    rng = random.Random(405)
    tasks, _ = make_chain_tasks(
        ChaosParams(tasks=12, calls=3, seed=4051, delay_ms=(300, 600), prefix="s4s")
    )
    expected = await reference.answers(tasks)
    server = chaos.new_server(
        env={"AWORLD_HEARTBEAT_INTERVAL": "0.2", "AWORLD_HEARTBEAT_TIMEOUT": "1"}
    )
    await server.start()
    frozen = await chaos.add_worker(server, "a", "--worker-id", "worker-a")
    await chaos.add_worker(server, "b", "--worker-id", "worker-b")
    record_a, record_b = Recorder(chaos.record("a")), Recorder(chaos.record("b"))

    async with chaos_client(server.address) as client:
        accepted = {rid: await client.submit(t, request_id=rid) for rid, t in tasks.items()}
        followers = [Follower(client, task_id) for task_id in accepted.values()]
        await assert_eventually(
            lambda: len(record_a.in_flight()) >= 2, timeout=WAIT, message="worker a got no calls"
        )
        await asyncio.sleep(rng.uniform(0, 0.1))  # the fault's random point
        frozen.signal(signal.SIGSTOP)
        stopped_at = time.time()
        frozen_calls = record_a.in_flight()  # started, not done: their results are not sent
        assert frozen_calls, "worker a was frozen with no call running"
        try:
            # Past the heartbeat timeout the server gives worker a's calls to worker b.
            await assert_eventually(
                lambda: frozen_calls <= {e.call for e in record_b.refresh()},
                timeout=WAIT,
                message=f"calls of the frozen worker never ran elsewhere: {frozen_calls}",
            )
        finally:
            seen_lines = len(frozen.lines)
            frozen.signal(signal.SIGCONT)

        def settled() -> bool:
            """Thawed, worker a has either sent its stale results (to be fenced) or seen its
            stream end (its calls cancelled)."""
            done = {e.call for e in record_a.refresh() if e.kind == "done"}
            said = "\n".join(frozen.lines[seen_lines:])
            return frozen_calls <= done or any(
                word in said for word in ("ended", "rejected", "connected")
            )

        await assert_eventually(settled, timeout=WAIT, message="worker a never came back")
        # In flight: what it ran when frozen, and what was sent to it meanwhile (started now).
        stopped = KillRecord(
            stopped_at, in_flight_at(stopped_at, [record_a], followers, started_until=time.time())
        )
        await check_end_state(
            client,
            server,
            accepted=accepted,
            expected=expected,
            recorders=[record_a, record_b],
            kills=[stopped],
            followers=followers,
        )
        late = [e for e in record_a.refresh() if e.kind == "done" and e.call in frozen_calls]
        print(
            f"s4s: {len(frozen_calls)} calls frozen; worker a finished {len(late)} late; "
            f"its log: {[line for line in frozen.lines if 'rejected' in line or 'ended' in line]}"
        )
