"""Scenario 1 of issue #10: the server is SIGKILLed at seeded random points of the workload
and restarted on the same port and data dir; one remote worker (a Python SDK Worker process)
reconnects by itself. N tasks x 5 sequential calls of the idempotent remote tool ``step``.

Ends with the END-STATE CHECK (see ``chaos_harness.check_end_state``) against the fault-free
reference run of the same tasks.
"""

from __future__ import annotations

from chaos_harness import ChaosParams, make_chain_tasks, run_kill_scenario
from conftest import Chaos, Reference


async def test_sigkill_and_restart_loses_nothing_and_reruns_only_calls_in_flight(
    chaos: Chaos, reference: Reference
) -> None:
    params = ChaosParams(tasks=30, calls=5, kills=3, seed=101)
    tasks, analytic = make_chain_tasks(params)
    expected = await reference.answers(tasks)
    assert expected == analytic  # the reference run itself is right
    server = chaos.new_server()
    await server.start()
    await chaos.add_worker(server)

    run = await run_kill_scenario(server, chaos.record(), params, expected, tasks)

    assert run.end.submitted == run.end.completed == params.tasks
    assert server.starts == params.kills + 1
