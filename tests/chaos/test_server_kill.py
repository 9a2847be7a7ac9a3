"""Scenario 1 of issue #10: the server is SIGKILLed at seeded random points of the workload
and restarted on the same port and data dir; one remote worker (a Python SDK Worker process)
reconnects by itself. N tasks x 5 sequential calls of the idempotent remote tool ``step``.

Ends with the END-STATE CHECK (see ``chaos_harness.check_end_state``) against the fault-free
reference run of the same tasks.
"""

from __future__ import annotations

from aworld_client.event import ToolCallFinished
from chaos_harness import (
    WAIT,
    Chaos,
    ChaosParams,
    Recorder,
    Reference,
    assert_eventually,
    chain_task,
    chaos_client,
    make_chain_tasks,
    read_log,
    run_kill_scenario,
    wait_terminal,
)


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


async def test_a_non_idempotent_call_cut_by_a_crash_fails_typed_and_is_not_rerun(
    chaos: Chaos,
) -> None:
    """The server dies while the non-idempotent ``step_once`` runs on the worker: after the
    restart the call is not run again; the agent sees an ``OutcomeUnknown`` failure."""
    server = chaos.new_server()
    await server.start()
    worker = await chaos.add_worker(server)
    recorder = Recorder(chaos.record())
    task = chain_task("s1-once", 7, calls=1, delay_ms=1500, tool="step_once")

    async with chaos_client(server.address) as client:
        task_id = await client.submit(task, request_id="s1-once")
        await assert_eventually(lambda: recorder.count("start") == 1, timeout=WAIT)
        await server.kill()
        await server.start()
        response = (await wait_terminal(client, [task_id]))[task_id]
        events = await read_log(client, task_id)

    finished = [e.body for e in events if isinstance(e.body, ToolCallFinished)]
    failures = [f.failure.type for f in finished if f.failure is not None and not f.will_retry]
    assert failures == ["OutcomeUnknown"], finished
    assert response.status.is_terminal, response
    # Once the worker is back (so it could have been handed the call again): it ran once.
    await assert_eventually(lambda: len(worker.matches("log connected")) >= 2, timeout=WAIT)
    assert recorder.count("start") == 1, recorder.executions
    assert not server.tracebacks(), server.tracebacks()[0]
