"""Scenario 2 of issue #10: SIGTERM with a short grace (``aworld serve --shutdown-grace 1``)
while 20 tasks are in flight, then a restart on the same port and data dir.

All answers must equal the fault-free run's, and no task's log may hold a ToolCallFinished
whose failure (WorkerLost, shutting down, ...) was fed to the agent: a shutdown is the
runtime's business, never a tool's answer (END-STATE CHECK, ``chaos_harness``).
"""

from __future__ import annotations

from chaos_harness import Chaos, ChaosParams, Reference, make_chain_tasks, run_kill_scenario

GRACE = 1.0


async def test_sigterm_with_short_grace_then_restart_feeds_no_failure_to_the_agent(
    chaos: Chaos, reference: Reference
) -> None:
    # Calls of 300-600 ms and SIGTERM at 20-40 % of the calls: the 1 s grace cannot finish
    # the tasks, so runs are stopped mid-task (and some mid-call).
    params = ChaosParams(
        tasks=20,
        calls=5,
        kills=1,
        seed=202,
        delay_ms=(300, 600),
        fault="term",
        window=(0.2, 0.4),
        prefix="s2",
    )
    tasks, analytic = make_chain_tasks(params)
    expected = await reference.answers(tasks)
    assert expected == analytic
    server = chaos.new_server()  # --shutdown-grace 1
    await server.start()
    await chaos.add_worker(server)

    run = await run_kill_scenario(server, chaos.record(), params, expected, tasks)

    assert run.end.completed == params.tasks
    # Stopping honours the grace (plus the time to close streams and the store).
    assert run.shutdowns and run.shutdowns[0] < GRACE + 5, run.shutdowns
    assert server.starts == 2
