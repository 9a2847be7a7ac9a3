"""Scenario 7 of issue #10: scenario 1 (server SIGKILL and restart at seeded random points,
one remote worker reconnecting by itself) with the tasks on the Ray engine: ``aworld serve
--engine ray`` joins ONE Ray head started for the test session (``ray_head``); the remote tool
``step`` runs on the chaos worker, called from the Ray actors through the control plane.

Ends with the END-STATE CHECK against the fault-free (local engine) run.

SERVER BUGS this test finds (main at 1cf7e1e and again at 90f3900, 2026-12-03), for the
server's owner:

1. A Ray task resumed after a restart is resubmitted as a *first* run: ``Runtime._adopt`` ->
   ``Runtime._submit_job`` builds ``TaskJob(task.id, ...)`` with the default ``attempt=1``
   (python/aworld_server/aworld_server/runtime.py:322), so ``EngineHost._run``
   (engines/host.py, ``if job.attempt == 1: side.store.seed(task_id, 1)``) starts the run
   from seq 2 without replaying the log, and its first event collides with the stored one:
   ``FAILED_PRECONDITION: task T already has a different event at seq 2`` (raised by
   ``EventManager.ingest``, events/manager.py:197). At 1cf7e1e the task then ended FAILED;
   at 90f3900 the error is only logged by the Ray actor ("Future exception was never
   retrieved", from ``ControlPlaneStore._send``, engines/control_plane_store.py:127, in the
   actor's worker-*.err under the Ray temp dir) and the resumed tasks never end: the workload
   stops ("the workload never reached N finished calls"). The old job's actor, still alive
   for a moment after its driver was SIGKILLed (Ray killed it ~30 s later), can collide the
   same way at a later seq ("... at seq 5").
2. One task's failed write fails other tasks: ``ControlPlaneStore.enqueue``
   (engines/control_plane_store.py:79-117) resolves a write of several tasks' events "with
   the first task's error", so tasks sharing a group commit in the same engine worker end
   FAILED with *another* task's error (seen: task s7-707-0 failed with "task <id of
   s7-707-3> already has a different event at seq 2").
3. ``ToolCallStarted`` of a remote tool called from an engine worker names no worker:
   ``ControlPlaneHandlers.invoke`` calls ``on_start("", ...)`` before the control plane has
   chosen one (engines/control_plane_handlers.py:75-76).
"""

from __future__ import annotations

import json

from chaos_harness import ChaosParams, make_chain_tasks, run_kill_scenario
from conftest import Chaos, Reference


async def test_sigkill_and_restart_with_tasks_on_ray(
    chaos: Chaos, reference: Reference, ray_head: str
) -> None:
    params = ChaosParams(tasks=15, calls=5, kills=2, seed=707, engine="ray", prefix="s7")
    tasks, analytic = make_chain_tasks(params)
    local = {rid: make_chain_tasks(params)[0][rid] for rid in tasks}
    for task in local.values():
        task.engine = ""
    expected = await reference.answers(local)
    assert expected == analytic
    server = chaos.new_server(
        "--engine",
        "ray",
        env={
            "AWORLD_RAY_ADDRESS": ray_head,
            "AWORLD_ENGINE_OPTIONS": json.dumps({"ray": {"worker_num": 1}}),
            "RAY_AUTH_MODE": "disabled",
        },
    )
    await server.start()
    await chaos.add_worker(server)

    run = await run_kill_scenario(server, chaos.record(), params, expected, tasks)

    assert run.end.completed == params.tasks
    assert server.starts == params.kills + 1
