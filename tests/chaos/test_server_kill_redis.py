"""Scenario 1 of issue #10 on Redis (issue #13): the server runs with ``--store redis --bus
redis`` and is SIGKILLed at seeded random points of the workload, then restarted on the same
port, data dir and Redis. Redis keeps the log (it is not the process that dies); the bus
streams a killed run left behind must not be handled twice, since the resumed run rebuilds its
messages from the log. Ends with the END-STATE CHECK against the fault-free reference run."""

from __future__ import annotations

from chaos_harness import Chaos, ChaosParams, Reference, make_chain_tasks, run_kill_scenario
from redis_harness import RedisServer, unique_prefix


async def test_sigkill_and_restart_on_redis_loses_nothing_and_duplicates_nothing(
    chaos: Chaos, reference: Reference, redis_server: RedisServer
) -> None:
    params = ChaosParams(tasks=20, calls=5, kills=3, seed=113)
    tasks, analytic = make_chain_tasks(params)
    expected = await reference.answers(tasks)
    assert expected == analytic
    server = chaos.new_server(
        *("--store", "redis", "--bus", "redis", "--redis-url", redis_server.url),
        env={"AWORLD_REDIS_PREFIX": unique_prefix("chaos")},
    )
    await server.start()
    await chaos.add_worker(server)

    run = await run_kill_scenario(server, chaos.record(), params, expected, tasks)

    assert run.end.submitted == run.end.completed == params.tasks
    assert server.starts == params.kills + 1
